// Assemble erofs/lz4.wat into erofs/lz4wasm_module.ts (the module's bytes as base64), with wabt.
// Usage: npx tsx packages/core/scripts/lz4-wasm.ts [--check]   (--check: exit 1 if the file is stale)
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { assembleLz4Wat, LZ4_WASM_MODULE_PATH, lz4WasmModuleSource } from './lz4-wasm-build.ts';

const check = process.argv.includes('--check');
const wanted = lz4WasmModuleSource(await assembleLz4Wat());
const path = fileURLToPath(LZ4_WASM_MODULE_PATH);
const have = readFileSync(path, 'utf8');
if (have === wanted) {
  process.stdout.write(`${path}: up to date\n`);
} else if (check) {
  process.stderr.write(`ishare: ${path} is stale: run npx tsx packages/core/scripts/lz4-wasm.ts\n`);
  process.exit(1);
} else {
  writeFileSync(path, wanted);
  process.stdout.write(`${path}: written\n`);
}
