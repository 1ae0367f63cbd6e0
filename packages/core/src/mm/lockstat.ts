// Lock contention statistics: per lock class, acquisitions / spins / sleeps, kept in a fixed region
// of the arena's control words so that a lock word's own Int32Array reaches them without any
// module state (a thread may hold several arenas, e.g. in tests).
import { LOCKSTAT_BASE, LOCKSTAT_CLASSES } from './regions.ts';

export const LOCK_STAT = { ACQUIRE: 0, SPIN: 1, SLEEP: 2 } as const;
const PER_CLASS = 3;

/** Lock classes: one per kind of lock in the kernel (like lockdep's classes). */
export const LOCK_CLASS = {
  PAGE_INDEX: 0, // page-cache hash bucket (i_pages)
  LRU: 1, // page LRU
  FREE: 2, // free-frame list
  ICACHE: 3, // inode hash bucket
  INODE: 4, // i_lock
  ISHARE: 5, // shared inode's vi->lock (backing + processing lists)
  MOUNT: 6, // mount table
  INODE_LRU: 7, // unused-inode LRU
  SLOTS: 8, // slot pools
  PCLUSTER: 9, // a compressed pcluster being read and decompressed (fs/erofs/zpcluster.ts)
  MEMCG: 10, // the memory-cgroup table (mm/memcontrol.ts: cgroup_mutex)
} as const;
export const LOCK_CLASS_NAMES = [
  'page-index',
  'lru',
  'free-list',
  'icache',
  'i_lock',
  'ishare',
  'mount',
  'inode-lru',
  'slots',
  'pcluster',
  'memcg',
];
if (LOCK_CLASS_NAMES.length > LOCKSTAT_CLASSES) throw new Error('lockstat region too small');

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
