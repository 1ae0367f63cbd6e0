// Where a second worker's CPU goes: fills (drop caches, read every file) or warm passes over the images
// with a pool of 1 and then 2 workers, and per thread of this process the CPU it used (user and system
// time from /proc/self/task/TID/stat), its minor page faults, and lock contention (spins, sleeps) and
// the page-cache counters over the same passes. Threads are named by role: main, the pool's workers (the
// threads that appeared with the pool, with tsx's loader thread when run from source) and other (V8's compiler and GC threads, libuv's). On a busy
// machine wall time says little; what each thread used holds.
// Usage: tsx --conditions=source bench/thread-cpu.ts IMG... (MODE=fill|warm default fill, PASSES=N
// default 10, COPIES=N mounts of each image default 2, SPLIT=BYTES default 1 MiB, SHARE=1 inode_share,
// ORDER=1,2 the pool sizes in turn, WARMUP=N unmeasured passes first, default and at least 3: fills)
import { readdirSync, readFileSync } from 'node:fs';
import { mountCopies } from './copies-system.ts';
import { ReaderPool } from '../packages/workers/src/index.ts';

const images = process.argv.slice(2);
if (images.length === 0) {
  process.stderr.write('usage: tsx --conditions=source bench/thread-cpu.ts IMG... (MODE PASSES COPIES SPLIT SHARE)\n');
  process.exit(2);
}
const mode = process.env.MODE ?? 'fill';
const passes = Number(process.env.PASSES ?? 10);
const copies = Number(process.env.COPIES ?? 2);
const split = Number(process.env.SPLIT ?? 1 << 20);
const share = process.env.SHARE === '1';
const warmup = Math.max(3, Number(process.env.WARMUP ?? 3));
// Sized as the bench sizes its pool: the 3 warm-up fills below then touch every frame once.
const { sys, sets } = mountCopies(images, copies, share);
const tick = 1000 / 100; // ms per clock tick (USER_HZ)

interface Use {
  user: number;
  sys: number;
  faults: number;
}
function snapshot(): Map<string, Use> {
  const m = new Map<string, Use>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const s = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      m.set(tid, { faults: Number(f[7]), user: Number(f[11]) * tick, sys: Number(f[12]) * tick });
    } catch {
      // the thread ended meanwhile
    }
  }
  return m;
}

type Counters = Record<string, number>;
const delta = (a: Counters, b: Counters): Counters =>
  Object.fromEntries(Object.keys(b).flatMap((k) => (b[k] !== a[k] ? [[k, b[k] - a[k]]] : [])));

try {
  for (const workers of (process.env.ORDER ?? '1,2').split(',').map(Number)) {
    const before = new Set(readdirSync('/proc/self/task'));
    const pool = new ReaderPool(sys, { workers });
    for (let i = 0; i < warmup; i++) {
      if (i < 3 || mode === 'fill') sys.dropCaches();
      await pool.readClaimed(sets, { split });
    }
    const mine = new Set(readdirSync('/proc/self/task').filter((t) => !before.has(t)));
    const s0 = sys.stats();
    const u0 = snapshot();
    const t0 = performance.now();
    for (let i = 0; i < passes; i++) {
      if (mode === 'fill') sys.dropCaches();
      const r = await pool.readClaimed(sets, { split });
      if (r.errors.length > 0) throw new Error(r.errors[0]);
    }
    const ms = performance.now() - t0;
    const u1 = snapshot();
    const s1 = sys.stats();
    const role = (tid: string): string => (tid === String(process.pid) ? 'main' : mine.has(tid) ? 'worker' : 'other');
    const rows = [...u1]
      .map(([tid, u]) => {
        const p = u0.get(tid) ?? { user: 0, sys: 0, faults: 0 };
        return { role: role(tid), user: u.user - p.user, sys: u.sys - p.sys, faults: u.faults - p.faults };
      })
      .filter((r) => r.user + r.sys > 0 || r.faults > 0);
    const sum = (r: string, k: keyof Use): number => rows.filter((x) => x.role === r).reduce((n, x) => n + x[k], 0);
    const line = (r: string): string =>
      `${r} ${sum(r, 'user').toFixed(0)}+${sum(r, 'sys').toFixed(0)} ms (${rows.filter((x) => x.role === r).length} threads, ${sum(r, 'faults')} faults)`;
    const locks = s1.locks
      .map((l, i) => ({ name: l.name, spins: l.spins - s0.locks[i].spins, sleeps: l.sleeps - s0.locks[i].sleeps }))
      .filter((l) => l.spins + l.sleeps > 0);
    process.stdout.write(
      `${workers}w ${mode} x${passes}: ${ms.toFixed(0)} ms wall; CPU user+system: ${['worker', 'main', 'other'].map(line).join('; ')}\n` +
        `   lock contention ${JSON.stringify(locks)}; counters ${JSON.stringify(delta(s0.counters, s1.counters))}\n`,
    );
    await pool.destroy();
  }
} finally {
  sys.detach();
}
