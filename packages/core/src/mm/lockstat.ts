// Lock contention statistics: per lock class, acquisitions / spins / sleeps, kept in a fixed region
// of the arena's control words so that a lock word's own Int32Array reaches them without any
// module state (a thread may hold several arenas, e.g. in tests).
//
// Lock classes (like lockdep's) are declared by the layer whose locks they are (declareLockClasses):
// mm's here, vfs's in vfs/locks.ts, the filesystem's in fs/erofs/locks.ts, each importing the one below,
// so every thread numbers them alike (module evaluation runs a module's imports first).
import { LOCKSTAT_BASE, LOCKSTAT_CLASSES } from './regions.ts';

export const LOCK_STAT = { ACQUIRE: 0, SPIN: 1, SLEEP: 2 } as const;
const PER_CLASS = 3;

const classNames: string[] = [];
/** The declared lock classes' names, by class. */
export const LOCK_CLASS_NAMES: readonly string[] = classNames;

/** Declare lock classes (key → the name reports print); returns key → class. */
export function declareLockClasses<const T extends Readonly<Record<string, string>>>(
  decl: T,
): { readonly [K in keyof T]: number } {
  const out: Record<string, number> = {};
  for (const [key, name] of Object.entries(decl)) {
    if (classNames.includes(name)) throw new Error(`lock class ${name} declared twice`);
    if (classNames.length >= LOCKSTAT_CLASSES) throw new Error('lockstat region too small');
    out[key] = classNames.length;
    classNames.push(name);
  }
  return Object.freeze(out) as { readonly [K in keyof T]: number };
}

/** mm's lock classes. */
export const LOCK_CLASS = declareLockClasses({
  LRU: 'lru', // page LRU
  FREE: 'free-list', // free-frame list
  MEMCG: 'memcg', // the memory-cgroup table (mm/memcontrol.ts: cgroup_mutex)
});

/**
 * Counting every acquisition costs a shared atomic per lock taken, which bounces between cores; it is
 * on only where someone reads it (the stress report). Spins and sleeps — contention — are always counted.
 */
let countAcquisitions = false;
export function setCountAcquisitions(on: boolean): void {
  countAcquisitions = on;
}

export function lockStat(i32: Int32Array, cls: number, kind: number): void {
  if (kind === LOCK_STAT.ACQUIRE && !countAcquisitions) return;
  Atomics.add(i32, LOCKSTAT_BASE + cls * PER_CLASS + kind, 1);
}

export interface LockClassStats {
  name: string;
  acquisitions: number;
  spins: number;
  sleeps: number;
}

export function readLockStats(i32: Int32Array): LockClassStats[] {
  return LOCK_CLASS_NAMES.map((name, cls) => ({
    name,
    acquisitions: Atomics.load(i32, LOCKSTAT_BASE + cls * PER_CLASS + LOCK_STAT.ACQUIRE) >>> 0,
    spins: Atomics.load(i32, LOCKSTAT_BASE + cls * PER_CLASS + LOCK_STAT.SPIN) >>> 0,
    sleeps: Atomics.load(i32, LOCKSTAT_BASE + cls * PER_CLASS + LOCK_STAT.SLEEP) >>> 0,
  }));
}

export function resetLockStats(i32: Int32Array): void {
  for (let i = 0; i < LOCKSTAT_CLASSES * PER_CLASS; i++) Atomics.store(i32, LOCKSTAT_BASE + i, 0);
}
export const LOCKSTAT_WORDS = LOCKSTAT_CLASSES * PER_CLASS;
