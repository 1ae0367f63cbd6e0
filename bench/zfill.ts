// In-process fill of images through the kernel model, no workers: every regular file read whole,
// the cache dropped between rounds, MiB per CPU-second per round (CPU time: holds on a busy machine).
// The page pool's frames are written once first, so that rounds measure the data path, not the first
// touch of fresh shared memory (which costs more than the decode: see docs/compressed.md).
// LZ4=wasm,napi,js alternates the lz4 decoders round by round (side by side under the same load), and
// ZSTD=wasm,js the zstd ones (zstddec, fzstd), DEFLATE=handle,sync the raw inflates (a kept zlib handle,
// inflateRawSync).
// Usage: tsx --conditions=source bench/zfill.ts IMG... (ROUNDS=N, default 6; LZ4=LIST, default wasm)
import { System } from '../packages/core/src/index.ts';
import { ErofsImage } from '../packages/core/src/erofs/image.ts';
import type { ErofsInode } from '../packages/core/src/erofs/types.ts';
import { deflateOptions, lz4Options, zstdOptions } from '../packages/core/src/erofs/decompress.ts';

type Lz4Decoder = (typeof lz4Options)['decoder'];
const decoders = (process.env.LZ4 ?? 'wasm').split(',') as Lz4Decoder[];
for (const d of decoders) {
  if (d !== 'wasm' && d !== 'napi' && d !== 'js') {
    process.stderr.write(`ishare: LZ4=${String(d)}: not one of wasm, napi, js\n`);
    process.exit(2);
  }
}

const images = process.argv.slice(2);
if (images.length === 0) {
  process.stderr.write('usage: tsx --conditions=source bench/zfill.ts IMG... (ROUNDS=N)\n');
  process.exit(2);
}
const paths = images.map((p) => {
  const img = ErofsImage.open(p);
  const out: string[] = [];
  const walk = (d: ErofsInode, pre: string): void => {
    for (const e of img.readdir(d)) {
      if (e.name === '.' || e.name === '..') continue;
      const i = img.inode(e.nid);
      if (i.type === 'dir') walk(i, `${pre}/${e.name}`);
      else if (i.type === 'file') out.push(`${pre}/${e.name}`);
    }
  };
  walk(img.root(), '');
  img.close();
  return out;
});
const buf = Buffer.alloc(1 << 20);
const sys = System.create({ poolMiB: 256 });
const a = sys.kernel.a;
for (let f = 0; f < a.frameLimit; f++) a.frameChunk(f).fill(1, a.frameOffset(f), a.frameOffset(f) + 4096);
const mounts = images.map((p) => sys.mount(p).mount);
const rounds = Number(process.env.ROUNDS ?? 6);
type ZstdDecoder = (typeof zstdOptions)['decoder'];
const zdecoders = (process.env.ZSTD ?? 'wasm').split(',') as ZstdDecoder[];
for (const d of zdecoders) {
  if (d !== 'wasm' && d !== 'js') {
    process.stderr.write(`ishare: ZSTD=${String(d)}: not one of wasm, js\n`);
    process.exit(2);
  }
}
type DeflateDecoder = (typeof deflateOptions)['decoder'];
const ddecoders = (process.env.DEFLATE ?? 'handle').split(',') as DeflateDecoder[];
for (const d of ddecoders) {
  if (d !== 'handle' && d !== 'sync') {
    process.stderr.write(`ishare: DEFLATE=${String(d)}: not one of handle, sync\n`);
    process.exit(2);
  }
}
const perDecoder = new Map<string, number[]>();
for (let r = 0; r < rounds; r++) {
  lz4Options.decoder = decoders[r % decoders.length];
  zstdOptions.decoder = zdecoders[r % zdecoders.length];
  deflateOptions.decoder = ddecoders[r % ddecoders.length];
  const decoder = `lz4 ${lz4Options.decoder}, zstd ${zstdOptions.decoder}, deflate ${deflateOptions.decoder}`;
  sys.dropCaches();
  const u0 = process.cpuUsage();
  const t0 = performance.now();
  let bytes = 0;
  images.forEach((_, i) => {
    for (const path of paths[i]) {
      const file = sys.open(mounts[i], path);
      for (let o = 0; ;) {
        const n = sys.read(file, o, buf.length, buf);
        if (n <= 0) break;
        o += n;
        bytes += n;
      }
      sys.close(file);
    }
  });
  const u = process.cpuUsage(u0);
  const mib = bytes / 2 ** 20;
  const rate = mib / ((u.user + u.system) / 1e6);
  // The first round of each decoder pays for mapping and compiling: left out of the medians.
  if (r >= Math.max(decoders.length, zdecoders.length, ddecoders.length))
    perDecoder.set(decoder, [...(perDecoder.get(decoder) ?? []), rate]);
  process.stdout.write(
    `round ${r} (${decoder}): ${mib.toFixed(1)} MiB, ${rate.toFixed(0)} MiB per CPU-second, ` +
      `${(performance.now() - t0).toFixed(0)} ms\n`,
  );
}
for (const [d, xs] of perDecoder) {
  const med = [...xs].sort((x, y) => x - y)[xs.length >> 1];
  process.stdout.write(`${d}: median ${med.toFixed(0)} MiB per CPU-second over ${xs.length} rounds\n`);
}
