// lz4.wat uses WebAssembly SIMD, which V8 compiles only on CPUs with SSE4.1 (x64) or NEON: on a virtual
// CPU without them the module is refused. Then lz4 images must still read right, through lz4.ts. Here a
// preload makes every `new WebAssembly.Module` throw the CompileError such an engine throws, and `ishare
// extract` of an upstream mkfs.erofs -zlz4hc image must write every source file's bytes.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ishare } from './helpers/run.ts';
import { textBytes } from '../../../test/helpers/compress-tree.ts';
import { removeDir, seededBytes, tempDir } from '../../../test/helpers/trees.ts';
import { upstreamTool } from '../../../test/helpers/erofs-utils.ts';

test('lz4 images read right where the engine refuses the WebAssembly decoder', async (t) => {
  const dir = tempDir('ishare-lz4-fallback-');
  try {
    const src = join(dir, 'src');
    mkdirSync(src);
    const files = {
      'text.txt': textBytes(300_000, 7),
      'mixed.bin': Buffer.concat([textBytes(70_000, 8), seededBytes(20_000, 9), textBytes(50_000, 10)]),
      'small.txt': textBytes(3_000, 11),
    };
    for (const [name, bytes] of Object.entries(files)) writeFileSync(join(src, name), bytes);
    const img = join(dir, 'lz4hc.img');
    execFileSync(upstreamTool('mkfs.erofs'), ['-zlz4hc', '-Eztailpacking', '-C65536', img, src], { stdio: 'ignore' });
    const preload = join(dir, 'no-wasm-module.mjs');
    writeFileSync(
      preload,
      "WebAssembly.Module = function () { throw new WebAssembly.CompileError('Wasm SIMD unsupported'); };\n",
    );
    const out = join(dir, 'out');
    const r = await ishare(['extract', img, out], { NODE_OPTIONS: `--import ${preload}` });
    t.is(r.status, 0, r.stderr);
    for (const name of Object.keys(files))
      t.true(readFileSync(join(out, name)).equals(readFileSync(join(src, name))), name);
    // The preload did take: a plain decode through the module is refused in that process.
    const probe = execFileSync(
      process.execPath,
      [
        '--import',
        preload,
        '-e',
        'try { new WebAssembly.Module(new Uint8Array(8)); } catch (e) { console.log(e.name); }',
      ],
      { encoding: 'utf8' },
    );
    t.is(probe.trim(), 'CompileError');
  } finally {
    removeDir(dir);
  }
});
