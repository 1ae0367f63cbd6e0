// The decoders fuzzed directly (fuzz/decoders.ts): lz4.wat vs lz4.ts vs lz4-napi on mutated LZ4 blocks,
// libzstd (WebAssembly) vs fzstd on mutated zstd frames, the kept zlib handle vs inflateRawSync on mutated
// deflate streams, lzma.ts directly (poisoned margins) vs through zDecompress on mutated MicroLZMA
// streams, blocks taken from the images given (every lz4, zstd, deflate and lzma pcluster they map)
// plus LZ4 blocks of seeded data compressed by lz4-napi.
// Usage: npx tsx --conditions=source packages/core/scripts/fuzz-decoders.ts [--count N] [--seed S]
//          [--start I] IMG...
// Exit 1 when any case crashed, touched bytes out of bounds or the decoders disagreed; 2 on bad usage.
import { ErofsImage } from '../src/erofs/image.ts';
import { collectBlocks, fuzzDecoders, syntheticLz4Blocks, type CodecBlock } from '../src/fuzz/decoders.ts';

function fail(msg: string): never {
  process.stderr.write(`ishare: ${msg}\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
let count = 10000;
let seed = 1;
let start = 0;
const images: string[] = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  const num = (): number => {
    const v = args[++i];
    if (v === undefined || !/^\d+$/.test(v)) fail(`${a} needs a non-negative integer`);
    return Number(v);
  };
  if (a === '--count') count = num();
  else if (a === '--seed') seed = num();
  else if (a === '--start') start = num();
  else if (a.startsWith('--')) fail(`unknown option ${a}`);
  else images.push(a);
}

const blocks: CodecBlock[] = [];
for (const path of images) {
  let img: ErofsImage;
  try {
    img = ErofsImage.open(path);
  } catch (e) {
    fail(`${path}: ${(e as Error).message}`);
  }
  try {
    blocks.push(...collectBlocks(img));
  } finally {
    img.close();
  }
}
blocks.push(...syntheticLz4Blocks(seed, 64));
const nOf = (alg: string): number => blocks.filter((b) => b.alg === alg).length;
const r = fuzzDecoders(blocks, { seed, count, start });
const out = [
  `decoder fuzz: ${r.cases} cases, seed ${seed}${start ? ` from ${start}` : ''}, ${blocks.length} blocks (${nOf('lz4')} lz4, ${nOf('zstd')} zstd, ${nOf('deflate')} deflate, ${nOf('lzma')} lzma) from ${images.length} images + lz4-napi, ${(r.elapsedMs / 1000).toFixed(1)} s`,
  `lz4: ${r.lz4.cases} cases, ${r.lz4.sameBytes} same bytes, ${r.lz4.allRefused} all refused (lz4-napi compared on ${r.lz4.napiCompared} whole-block cases)`,
  `zstd: ${r.zstd.cases} cases, ${r.zstd.sameBytes} same bytes, ${r.zstd.allRefused} both refused, ${r.zstd.lenient} refused by libzstd and decoded by fzstd (it misses corruption)`,
  `deflate: ${r.deflate.cases} cases, ${r.deflate.sameBytes} same bytes, ${r.deflate.allRefused} both refused`,
  `lzma: ${r.lzma.cases} cases, ${r.lzma.sameBytes} same bytes, ${r.lzma.allRefused} both refused`,
  `findings: ${r.findings.length}`,
];
for (const f of r.findings.slice(0, 20)) {
  out.push(
    `  #${f.index} ${f.alg} ${f.kind}: ${f.detail} [${f.partial ? 'partial ' : ''}length ${f.length}; ${f.mutations.join(', ')}] input ${f.input.length > 160 ? `${f.input.slice(0, 160)}… (${f.input.length / 2} bytes)` : f.input}`,
  );
}
process.stdout.write(out.join('\n') + '\n');
process.exit(r.findings.length > 0 ? 1 : 0);
