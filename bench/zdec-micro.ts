// Decoder micro-bench for zstd, deflate and lzma (lz4 has bench/lz4-micro.ts): every whole zstd / deflate /
// lzma pcluster of the given images (built by mkfs.erofs -zzstd / -zdeflate / -zlzma) decoded by each
// candidate through zDecompress as the data path calls it (borrowing the decoder's output) — lzma also by
// @napi-rs/lzma, the decoder ours replaced, kept here only for this comparison (a root devDependency):
// the MicroLZMA stream rebuilt as a .lzma file as the data path used to do it — rounds interleaved so that
// machine load hits every candidate alike; prints the median MiB decoded per CPU-second per candidate
// and checks that every candidate returns the same bytes. Set against the fill's MiB per CPU-second
// (bench/zfill.ts), it says how much of a fill is the decoder.
// Usage: tsx --conditions=source bench/zdec-micro.ts IMG... [--rounds N]
import { ErofsImage } from '../packages/core/src/erofs/image.ts';
import { deflateOptions, zDecompress, zstdOptions } from '../packages/core/src/erofs/decompress.ts';
import { Z_ALG } from '../packages/core/src/erofs/format.ts';
import { createRequire } from 'node:module';
import { collectBlocks, type CodecBlock } from '../packages/core/src/fuzz/decoders.ts';

const args = process.argv.slice(2);
let rounds = 9;
const images: string[] = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--rounds') rounds = Number(args[++i]);
  else images.push(args[i]);
}
if (images.length === 0 || !Number.isInteger(rounds) || rounds < 1) {
  process.stderr.write('usage: tsx --conditions=source bench/zdec-micro.ts IMG... [--rounds N]\n');
  process.exit(2);
}
const blocks: CodecBlock[] = [];
let lzmaDict: number | undefined;
for (const p of images) {
  const img = ErofsImage.open(p);
  try {
    blocks.push(...collectBlocks(img).filter((b) => b.alg !== 'lz4'));
    if (lzmaDict === undefined) lzmaDict = img.sb.lzmaDictSize;
  } finally {
    img.close();
  }
}
if (blocks.length === 0) {
  process.stderr.write('ishare: no zstd, deflate or lzma pclusters in these images\n');
  process.exit(2);
}
const total = blocks.reduce((n, b) => n + b.length, 0);
process.stdout.write(`${blocks.length} pclusters, ${(total / 2 ** 20).toFixed(1)} MiB decoded per round\n`);
const out = new Uint8Array(0);

type Candidate = [string, () => void];
const candidates: Candidate[] = [];
const algs = new Set(blocks.map((b) => b.alg));
if (algs.has('zstd')) {
  candidates.push(['zstd: libzstd in WebAssembly (zstdwasm.ts)', () => (zstdOptions.decoder = 'wasm')]);
}
if (algs.has('deflate')) {
  candidates.push(['deflate: kept zlib handle (inflate.ts)', () => (deflateOptions.decoder = 'handle')]);
  candidates.push(['deflate: zlib.inflateRawSync', () => (deflateOptions.decoder = 'sync')]);
}
interface NapiLzma {
  decompressSync(input: Uint8Array): Buffer;
}
let napiLzma: NapiLzma | null = null;
let lzmaWith: 'ours' | 'napi' = 'ours';
if (algs.has('lzma')) {
  candidates.push(['lzma: ours (lzma.ts)', () => (lzmaWith = 'ours')]);
  try {
    napiLzma = (createRequire(import.meta.url)('@napi-rs/lzma') as { lzma: NapiLzma }).lzma;
    candidates.push(['lzma: @napi-rs/lzma (.lzma stream rebuilt)', () => (lzmaWith = 'napi')]);
  } catch {
    process.stdout.write('(@napi-rs/lzma does not load here: ours alone)\n');
  }
}

let lzmaIn = Buffer.allocUnsafe(0);
/**
 * What the data path did before lzma.ts: .lzma header (properties, dictionary size, decoded size), the
 * range coder's zero byte restored, into one reused input buffer (the addon keeps every input alive).
 */
function napiLzmaDecode(lib: NapiLzma, b: CodecBlock): Uint8Array {
  const need = 13 + b.bytes.length;
  if (lzmaIn.length < need) lzmaIn = Buffer.allocUnsafe(Math.max(need, 2 * lzmaIn.length, 65536));
  const stream = lzmaIn.subarray(0, need);
  stream[0] = ~b.bytes[0] & 0xff;
  stream.writeUInt32LE(Math.min(8 << 20, Math.max(4096, b.length)), 1);
  stream.writeUInt32LE(b.length, 5);
  stream.writeUInt32LE(0, 9);
  stream[13] = 0;
  stream.set(b.bytes.subarray(1), 14);
  const out = lib.decompressSync(stream);
  if (out.length !== b.length) throw new Error(`@napi-rs/lzma decoded ${out.length} bytes, expected ${b.length}`);
  return out;
}

const ALG_OF = { zstd: Z_ALG.ZSTD, deflate: Z_ALG.DEFLATE, lzma: Z_ALG.LZMA, lz4: Z_ALG.LZ4 } as const;

function decodeAll(check: Uint8Array[] | null, keep: Uint8Array[] | null): void {
  for (let i = 0; i < blocks.length; i++) {
    const b = blocks[i];
    if (b.alg === 'lzma' && lzmaWith === 'napi' && napiLzma !== null) {
      const full = napiLzmaDecode(napiLzma, b);
      if (keep !== null) keep.push(full.slice());
      if (check !== null && Buffer.compare(full, check[i]) !== 0) throw new Error(`wrong bytes on pcluster ${i}`);
      continue;
    }
    // Decoded whole, nothing copied out (skip = the length): the decoder alone.
    zDecompress({
      alg: ALG_OF[b.alg],
      ...(lzmaDict === undefined ? {} : { lzmaDictSize: lzmaDict }),
      input: b.bytes,
      out,
      decodedLength: b.length,
      skip: b.length,
      interlacedOffset: 0,
      partial: false,
      blockSize: 4096,
      zeroPadding: true,
      nid: 0,
      borrow: true,
    });
    if (check !== null || keep !== null) {
      const full = zDecompress({
        alg: ALG_OF[b.alg],
        ...(lzmaDict === undefined ? {} : { lzmaDictSize: lzmaDict }),
        input: b.bytes,
        out: new Uint8Array(b.length),
        decodedLength: b.length,
        skip: 0,
        interlacedOffset: 0,
        partial: false,
        blockSize: 4096,
        zeroPadding: true,
        nid: 0,
        borrow: true,
      });
      if (keep !== null) keep.push(full.slice());
      if (check !== null && Buffer.compare(full, check[i]) !== 0) throw new Error(`wrong bytes on pcluster ${i}`);
    }
  }
}

const ref: Uint8Array[] = [];
const times: number[][] = candidates.map(() => []);
for (let r = 0; r < rounds; r++) {
  candidates.forEach(([, select], c) => {
    select();
    if (r === 0) decodeAll(c === 0 ? null : ref, c === 0 ? ref : null);
    const t0 = process.cpuUsage();
    decodeAll(null, null);
    const u = process.cpuUsage(t0);
    times[c].push((u.user + u.system) / 1e6);
  });
}
const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[xs.length >> 1];
candidates.forEach(([name], c) => {
  const t = median(times[c]);
  process.stdout.write(
    `${name.padEnd(44)} ${(total / 2 ** 20 / t).toFixed(0).padStart(6)} MiB per CPU-second (median of ${rounds})\n`,
  );
});
