// Paired before/after runs of our cold reads (issue 17): the same script run from two checkouts in turn
// (bench/pair-ab.sh with SCRIPT=pair-cold.ts), each process a few seconds. Cold as the bench means it:
// before each timed pass our dropCaches() and the image files evicted from the kernel's page cache
// (posix_fadvise DONTNEED through the bench's spawn helper, started before the arena so the arena is never
// write-protected by a fork); fill for comparison (the image files in the kernel's cache). Each image path
// is mounted once: give it the copies (separate files, as `pnpm bench` reads). Prints one JSON line: per
// mode the median MiB/s and MiB per CPU-second of the process (all threads, system time included), and
// the median minor page faults per pass.
// Usage: tsx --conditions=source bench/pair-cold.ts IMG... (PASSES=N default 5, SPLIT=BYTES default 1 MiB,
// MODES=cold,fill WORKERS=1,2: what is timed, in that order; FORK=1: see evict)
import { openSync, readdirSync, readFileSync, statSync, writeSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { System } from '../packages/core/src/index.ts';
import { ReaderPool } from '../packages/workers/src/index.ts';
import { runCommand, startSpawner, stopSpawner } from './spawn.ts';

const images = process.argv.slice(2);
if (images.length === 0) {
  process.stderr.write('usage: tsx --conditions=source bench/pair-cold.ts IMG... (PASSES=N SPLIT=BYTES)\n');
  process.exit(2);
}
const passes = Number(process.env.PASSES ?? 5);
const split = Number(process.env.SPLIT ?? 1 << 20);
startSpawner();
const PY_EVICT =
  'import os,sys\nfor p in sys.argv[1:]:\n fd=os.open(p,os.O_RDONLY)\n try: os.posix_fadvise(fd,0,0,os.POSIX_FADV_DONTNEED)\n finally: os.close(fd)\n';
// FORK=1: evict with spawnSync from this process instead (a fork, as the bench did before bench/spawn.ts).
const fork = process.env.FORK === '1';
function evict(): void {
  const r = fork
    ? spawnSync('python3', ['-c', PY_EVICT, ...images], { encoding: 'utf8' })
    : runCommand('python3', ['-c', PY_EVICT, ...images]);
  if (r.status !== 0) throw new Error(`eviction failed: ${r.stderr}`);
}
const dataBytes = images.reduce((n, img) => n + statSync(img).size, 0);
const sys = System.create({
  poolMiB: Math.ceil((dataBytes * 1.25) / 2 ** 20) + 64,
  inodeSlots: 65536,
  mountSlots: 256,
});
const sets = images.map((img) => {
  const { mount } = sys.mount(img);
  return { mount, paths: sys.listFiles(mount).map((f) => f.path) };
});
interface Sample {
  ms: number;
  cpu: number;
  sys: number;
  faults: number;
  blocked: number;
  sleeps: number;
}
/** Per thread of this process: [ns on a CPU, ns runnable but queued (schedstat), voluntary switches]. */
function sched(tids: readonly string[]): [number, number, number][] {
  return tids.map((t) => {
    try {
      const [run, queued] = readFileSync(`/proc/self/task/${t}/schedstat`, 'utf8').split(' ').map(Number);
      const vol = /voluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync(`/proc/self/task/${t}/status`, 'utf8'));
      return [run, queued, Number(vol?.[1] ?? 0)];
    } catch {
      return [0, 0, 0];
    }
  });
}
const tasks = (): string[] => readdirSync('/proc/self/task');
const modes = (process.env.MODES ?? 'cold,fill').split(',');
const sizes = (process.env.WORKERS ?? '1,2').split(',').map(Number);
const res: Record<string, Sample[]> = {};
for (const m of modes) for (const w of sizes) res[`${m}.${w}w`] = [];
// Each pool's worker threads: the threads that appeared with it (piscina starts them with the pool).
const poolTids: string[][] = [];
const pools = sizes.map((workers) => {
  const before = new Set(tasks());
  const p = new ReaderPool(sys, { workers });
  poolTids.push(tasks().filter((t) => !before.has(t)));
  return p;
});
let bytes = 0;
// Unmeasured: every frame touched, both pools warmed up.
for (let i = 0; i < 2; i++)
  for (const p of pools) {
    sys.dropCaches();
    bytes = (await p.readClaimed(sets, { split })).bytes;
  }
// PERF_CTL=FIFO: `perf record -D -1 --control fifo:FIFO` samples the timed passes only.
const ctl = process.env.PERF_CTL ? openSync(process.env.PERF_CTL, 'w') : -1;
async function timed(mode: string, p: ReaderPool, tids: readonly string[]): Promise<void> {
  if (ctl >= 0) writeSync(ctl, 'enable\n');
  const s0 = sched(tids);
  const r0 = process.resourceUsage();
  const t = performance.now();
  const r = await p.readClaimed(sets, { split });
  const ms = performance.now() - t;
  const r1 = process.resourceUsage();
  const s1 = sched(tids);
  if (ctl >= 0) writeSync(ctl, 'disable\n');
  if (r.errors.length > 0) throw new Error(r.errors[0]);
  // Time the pool's threads were neither on a CPU nor queued for one: waiting (for the disk, or a lock).
  let blocked = 0;
  let sleeps = 0;
  for (let i = 0; i < tids.length; i++) {
    blocked += ms - (s1[i][0] - s0[i][0] + s1[i][1] - s0[i][1]) / 1e6;
    sleeps += s1[i][2] - s0[i][2];
  }
  res[mode].push({
    ms,
    cpu: (r1.userCPUTime + r1.systemCPUTime - r0.userCPUTime - r0.systemCPUTime) / 1000,
    sys: (r1.systemCPUTime - r0.systemCPUTime) / 1000,
    faults: r1.minorPageFault - r0.minorPageFault,
    blocked,
    sleeps,
  });
}
for (let r = 0; r < passes; r++)
  for (const [i, p] of pools.entries())
    for (const m of modes) {
      if (m === 'cold') evict();
      sys.dropCaches();
      await timed(`${m}.${sizes[i]}w`, p, poolTids[i]);
    }
const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[xs.length >> 1];
const out: Record<string, number> = {};
const mib = bytes / 2 ** 20;
for (const [k, v] of Object.entries(res)) {
  out[k] = Math.round((mib / (median(v.map((s) => s.ms)) / 1000)) * 10) / 10;
  out[`${k}.cpu`] = Math.round(mib / (median(v.map((s) => s.cpu)) / 1000));
  out[`${k}.sys%`] = Math.round((100 * median(v.map((s) => s.sys))) / median(v.map((s) => s.cpu)));
  out[`${k}.flt`] = median(v.map((s) => s.faults));
  out[`${k}.blockedMs`] = Math.round(median(v.map((s) => s.blocked)));
  out[`${k}.sleeps`] = median(v.map((s) => s.sleeps));
}
console.log(JSON.stringify(out));
for (const p of pools) await p.destroy();
stopSpawner();
process.exit(0);
