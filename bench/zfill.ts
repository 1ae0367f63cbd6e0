// In-process fill of images through the kernel model, no workers: every regular file read whole,
// the cache dropped between rounds, MiB per CPU-second per round (CPU time: holds on a busy machine).
// The page pool's frames are written once first, so that rounds measure the data path, not the first
// touch of fresh shared memory (which costs more than the decode: see docs/compressed.md).
// Usage: tsx --conditions=source bench/zfill.ts IMG... (ROUNDS=N, default 6)
import { System } from '../packages/core/src/index.ts';
import { ErofsImage } from '../packages/core/src/erofs/image.ts';
import type { ErofsInode } from '../packages/core/src/erofs/types.ts';

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
for (let r = 0; r < rounds; r++) {
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
  process.stdout.write(
    `round ${r}: ${mib.toFixed(1)} MiB, ${(mib / ((u.user + u.system) / 1e6)).toFixed(0)} MiB per CPU-second, ` +
      `${(performance.now() - t0).toFixed(0)} ms\n`,
  );
}
