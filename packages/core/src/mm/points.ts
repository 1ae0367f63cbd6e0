// Named race-window points: places in the core where interleavings matter. Each thread records the last
// point it passed (hang reports) and, with jitter on (the stress harness's `--jitter`), sometimes sleeps
// or spins there to widen the window. Behind one module-level boolean: when not stressing, a point costs
// a single predictable branch (`if (pointsOn) point(...)`). This module owns the THREADS region.
import type { Arena } from './arena.ts';
import { THREADS_BASE, MAX_THREADS, THREAD_WORDS } from './regions.ts';

const pointNames: string[] = [];
/** Every declared point's name, by number (hang reports name each thread's last point). */
export const POINT_NAMES: readonly string[] = pointNames;

/**
 * Declare named points (key → number; the key is the name reports print). Each layer declares its own —
 * mm's below, vfs's in vfs/points.ts, the filesystem's in fs/erofs/points.ts, each importing the one
 * below it — so every thread numbers them alike (module evaluation runs a module's imports first).
 */
export function declarePoints<const T extends readonly string[]>(keys: T): { readonly [K in T[number]]: number } {
  const out: Record<string, number> = {};
  for (const key of keys) {
    if (pointNames.includes(key)) throw new Error(`point ${key} declared twice`);
    out[key] = pointNames.length;
    pointNames.push(key);
  }
  return Object.freeze(out) as { readonly [K in T[number]]: number };
}

/** mm's named points: none (0), and the memory cgroups' (mm/memcontrol.ts). */
export const POINT = declarePoints([
  'NONE',
  'MEMCG_MOVE', // a page's charge about to move to another cgroup (reparent, recharge)
  'MEMCG_COMMIT', // a new page's charge about to be committed to its cgroup
]);

/** True while points are live in this thread (jitter or any check on). */
export let pointsOn = false;
let jitterP = 0; // probability per point in 1/65536
let rng = 0x12345678;
let threadSlot = -1;
let pointArena: Arena | undefined;
const sab = new Int32Array(new SharedArrayBuffer(4));

/**
 * Configure this thread's points: `jitter` in 1/65536 per point, seeded per thread; `on` whether points
 * are recorded at all.
 */
export function pointsConfigure(a: Arena, threadId: number, on: boolean, jitter: number, seed: number): void {
  jitterP = jitter;
  rng = (seed ^ Math.imul(threadId + 1, 0x9e3779b1)) | 1;
  threadSlot = threadId < MAX_THREADS ? threadId : -1;
  pointArena = a;
  pointsOn = on;
}

/** Change the jitter and whether points are live, keeping this thread's random sequence. */
export function pointsRefresh(on: boolean, jitter: number): void {
  jitterP = jitter;
  pointsOn = on;
}

function nextRand(): number {
  rng ^= rng << 13;
  rng ^= rng >>> 17;
  rng ^= rng << 5;
  return rng >>> 0;
}

/**
 * A named point: record it, and with jitter on, sometimes sleep briefly or spin to widen the window.
 * `borrowed`: the thread holds a reference it borrowed through a shared inode (an inode it did not open,
 * maybe another image's) and no spinlock. A kernel thread there can be preempted for a scheduler slice,
 * so there the jitter is always a sleep of 1-8 ms — long enough for another thread to evict or unmount
 * what the reference points into — where elsewhere it sleeps 0.05-0.8 ms or spins.
 */
export function point(p: number, borrowed = false): void {
  if (threadSlot >= 0 && pointArena) Atomics.store(pointArena.i32, THREADS_BASE + threadSlot * THREAD_WORDS, p);
  if (jitterP === 0) return;
  const r = nextRand();
  if ((r & 0xffff) >= jitterP) return;
  if (borrowed) {
    Atomics.wait(sab, 0, 0, 1 + ((r >>> 17) & 7)); // preempted
  } else if (r & 0x10000) {
    Atomics.wait(sab, 0, 0, ((r >>> 17) & 3) * 0.25 + 0.05); // a short sleep: the OS schedules others
  } else {
    let x = 0;
    for (let i = (r >>> 17) & 0x3ff; i > 0; i--) x += i;
    if (x < 0) sab[0] = x;
  }
}

/** Every thread's last named point (for hang reports). */
export function lastPoints(a: Arena, nthreads: number): string[] {
  const out: string[] = [];
  for (let t = 0; t < Math.min(nthreads, MAX_THREADS); t++)
    out.push(POINT_NAMES[Atomics.load(a.i32, THREADS_BASE + t * THREAD_WORDS)] ?? '?');
  return out;
}
