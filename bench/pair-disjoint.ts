// What inode_share costs on images with nothing in common, in one process: the images mounted COPIES
// times without sharing and COPIES times with it (each copy in a `domain_id` of its own, as the bench's
// disjoint-share family), then PASSES rounds of: fill (drop caches, read every regular file once) of
// each family with a pool of 1 and of 2 workers, the two families in alternating order, then warm (3
// passes). Prints one JSON line: per family and pool size the median MiB/s, and `ratio.*` = shared /
// unshared of the medians ×1000 (so that bench/pair-ab.sh's B/A of it reads as a change of the ratio);
// `cpu.*` the median process CPU (all threads) of a fill in ms and `cpuratio.*` unshared / shared of
// those ×1000 (> 1000: sharing costs less CPU), the figure that holds on a busy machine.
// Run it through bench/pair-ab.sh (SCRIPT=pair-disjoint.ts) with the bench's derived (disjoint) images.
// MAIN=1: the main thread fills instead of the pools (for --cpu-prof). FAM=d or ds: that family only (with
// --cpu-prof, so that a profile — of the main thread or of each worker — holds one family's fills).
// SPLIT=BYTES (default 0: whole files): the pools read a file bigger than that in stripes, as `pnpm bench`
// does with its default --split 1 MiB (SPLIT=1048576 reads as the bench's disjoint rows do).
// PERFILE=1: where the difference is, per file, on the main thread: process CPU per file (ns) of opening
// and closing every file (`open.*`), of also reading its first page (`first.*`) and of reading it whole
// (`whole.*`), each pass after drop_caches, the families in alternating order, PASSES passes (use 15 or
// more); `*.diff` is the median over the passes of shared minus unshared.
// Usage: tsx --conditions=source bench/pair-disjoint.ts IMG... (COPIES=N default 6, PASSES=N default 5,
// WARM=N warm passes after each timed fill, default 3; 0: fills only, for perf record)
// WINDOWS=1: each timed fill's start and end on stderr (`window FAM.fill.Nw T0 T1`, CLOCK_MONOTONIC ns, as
// `perf record -k CLOCK_MONOTONIC` stamps its samples), so that a profile's samples can be split by fill.
// STREAM=1: each fill (and each PERFILE pass) starts cache-cold, after a pass reading the images through
// the kernel, as `pnpm bench`'s fills do. INODES=N: the arena's inode slots (default 65536; the bench has 4x).
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { System } from '../packages/core/src/index.ts';
import { ReaderPool } from '../packages/workers/src/index.ts';

const images = process.argv.slice(2);
if (images.length === 0) {
  process.stderr.write(
    'usage: tsx --conditions=source bench/pair-disjoint.ts IMG... (COPIES=N PASSES=N MAIN=1 STREAM=1 INODES=N)\n',
  );
  process.exit(2);
}
const copies = Number(process.env.COPIES ?? 6);
const passes = Number(process.env.PASSES ?? 5);
const main = process.env.MAIN === '1';
const perFile = process.env.PERFILE === '1';
const only = process.env.FAM; // d or ds: only that family
const split = Number(process.env.SPLIT ?? 0);
const warmRounds = Number(process.env.WARM ?? 3); // WARM=0: fills only (for perf record)
if (!Number.isInteger(warmRounds) || warmRounds < 0) {
  process.stderr.write(`pair-disjoint: WARM must be a whole number of passes (0 or more), not ${process.env.WARM}\n`);
  process.exit(2);
}
const dataBytes = images.reduce((n, img) => n + statSync(img).size, 0) * copies;
const sys = System.create({
  poolMiB: Math.ceil((dataBytes * 1.25) / 2 ** 20) + 64,
  inodeSlots: Number(process.env.INODES ?? 65536),
  mountSlots: 256,
});
type Sets = { mount: number; paths: string[] }[];
const fams: Record<'d' | 'ds', Sets> = { d: [], ds: [] };
for (const share of [false, true])
  for (let c = 0; c < copies; c++)
    for (const img of images) {
      const r = sys.mount(img, share ? { inodeShare: true, domainId: `c${c}` } : {});
      if (share && !r.shareActive) throw new Error(`${img}: inode_share not active`);
      (share ? fams.ds : fams.d).push({ mount: r.mount, paths: sys.listFiles(r.mount).map((f) => f.path) });
    }
const buf = Buffer.alloc(128 << 10);
// STREAM=1: after each drop_caches, read every image file through the kernel (a pread pass into one
// buffer), as `pnpm bench` does before each fill to keep the images in the kernel's cache: that pass
// also leaves the CPU's caches holding nothing of ours, so a fill starts cold, as the bench's do.
const stream = process.env.STREAM === '1';
function streamImages(): void {
  if (!stream) return;
  for (const img of images) {
    const fd = openSync(img, 'r');
    try {
      for (let pos = 0; ;) {
        const n = readSync(fd, buf, 0, buf.length, pos);
        if (n === 0) break;
        pos += n;
      }
    } finally {
      closeSync(fd);
    }
  }
}
function mainRead(sets: Sets): number {
  let bytes = 0;
  for (const s of sets)
    for (const p of s.paths) {
      const f = sys.open(s.mount, p);
      try {
        for (let pos = 0; pos < f.size;) {
          const n = sys.read(f, pos, buf.length, buf, 0);
          if (n === 0) break;
          pos += n;
        }
        bytes += f.size;
      } finally {
        sys.close(f);
      }
    }
  return bytes;
}
const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[xs.length >> 1];
if (perFile) {
  const nfiles = fams.d.reduce((n, s) => n + s.paths.length, 0);
  const modes = ['open', 'first', 'whole'] as const;
  // CPU ns per file of one pass over a family after drop_caches.
  const pass = (sets: Sets, mode: (typeof modes)[number]): number => {
    sys.dropCaches();
    for (let k = 0; k < copies; k++) streamImages();
    const c0 = process.cpuUsage();
    if (mode === 'whole') mainRead(sets);
    else
      for (const s of sets)
        for (const p of s.paths) {
          const f = sys.open(s.mount, p);
          if (mode === 'first') sys.read(f, 0, 4096, buf, 0);
          sys.close(f);
        }
    const c = process.cpuUsage(c0);
    return ((c.user + c.system) * 1000) / nfiles;
  };
  const per: Record<string, number[]> = {};
  for (let r = -2; r < passes; r++)
    for (const mode of modes)
      for (const fam of r % 2 === 0 ? (['d', 'ds'] as const) : (['ds', 'd'] as const)) {
        const ns = pass(fams[fam], mode);
        if (r >= 0) (per[`${mode}.${fam}`] ??= []).push(ns);
      }
  const out: Record<string, number> = {};
  for (const mode of modes) {
    out[`${mode}.d`] = Math.round(median(per[`${mode}.d`]));
    out[`${mode}.ds`] = Math.round(median(per[`${mode}.ds`]));
    out[`${mode}.diff`] = Math.round(median(per[`${mode}.ds`].map((v, i) => v - per[`${mode}.d`][i])));
  }
  console.log(JSON.stringify(out));
  process.exit(0);
}
const res: Record<string, number[]> = {};
const push = (k: string, v: number): void => {
  (res[k] ??= []).push(v);
};
// Process CPU (all threads) of a fill, in ms: the figure that holds on a busy machine.
const cpuMs: Record<string, number[]> = {};
const cpu = (k: string, c0: NodeJS.CpuUsage): void => {
  const c = process.cpuUsage(c0);
  (cpuMs[k] ??= []).push((c.user + c.system) / 1000);
};
let bytes = 0;
if (main) {
  for (let i = 0; i < 3; i++)
    for (const fam of ['d', 'ds'] as const) {
      if (only !== undefined && fam !== only) continue;
      sys.dropCaches();
      bytes = mainRead(fams[fam]);
    }
  for (let r = 0; r < passes; r++)
    for (const fam of r % 2 === 0 ? (['d', 'ds'] as const) : (['ds', 'd'] as const)) {
      if (only !== undefined && fam !== only) continue;
      sys.dropCaches();
      for (let k = 0; k < copies; k++) streamImages();
      const c = process.cpuUsage();
      const t = performance.now();
      mainRead(fams[fam]);
      push(`${fam}.fill.main`, performance.now() - t);
      cpu(`${fam}.fill.main`, c);
    }
} else {
  const pools = [new ReaderPool(sys, { workers: 1 }), new ReaderPool(sys, { workers: 2 })];
  for (let i = 0; i < 3; i++)
    for (const p of pools)
      for (const fam of ['d', 'ds'] as const) {
        if (only !== undefined && fam !== only) continue;
        sys.dropCaches();
        bytes = (await p.readClaimed(fams[fam], { split })).bytes;
        await p.readClaimed(fams[fam], { split });
      }
  for (let r = 0; r < passes; r++)
    for (const [w, p] of pools.entries())
      for (const fam of r % 2 === 0 ? (['d', 'ds'] as const) : (['ds', 'd'] as const)) {
        if (only !== undefined && fam !== only) continue;
        sys.dropCaches();
        for (let k = 0; k < copies; k++) streamImages();
        const c = process.cpuUsage();
        const h0 = process.hrtime.bigint();
        let t = performance.now();
        await p.readClaimed(fams[fam], { split });
        push(`${fam}.fill.${w + 1}w`, performance.now() - t);
        if (process.env.WINDOWS === '1')
          process.stderr.write(`window ${fam}.fill.${w + 1}w ${h0} ${process.hrtime.bigint()}\n`);
        cpu(`${fam}.fill.${w + 1}w`, c);
        if (warmRounds === 0) continue;
        t = performance.now();
        for (let k = 0; k < warmRounds; k++) await p.readClaimed(fams[fam], { split });
        push(`${fam}.warm.${w + 1}w`, (performance.now() - t) / warmRounds);
      }
  for (const p of pools) await p.destroy();
}
const out: Record<string, number> = {};
for (const [k, v] of Object.entries(res)) out[k] = Math.round((bytes / 2 ** 20 / (median(v) / 1000)) * 10) / 10;
for (const k of Object.keys(out))
  if (k.startsWith('d.') && out[`ds.${k.slice(2)}`] !== undefined)
    out[`ratio.${k.slice(2)}`] = Math.round((out[`ds.${k.slice(2)}`] / out[k]) * 1000);
for (const [k, v] of Object.entries(cpuMs)) out[`cpu.${k}`] = Math.round(median(v) * 10) / 10;
for (const k of Object.keys(cpuMs))
  if (k.startsWith('d.') && cpuMs[`ds.${k.slice(2)}`] !== undefined)
    out[`cpuratio.${k.slice(2)}`] = Math.round((out[`cpu.${k}`] / out[`cpu.ds.${k.slice(2)}`]) * 1000);
console.log(JSON.stringify(out));
process.exit(0);
