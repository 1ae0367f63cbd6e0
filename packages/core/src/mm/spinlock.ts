// Spinlock = one Int32 word in the arena (DESIGN.md "Shared memory rules").
// States: 0 free, 1 held, 2 held with (possible) sleepers. Take with CAS 0→1; after a bounded spin,
// mark the word contended (2) and sleep on it with Atomics.wait — the futex-based mutex of Drepper's
// "Futexes Are Tricky", so an uncontended unlock costs one atomic and no notify.
import { lockStat, LOCK_STAT } from './lockstat.ts';
import { lockdepOn, lockdepAcquired, lockdepReleased } from './lockdep.ts';

const SPIN_LIMIT = 100;

/** Acquire the lock word `idx` of `i32`; `cls` is the lock class for contention statistics. */
export function spinLock(i32: Int32Array, idx: number, cls: number): void {
  let c = Atomics.compareExchange(i32, idx, 0, 1);
  if (c === 0) {
    lockStat(i32, cls, LOCK_STAT.ACQUIRE);
    if (lockdepOn) lockdepAcquired(i32, idx);
    return;
  }
  let spins = 0;
  while (spins < SPIN_LIMIT) {
    spins++;
    c = Atomics.compareExchange(i32, idx, 0, 1);
    if (c === 0) {
      lockStat(i32, cls, LOCK_STAT.ACQUIRE);
      lockStat(i32, cls, LOCK_STAT.SPIN);
      if (lockdepOn) lockdepAcquired(i32, idx);
      return;
    }
  }
  lockStat(i32, cls, LOCK_STAT.SPIN);
  // Contended: announce a sleeper (2) and sleep until the holder hands the word back.
  if (c !== 2) c = Atomics.exchange(i32, idx, 2);
  while (c !== 0) {
    lockStat(i32, cls, LOCK_STAT.SLEEP);
    Atomics.wait(i32, idx, 2, 50);
    c = Atomics.exchange(i32, idx, 2);
  }
  lockStat(i32, cls, LOCK_STAT.ACQUIRE);
  if (lockdepOn) lockdepAcquired(i32, idx);
}

export function spinTryLock(i32: Int32Array, idx: number, cls: number): boolean {
  if (Atomics.compareExchange(i32, idx, 0, 1) === 0) {
    lockStat(i32, cls, LOCK_STAT.ACQUIRE);
    if (lockdepOn) lockdepAcquired(i32, idx);
    return true;
  }
  return false;
}

export function spinUnlock(i32: Int32Array, idx: number): void {
  if (lockdepOn) lockdepReleased(i32, idx);
  // 1 → 0 means nobody slept; 2 → 0 means someone may be sleeping: wake one.
  if (Atomics.sub(i32, idx, 1) !== 1) {
    Atomics.store(i32, idx, 0);
    Atomics.notify(i32, idx, 1);
  }
}

export function spinIsLocked(i32: Int32Array, idx: number): boolean {
  return Atomics.load(i32, idx) !== 0;
}
