// The in-flight pcluster table (the kernel's managed pcluster lookup, reduced): a compressed pcluster
// is read and decompressed by one thread at a time. A reader that needs a pcluster another thread is
// decompressing sleeps on its lock word and, once it gets it, finds the pages that thread filled —
// rather than reading and decompressing the same pcluster a second time. Locks are striped: one word
// per hash bucket of (mount, pcluster address) in the arena region this module declares ('erofs.zpcl',
// mm/arena.ts declareRegion); nothing else computes its offsets.
//
// Lock order: page lock → pcluster lock. A holder of a pcluster lock never waits for a page lock or for
// another pcluster lock (frames are allocated before the lock is taken), so the order cannot invert.
import { declareRegion, type Arena } from '../../mm/arena.ts';
import { spinLock, spinTryLock, spinUnlock } from '../../mm/spinlock.ts';
import { LOCK_CLASS } from './locks.ts';
import { ctrInc, CTR } from './counters.ts';

const ZPCL_WORDS = 256;
if ((ZPCL_WORDS & (ZPCL_WORDS - 1)) !== 0) throw new Error('pcluster stripes must be a power of two');
declareRegion('erofs.zpcl', () => ZPCL_WORDS);

// The region's base in the last arena asked about (resolved once per arena, not per lock).
let baseArena: Arena | undefined;
let base = 0;
function zpclBase(a: Arena): number {
  if (a !== baseArena) {
    base = a.region('erofs.zpcl');
    baseArena = a;
  }
  return base;
}

/** Word index of the stripe lock for pcluster `key` of mount `m`. */
export function zpclWord(a: Arena, m: number, key: number): number {
  // Mix the mount and both halves of the address (keys reach past 2^32).
  let h =
    Math.imul(m + 1, 0x9e3779b1) ^ Math.imul(key >>> 0, 0x85ebca6b) ^ Math.imul(Math.floor(key / 2 ** 32), 0xc2b2ae35);
  h ^= h >>> 15;
  return zpclBase(a) + (h & (ZPCL_WORDS - 1));
}

/** Take the pcluster lock; returns true when another thread held it (this one waited). */
export function zpclLock(a: Arena, word: number): boolean {
  if (spinTryLock(a.i32, word, LOCK_CLASS.PCLUSTER)) return false;
  ctrInc(a.i32, CTR.Z_PCLUSTER_WAITS);
  spinLock(a.i32, word, LOCK_CLASS.PCLUSTER);
  return true;
}

export function zpclUnlock(a: Arena, word: number): void {
  spinUnlock(a.i32, word);
}

/** Invariant checks: no pcluster lock may be held at quiescence. */
export function zpclHeld(a: Arena): number {
  const b = zpclBase(a);
  let n = 0;
  for (let i = 0; i < ZPCL_WORDS; i++) if (Atomics.load(a.i32, b + i) !== 0) n++;
  return n;
}
