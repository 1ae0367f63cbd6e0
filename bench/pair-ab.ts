// Paired before/after runs of our fill and warm reads: the same script run from two checkouts in turn
// (bench/pair-ab.sh), each process a few seconds, so that both see the same machine drift; compare the
// per-pair ratios, not runs minutes apart (this VM's bare memory copy moved 28% between two full bench
// runs of identical code). Each process mounts the images COPIES times, does 3 unmeasured fill + warm
// rounds with a pool of 1 and one of 2 workers, then PASSES rounds of: fill (drop caches, read every
// regular file once), warm (3 passes over the cached data), 1 worker then 2. Prints one JSON line of
// median MiB/s per mode, and MiB per CPU-second of the process (every thread) per mode (keys `MODE/cpu`:
// on a busy machine they hold where MiB/s does not), and `warm.2w/1w`, this process's warm 2 workers / 1
// (ratio of the median pass times). Only the System and ReaderPool APIs of every version
// since 2026-11-29 are used.
// Usage: tsx --conditions=source bench/pair-ab.ts IMG... (COPIES=N default 6, PASSES=N default 5,
// SPLIT=BYTES default 0: whole files; `pnpm bench` reads with --split 1 MiB, so SPLIT=1048576 reads as it does)
import { statSync } from 'node:fs';
import { System } from '../packages/core/src/index.ts';
import { ReaderPool } from '../packages/workers/src/index.ts';

const images = process.argv.slice(2);
if (images.length === 0) {
  process.stderr.write('usage: tsx --conditions=source bench/pair-ab.ts IMG... (COPIES=N PASSES=N)\n');
  process.exit(2);
}
const copies = Number(process.env.COPIES ?? 6);
const passes = Number(process.env.PASSES ?? 5);
const split = Number(process.env.SPLIT ?? 0);
const warmRounds = 3;
const dataBytes = images.reduce((n, img) => n + statSync(img).size, 0) * copies;
const sys = System.create({
  poolMiB: Math.ceil((dataBytes * 1.25) / 2 ** 20) + 64,
  inodeSlots: 65536,
  mountSlots: 256,
});
const sets: { mount: number; paths: string[] }[] = [];
for (let c = 0; c < copies; c++)
  for (const img of images) {
    const { mount } = sys.mount(img);
    sets.push({ mount, paths: sys.listFiles(mount).map((f) => f.path) });
  }
const res: Record<string, number[]> = { 'fill.1w': [], 'warm.1w': [], 'fill.2w': [], 'warm.2w': [] };
const cpu: Record<string, number[]> = { 'fill.1w': [], 'warm.1w': [], 'fill.2w': [], 'warm.2w': [] };
const cpuMs = (c: NodeJS.CpuUsage): number => (c.user + c.system) / 1000;
const pools = [new ReaderPool(sys, { workers: 1 }), new ReaderPool(sys, { workers: 2 })];
let bytes = 0;
for (let i = 0; i < 3; i++)
  for (const p of pools) {
    sys.dropCaches();
    bytes = (await p.readClaimed(sets, { split })).bytes;
    await p.readClaimed(sets, { split });
  }
for (let r = 0; r < passes; r++)
  for (const [w, p] of pools.entries()) {
    sys.dropCaches();
    let t = performance.now();
    let c = process.cpuUsage();
    await p.readClaimed(sets, { split });
    res[`fill.${w + 1}w`].push(performance.now() - t);
    cpu[`fill.${w + 1}w`].push(cpuMs(process.cpuUsage(c)));
    t = performance.now();
    c = process.cpuUsage();
    for (let k = 0; k < warmRounds; k++) await p.readClaimed(sets, { split });
    res[`warm.${w + 1}w`].push((performance.now() - t) / warmRounds);
    cpu[`warm.${w + 1}w`].push(cpuMs(process.cpuUsage(c)) / warmRounds);
  }
const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[xs.length >> 1];
const out: Record<string, number> = {};
for (const [k, v] of Object.entries(res)) out[k] = Math.round((bytes / 2 ** 20 / (median(v) / 1000)) * 10) / 10;
// MiB per CPU-second of the whole process (the bench's per-CPU figure), keys ending in `/cpu`.
for (const [k, v] of Object.entries(cpu))
  out[`${k}/cpu`] = Math.round((bytes / 2 ** 20 / (median(v) / 1000)) * 10) / 10;
// Within this process, warm 2 workers / 1 (the bench's scaling target): the ratio of the medians.
out['warm.2w/1w'] = Math.round((median(res['warm.1w']) / median(res['warm.2w'])) * 1000) / 1000;
console.log(JSON.stringify(out));
for (const p of pools) await p.destroy();
process.exit(0);
