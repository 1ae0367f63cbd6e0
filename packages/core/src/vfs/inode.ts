// The inode table and inode cache (fs/inode.c): records in the arena, hashed by (mount, nid) — or by a
// key for shared inodes (iget5_locked) — with i_count, i_state, igrab/iput and eviction.
//
// Lifetime (as the kernel's): iget finds or creates (I_NEW until filled); iput drops i_count; at zero an
// inode stays cached, unused, on the inode LRU with its pages, until memory pressure, drop-caches or
// unmount evicts it. igrab refuses an inode being freed (I_FREEING). Eviction marks I_FREEING under
// i_lock (only at i_count 0), unhashes it, lets the filesystem detach it (evictInode), truncates its
// pages and frees the slot.
//
// Lock order: icache bucket → i_lock; ishare lock → i_lock (igrab under the shared inode's lock);
// inode LRU lock → i_lock. i_lock is innermost; nothing is taken while holding it.
import { declareCount, declareRegion, pow2AtLeast, type Arena } from '../mm/arena.ts';
import { spinLock, spinUnlock } from '../mm/spinlock.ts';
import {
  listSpec,
  listAdd,
  listDel,
  listInitHead,
  linkInit,
  isLinked,
  listLast,
  NIL,
  type ListSpec,
} from '../mm/list.ts';
import { ctrInc, CTR } from './counters.ts';
import { lockdepOn, lockdepAccess } from '../mm/lockdep.ts';
import { LOCK_CLASS, PROT, SITE } from './locks.ts';
import { VfsError } from './errno.ts';
import { mountGen } from './mount.ts';
import { invariantsOn, InvariantViolation } from '../mm/checkfail.ts';
import { pointsOn, point } from '../mm/points.ts';
import { POINT } from './points.ts';

// Record words.
const I_LOCK = 0; // i_lock
const I_STATE = 1;
const I_COUNT = 2;
const I_MOUNT = 3; // mount slot, or ANON_MOUNT for shared inodes
const I_NID = 4; // nid (regular) or key hash (shared)
const I_SIZE_LO = 5;
const I_SIZE_HI = 6;
const I_HASH_NEXT = 7; // icache chain; free-slot link when free
const I_LRU_PREV = 8;
const I_LRU_NEXT = 9;
const I_MAPLOCK = 10; // address space: lock of the per-mapping page list
const I_MAP_HEAD = 11; // 2 words: first, last
const I_NRPAGES = 13;
const I_OPEN = 14; // open files on this inode
const I_GEN = 15; // bumped at each reuse of the slot
const I_MOUNT_GEN = 16; // the mount slot's generation when the inode was created (a remount bumps it)
/** First word of the filesystem-private part (EROFS_I), owned by fs/erofs. */
export const I_FS = 17;
export const I_FS_WORDS = 32;
export const INODE_WORDS = I_FS + I_FS_WORDS;

export const ICACHE_BUCKET_WORDS = 2; // lock, head
export const INODE_POOL_WORDS = 5; // lock, top, free count, used count, high-water mark
export const INODE_LRU_WORDS = 4; // lock, first, last, count
const POOL_LOCK = 0;
const POOL_TOP = 1;
const POOL_FREE = 2;
const POOL_USED = 3;
const POOL_HWM = 4; // one past the highest slot ever handed out: walks over every inode stop there
const ILRU_LOCK = 0;
const ILRU_HEAD = 1;
const ILRU_COUNT = 3;

// i_state bits.
export const I_NEW = 1;
export const I_FREEING = 2;
export const I_CLEAR = 4;
export const I_ANON = 8; // an inode of the anonymous superblock (ANON_MOUNT), on no mounted image
export const I_INUSE = 16; // slot allocated
export const I_ONLRU = 32;
/**
 * Someone sleeps (or is about to) on this state word for I_NEW or I_INUSE to clear: the waker notifies
 * only then (wake_up_var after waitqueue_active). Set only while a bit it waits for is set; cleared by the
 * wake-up that notifies (which wakes every sleeper: those who still need to wait set it again).
 */
export const I_WAITERS = 64;

// The inode cache's arena regions, declared here (mm/ knows none of them): the inode slots (the
// `inodeSlots` setting of the arena's configuration, 4..16M) and their hash buckets, the records, the
// buckets, the slot pool head and the unused-inode LRU head.
declareCount('ninodes', (cfg) => {
  const n = cfg.inodeSlots;
  if (!(n >= 4 && n <= 1 << 24)) throw new RangeError('inode slots out of range (4..16M)');
  return n;
});
declareCount('ninodeBuckets', (_cfg, c) => pow2AtLeast(c.ninodes));
declareRegion('vfs.inodes', (c) => c.ninodes * INODE_WORDS);
declareRegion('vfs.inodeBuckets', (c) => c.ninodeBuckets * ICACHE_BUCKET_WORDS);
declareRegion('vfs.inodePool', () => INODE_POOL_WORDS);
declareRegion('vfs.inodeLru', () => INODE_LRU_WORDS);

/** Inode slots of the arena (regular and shared inodes). */
export function inodeSlots(a: Arena): number {
  return a.counts.ninodes;
}
/** Word index of the first inode record (records are INODE_WORDS apart; see inodeWord). */
export function inodeTableBase(a: Arena): number {
  return a.regions['vfs.inodes'];
}
function inodeBuckets(a: Arena): number {
  return a.regions['vfs.inodeBuckets'];
}
function inodePool(a: Arena): number {
  return a.regions['vfs.inodePool'];
}
function inodeLru(a: Arena): number {
  return a.regions['vfs.inodeLru'];
}

/** The anonymous superblock's mount number (a filesystem's inodes that belong to no mounted image). */
export const ANON_MOUNT = -2;

export interface InodeSpecs {
  readonly lru: ListSpec;
}
const specCache = new WeakMap<Arena, InodeSpecs>();
function specs(a: Arena): InodeSpecs {
  let s = specCache.get(a);
  if (!s) {
    s = { lru: listSpec(inodeTableBase(a), INODE_WORDS, I_LRU_PREV, I_LRU_NEXT) };
    specCache.set(a, s);
  }
  return s;
}

/** Word index of field `w` of inode `slot` (for the owners of I_FS fields and the page index). */
export function inodeWord(a: Arena, slot: number, w: number): number {
  return inodeTableBase(a) + slot * INODE_WORDS + w;
}
export function mappingLockWord(a: Arena, slot: number): number {
  return inodeTableBase(a) + slot * INODE_WORDS + I_MAPLOCK;
}
export function mappingHeadWord(a: Arena, slot: number): number {
  return inodeTableBase(a) + slot * INODE_WORDS + I_MAP_HEAD;
}
export function mappingNrPagesWord(a: Arena, slot: number): number {
  return inodeTableBase(a) + slot * INODE_WORDS + I_NRPAGES;
}

export function inodeState(a: Arena, slot: number): number {
  return Atomics.load(a.i32, inodeTableBase(a) + slot * INODE_WORDS + I_STATE);
}
export function inodeCount(a: Arena, slot: number): number {
  return Atomics.load(a.i32, inodeTableBase(a) + slot * INODE_WORDS + I_COUNT);
}
export function inodeMount(a: Arena, slot: number): number {
  return a.i32[inodeTableBase(a) + slot * INODE_WORDS + I_MOUNT];
}
export function inodeNid(a: Arena, slot: number): number {
  return a.i32[inodeTableBase(a) + slot * INODE_WORDS + I_NID] >>> 0;
}
export function inodeSize(a: Arena, slot: number): number {
  const r = inodeTableBase(a) + slot * INODE_WORDS;
  return (a.i32[r + I_SIZE_HI] >>> 0) * 2 ** 32 + (a.i32[r + I_SIZE_LO] >>> 0);
}
export function setInodeSize(a: Arena, slot: number, size: number): void {
  const r = inodeTableBase(a) + slot * INODE_WORDS;
  a.i32[r + I_SIZE_LO] = size >>> 0;
  a.i32[r + I_SIZE_HI] = Math.floor(size / 2 ** 32);
}
export function inodeNrPages(a: Arena, slot: number): number {
  return Atomics.load(a.i32, inodeTableBase(a) + slot * INODE_WORDS + I_NRPAGES);
}
export function inodeOpenCount(a: Arena, slot: number): number {
  return Atomics.load(a.i32, inodeTableBase(a) + slot * INODE_WORDS + I_OPEN);
}
export function inodeOpenAdd(a: Arena, slot: number, d: number): void {
  Atomics.add(a.i32, inodeTableBase(a) + slot * INODE_WORDS + I_OPEN, d);
}
/** The generation of its mount slot the inode was created under (0 for shared inodes). */
export function inodeMountGen(a: Arena, slot: number): number {
  return a.i32[inodeTableBase(a) + slot * INODE_WORDS + I_MOUNT_GEN];
}
export function inodeGen(a: Arena, slot: number): number {
  return a.i32[inodeTableBase(a) + slot * INODE_WORDS + I_GEN];
}
export function isAnonInode(a: Arena, slot: number): boolean {
  return (inodeState(a, slot) & I_ANON) !== 0;
}

/** Initialise the inode table (main thread, before workers attach). */
export function inodeTableInit(a: Arena): void {
  const i32 = a.i32;
  const s = specs(a);
  for (let slot = 0; slot < inodeSlots(a); slot++) {
    const r = inodeTableBase(a) + slot * INODE_WORDS;
    i32[r + I_STATE] = 0;
    i32[r + I_HASH_NEXT] = slot + 1 < inodeSlots(a) ? slot + 1 : NIL;
    listInitHead(i32, r + I_MAP_HEAD);
    linkInit(i32, s.lru, slot);
  }
  for (let b = 0; b < a.counts.ninodeBuckets; b++) {
    i32[inodeBuckets(a) + b * ICACHE_BUCKET_WORDS] = 0;
    i32[inodeBuckets(a) + b * ICACHE_BUCKET_WORDS + 1] = NIL;
  }
  i32[inodePool(a) + POOL_TOP] = 0;
  i32[inodePool(a) + POOL_FREE] = inodeSlots(a);
  i32[inodePool(a) + POOL_USED] = 0;
  i32[inodePool(a) + POOL_HWM] = 0;
  listInitHead(i32, inodeLru(a) + ILRU_HEAD);
  i32[inodeLru(a) + ILRU_COUNT] = 0;
}

export function inodesInUse(a: Arena): number {
  return Atomics.load(a.i32, inodePool(a) + POOL_USED);
}

function slotAlloc(a: Arena): number {
  const i32 = a.i32;
  spinLock(i32, inodePool(a) + POOL_LOCK, LOCK_CLASS.SLOTS);
  if (lockdepOn)
    lockdepAccess(i32, inodePool(a) + POOL_LOCK, inodePool(a) + POOL_TOP, PROT.INODE_SLOTS, SITE.SLOT_ALLOC, -1, true);
  const s = i32[inodePool(a) + POOL_TOP];
  if (s !== NIL) {
    i32[inodePool(a) + POOL_TOP] = i32[inodeTableBase(a) + s * INODE_WORDS + I_HASH_NEXT];
    i32[inodePool(a) + POOL_FREE]--;
    i32[inodePool(a) + POOL_USED]++;
    if (s >= i32[inodePool(a) + POOL_HWM]) Atomics.store(i32, inodePool(a) + POOL_HWM, s + 1);
  }
  spinUnlock(i32, inodePool(a) + POOL_LOCK);
  return s;
}

/**
 * drop_caches's hand-back of inode slots: the free slots below the high-water mark go back on the free
 * list in ascending order, so the inodes the next pass creates take neighbouring records one after
 * another — a file's record, the record of its shared inode right after it, the next file's after that —
 * as a slab cache hands out the objects of one slab side by side. Left as eviction pushed them (in the
 * order of the inode LRU and the deferred frees), a fill took records in strides scattered over the
 * table, each one cold.
 *
 * Slots at and above the high-water mark were never handed out: they lie at the bottom of the free list
 * in ascending order already (the table's initial chain), so only the part above them is re-linked, a
 * walk as long as the slots ever used. Under the pool lock, like every allocation and free.
 */
export function inodeSlotsRewind(a: Arena): void {
  const i32 = a.i32;
  const pool = inodePool(a);
  const base = inodeTableBase(a);
  // The mark array is sized before the lock (the high-water mark only grows; regrown below if it did),
  // so that no allocation — and no collector pause — happens while other threads spin on the pool lock.
  let free = new Uint8Array(Atomics.load(i32, pool + POOL_HWM));
  spinLock(i32, pool + POOL_LOCK, LOCK_CLASS.SLOTS);
  if (lockdepOn) lockdepAccess(i32, pool + POOL_LOCK, pool + POOL_TOP, PROT.INODE_SLOTS, SITE.SLOT_REWIND, -1, true);
  try {
    const hwm = i32[pool + POOL_HWM];
    if (free.length < hwm) free = new Uint8Array(hwm);
    let s = i32[pool + POOL_TOP];
    let n = 0;
    for (; s !== NIL && s < hwm && n < hwm; n++) {
      free[s] = 1;
      s = i32[base + s * INODE_WORDS + I_HASH_NEXT];
    }
    // A valid list ends its re-linked part at the first never-used slot (or NIL) within hwm steps; any
    // other stop means a slot went on it twice (a cycle): leave the list as it is rather than close the
    // cycle into the sorted chain.
    if (s !== NIL && s < hwm) {
      if (invariantsOn) throw new InvariantViolation(`inode slot free list does not end after ${n} slots below ${hwm}`);
      return;
    }
    // `s` is now the first never-used slot (or NIL): the lowest free slots chain onto it, lowest on top.
    let top = s;
    for (let x = hwm - 1; x >= 0; x--)
      if (free[x] === 1) {
        i32[base + x * INODE_WORDS + I_HASH_NEXT] = top;
        top = x;
      }
    i32[pool + POOL_TOP] = top;
  } finally {
    spinUnlock(i32, pool + POOL_LOCK);
  }
}

/** Free the slot; wakes whoever waits on its state (a freeing or failed inode: I_INUSE clears here). */
function slotFree(a: Arena, slot: number): void {
  const i32 = a.i32;
  const r = inodeTableBase(a) + slot * INODE_WORDS;
  spinLock(i32, inodePool(a) + POOL_LOCK, LOCK_CLASS.SLOTS);
  if (lockdepOn)
    lockdepAccess(i32, inodePool(a) + POOL_LOCK, inodePool(a) + POOL_TOP, PROT.INODE_SLOTS, SITE.SLOT_FREE, slot, true);
  const old = Atomics.exchange(i32, r + I_STATE, 0);
  i32[r + I_HASH_NEXT] = i32[inodePool(a) + POOL_TOP];
  i32[inodePool(a) + POOL_TOP] = slot;
  i32[inodePool(a) + POOL_FREE]++;
  i32[inodePool(a) + POOL_USED]--;
  spinUnlock(i32, inodePool(a) + POOL_LOCK);
  if (old & I_WAITERS) Atomics.notify(i32, r + I_STATE);
}

function bucketOf(a: Arena, mount: number, nid: number): number {
  const h = Math.imul(mount + 3, 0x9e3779b1) ^ Math.imul(nid | 0, 0x85ebca77);
  return inodeBuckets(a) + ((h ^ (h >>> 15)) & (a.counts.ninodeBuckets - 1)) * ICACHE_BUCKET_WORDS;
}

/** The filesystem's inode callbacks (super_operations + fill). */
export interface InodeOps {
  /** Fill a new inode (I_NEW set, i_count 1). Throws to abort; the inode is then freed. */
  fill(slot: number): void;
  /** Detach a freeing inode from the filesystem (erofs_ishare_free_inode, ...). */
  evict(slot: number): void;
  /** drop_inode: evict at the last iput instead of caching it unused. */
  drop(slot: number): boolean;
}

/** Extra match test for keyed lookups (iget5's test): compares key words of the fs-private part. */
export type InodeTest = (slot: number) => boolean;

/**
 * wait_on_inode / __wait_on_freeing_inode: sleep until `bits` clear in the slot's state or the slot is
 * reused (its generation changes).
 *
 * The sleeper announces itself with I_WAITERS, set by a compare-and-swap that also checks the bits are
 * still set, and then sleeps on exactly the value it wrote; the wakers (unlockNewInode, slotFree) clear
 * the bits with one atomic read-modify-write and notify only if that returned I_WAITERS. The state word
 * is changed only by atomic operations, which are sequentially consistent on one word, so either
 * - our CAS came first: the waker's read-modify-write returns I_WAITERS and it notifies; if that happens
 *   before we are in Atomics.wait, the word no longer holds the value we wait on and wait returns at once
 *   ("not-equal"), else the notify wakes us; or
 * - the waker came first: our CAS fails (the word changed), we re-read and see the bits clear.
 * No wake-up is lost. Other writers of the word (I_ONLRU, I_FREEING, I_CLEAR: atomic or/and) keep the
 * bit; a change of theirs while we sleep makes us re-check at the latest after the bounded sleep.
 */
function waitStateClear(a: Arena, slot: number, bits: number, gen: number): void {
  const i32 = a.i32;
  const w = inodeTableBase(a) + slot * INODE_WORDS + I_STATE;
  for (let i = 0; ; i++) {
    let v = Atomics.load(i32, w);
    if (!(v & bits) || inodeGen(a, slot) !== gen) return;
    if (!(v & I_WAITERS)) {
      if (Atomics.compareExchange(i32, w, v, v | I_WAITERS) !== v) continue;
      v |= I_WAITERS;
    }
    inodeSteps.waitState(i32, w, v);
    if (i > 3000) throw new VfsError('EIO', `inode slot ${slot} stuck in state ${v}`);
  }
}

/** unlock_new_inode: the inode is filled — clear I_NEW and wake its waiters, if it has any. */
function unlockNewInode(i32: Int32Array, w: number): void {
  inodeSteps.wake(i32, w, Atomics.and(i32, w, ~(I_NEW | I_WAITERS)));
}

/**
 * iget_locked / iget5_locked: find the inode for (mount, nid[, test]) or create and fill it.
 * Returns the slot with a reference held.
 */
export function iget(
  a: Arena,
  mount: number,
  nid: number,
  ops: InodeOps,
  test?: InodeTest,
  initNew?: (slot: number) => void,
): number {
  const i32 = a.i32;
  const b = bucketOf(a, mount, nid);
  for (;;) {
    spinLock(i32, b, LOCK_CLASS.ICACHE);
    if (lockdepOn) lockdepAccess(i32, b, b + 1, PROT.ICACHE_BUCKET, SITE.ICACHE_LOOKUP, mount, false);
    let found = NIL;
    for (let s = i32[b + 1]; s !== NIL; s = i32[inodeTableBase(a) + s * INODE_WORDS + I_HASH_NEXT]) {
      const r = inodeTableBase(a) + s * INODE_WORDS;
      if (i32[r + I_MOUNT] === mount && i32[r + I_NID] === (nid | 0) && (!test || test(s))) {
        found = s;
        break;
      }
    }
    if (found !== NIL) {
      const r = inodeTableBase(a) + found * INODE_WORDS;
      spinLock(i32, r + I_LOCK, LOCK_CLASS.INODE);
      const st = Atomics.load(i32, r + I_STATE);
      const gen = i32[r + I_GEN];
      if (lockdepOn) lockdepAccess(i32, r + I_LOCK, r + I_COUNT, PROT.INODE_REF, SITE.IGET_REF, found, true);
      if (st & I_FREEING) {
        // __wait_on_freeing_inode: let the evictor finish, then look again.
        spinUnlock(i32, r + I_LOCK);
        spinUnlock(i32, b);
        ctrInc(i32, CTR.IGET_FREEING);
        waitStateClear(a, found, I_INUSE, gen);
        continue;
      }
      Atomics.add(i32, r + I_COUNT, 1);
      spinUnlock(i32, r + I_LOCK);
      spinUnlock(i32, b);
      if (st & I_NEW) {
        waitStateClear(a, found, I_NEW, gen);
        // The filler may have failed and freed the inode: then our reference is moot; retry.
        if (inodeGen(a, found) !== gen || inodeState(a, found) & I_FREEING) {
          continue;
        }
      }
      return found;
    }
    const s = slotAlloc(a);
    if (s === NIL) {
      spinUnlock(i32, b);
      throw new VfsError('ENOMEM', `inode table full (${inodeSlots(a)} slots)`);
    }
    const r = inodeTableBase(a) + s * INODE_WORDS;
    i32[r + I_GEN]++;
    i32[r + I_MOUNT] = mount;
    i32[r + I_MOUNT_GEN] = mount >= 0 ? mountGen(a, mount) : 0;
    i32[r + I_NID] = nid | 0;
    i32[r + I_SIZE_LO] = 0;
    i32[r + I_SIZE_HI] = 0;
    i32[r + I_NRPAGES] = 0;
    i32[r + I_OPEN] = 0;
    listInitHead(i32, r + I_MAP_HEAD);
    linkInit(i32, specs(a).lru, s);
    Atomics.store(i32, r + I_COUNT, 1);
    Atomics.store(i32, r + I_STATE, I_INUSE | I_NEW | (mount === ANON_MOUNT ? I_ANON : 0));
    if (initNew) initNew(s);
    if (lockdepOn) {
      lockdepAccess(i32, b, b + 1, PROT.ICACHE_BUCKET, SITE.ICACHE_INSERT, s, true);
      lockdepAccess(i32, b, r + I_HASH_NEXT, PROT.INODE_HASH_LINK, SITE.ICACHE_INSERT, s, true);
    }
    i32[r + I_HASH_NEXT] = i32[b + 1];
    i32[b + 1] = s;
    spinUnlock(i32, b);
    ctrInc(i32, CTR.INODES_ALLOCATED);
    try {
      ops.fill(s);
    } catch (e) {
      // iget_failed: unhash and free; waiters see the generation change and retry.
      Atomics.or(i32, r + I_STATE, I_FREEING);
      unhash(a, s);
      const gen = i32[r + I_GEN];
      i32[r + I_GEN] = gen + 1;
      slotFree(a, s);
      throw e;
    }
    unlockNewInode(i32, r + I_STATE);
    return s;
  }
}

function unhash(a: Arena, slot: number): void {
  const i32 = a.i32;
  const r = inodeTableBase(a) + slot * INODE_WORDS;
  const b = bucketOf(a, i32[r + I_MOUNT], i32[r + I_NID]);
  spinLock(i32, b, LOCK_CLASS.ICACHE);
  if (lockdepOn) {
    lockdepAccess(i32, b, b + 1, PROT.ICACHE_BUCKET, SITE.ICACHE_UNHASH, slot, true);
    lockdepAccess(i32, b, r + I_HASH_NEXT, PROT.INODE_HASH_LINK, SITE.ICACHE_UNHASH, slot, true);
  }
  let prev = NIL;
  for (let s = i32[b + 1]; s !== NIL; s = i32[inodeTableBase(a) + s * INODE_WORDS + I_HASH_NEXT]) {
    if (s === slot) {
      const next = i32[r + I_HASH_NEXT];
      if (prev === NIL) i32[b + 1] = next;
      else i32[inodeTableBase(a) + prev * INODE_WORDS + I_HASH_NEXT] = next;
      break;
    }
    prev = s;
  }
  spinUnlock(i32, b);
}

/** igrab: take a reference unless the inode is being freed. */
export function igrab(a: Arena, slot: number): boolean {
  const i32 = a.i32;
  const r = inodeTableBase(a) + slot * INODE_WORDS;
  // Already referenced (a reader's own inode, picked for its own read): add one without i_lock.
  if (
    (Atomics.load(i32, r + I_STATE) & (I_INUSE | I_NEW | I_FREEING)) === I_INUSE &&
    inodeSteps.grabUnlessZero(i32, r + I_COUNT)
  )
    return true;
  spinLock(i32, r + I_LOCK, LOCK_CLASS.INODE);
  const st = Atomics.load(i32, r + I_STATE);
  const ok = (st & (I_FREEING | I_INUSE)) === I_INUSE;
  if (ok) __iget(a, slot);
  spinUnlock(i32, r + I_LOCK);
  if (!ok) ctrInc(i32, CTR.IGRAB_REFUSED);
  return ok;
}

/**
 * __iget: take a reference on an inode that may have none, with its i_lock held — the lock is what
 * keeps a concurrent eviction (which decides under i_lock, at i_count 0) from going ahead.
 */
export function __iget(a: Arena, slot: number): void {
  const r = inodeTableBase(a) + slot * INODE_WORDS;
  if (lockdepOn) lockdepAccess(a.i32, r + I_LOCK, r + I_COUNT, PROT.INODE_REF, SITE.IGET_REF, slot, true);
  Atomics.add(a.i32, r + I_COUNT, 1);
}

/** ihold: take a reference on an inode the caller already holds one on. */
export function ihold(a: Arena, slot: number): void {
  Atomics.add(a.i32, inodeTableBase(a) + slot * INODE_WORDS + I_COUNT, 1);
}

/**
 * iput: drop a reference. At zero the inode stays cached on the inode LRU (it keeps its pages), unless
 * `evictNow` (unmounting, a shared inode whose last backing inode left) asks for immediate eviction.
 */
export function iput(a: Arena, slot: number, ops: InodeOps, evictNow = false): void {
  const i32 = a.i32;
  const r = inodeTableBase(a) + slot * INODE_WORDS;
  // Not the last reference: drop it without i_lock (iput's atomic_add_unless(&i_count, -1, 1)).
  if (inodeSteps.putUnlessLast(i32, r + I_COUNT)) return;
  spinLock(i32, r + I_LOCK, LOCK_CLASS.INODE);
  if (lockdepOn) lockdepAccess(i32, r + I_LOCK, r + I_COUNT, PROT.INODE_REF, SITE.IPUT, slot, true);
  const c = Atomics.sub(i32, r + I_COUNT, 1) - 1;
  if (c < 0) {
    Atomics.add(i32, r + I_COUNT, 1);
    spinUnlock(i32, r + I_LOCK);
    // DBG_BUGON while checking invariants: a reference dropped that nobody held.
    if (invariantsOn) throw new InvariantViolation(`iput on inode slot ${slot} with i_count 0`);
    throw new VfsError('EIO', `iput on inode slot ${slot} with i_count 0`);
  }
  if (c > 0) {
    spinUnlock(i32, r + I_LOCK);
    return;
  }
  if (evictNow || ops.drop(slot)) {
    Atomics.or(i32, r + I_STATE, I_FREEING);
    spinUnlock(i32, r + I_LOCK);
    evict(a, slot, ops);
    return;
  }
  // Already on the LRU (iget leaves it there, as the kernel's lazy inode LRU does): nothing to add, so
  // the LRU lock — one for every inode — is not taken by every close. Read under the inode lock after
  // the count reached zero: prune takes an inode off the LRU before its tryEvict looks at the count
  // under this lock, so if prune's removal is not seen here, its tryEvict sees the zero and evicts.
  const onLru = (Atomics.load(i32, r + I_STATE) & I_ONLRU) !== 0;
  spinUnlock(i32, r + I_LOCK);
  if (!onLru) inodeLruAdd(a, slot);
}

/**
 * iput's fast path: take one reference off `w` (i_count) unless it is the last one; true if it did.
 *
 * Why no i_lock is needed: i_lock orders what happens at i_count 0 — the 1 → 0 drop (which decides
 * between the LRU and eviction), igrab/__iget's 0 → 1 (which must not revive an inode being freed) and
 * tryEvict's "is it 0?" (which marks I_FREEING). A drop from c > 1 to c − 1 ≥ 1 takes part in none of
 * them: whoever looks under i_lock before or after it sees a count ≥ 1 either way, so nobody's decision
 * changes. The compare-and-swap makes "the count is above one" and "take one off" a single step: two
 * threads dropping the last two references cannot both see 2 and both take one off — one swap fails,
 * re-reads 1 and goes to the locked path, which then sees the 1 → 0 and does the last-reference work.
 * (A load then a separate subtraction would let both go to 0 with nobody doing it; test/icache-fastpath.test.ts
 * plants that variant through the step table and catches it.) i_count is only ever changed by
 * atomic operations (ihold adds without the lock too), so no locked writer's update is lost.
 */
function putUnlessLast(i32: Int32Array, w: number): boolean {
  let c = Atomics.load(i32, w);
  while (c > 1) {
    if (pointsOn) point(POINT.IPUT_FAST);
    const seen = Atomics.compareExchange(i32, w, c, c - 1);
    if (seen === c) return true;
    c = seen;
  }
  return false;
}

/**
 * igrab's fast path: add a reference to `w` (i_count) if it already has one; true if it did
 * (atomic_inc_not_zero, as folio_try_get and the kernel's lockless lookups take references).
 *
 * Why no i_lock is needed: i_lock guards the count at 0 — an eviction decides (I_FREEING) only after
 * seeing i_count 0 under it, and after that nobody raises the count from 0 but the locked paths, which
 * refuse I_FREEING. The compare-and-swap adds one only to a value ≥ 1 it read in the same step, so at that
 * moment the inode was referenced, hence not being freed, and the holder whose reference it was now sees a
 * count ≥ 2 when it drops it: not the last, no eviction. A count that reached 0 in between makes the swap
 * fail; re-read, it is 0, and igrab goes to the locked path, which sees I_FREEING (or the inode unused)
 * and decides as before. The caller checked the state first: an I_NEW inode whose fill fails is freed
 * with its creator's reference still held, so I_NEW (and I_FREEING, not in use) always take the lock. A
 * load then a separate addition would revive an inode whose count reached 0 and that eviction is freeing
 * in between (test/icache-fastpath.test.ts plants that variant through the step table and catches it).
 */
function grabUnlessZero(i32: Int32Array, w: number): boolean {
  let c = Atomics.load(i32, w);
  while (c >= 1) {
    if (pointsOn) point(POINT.IGRAB_FAST);
    const seen = Atomics.compareExchange(i32, w, c, c + 1);
    if (seen === c) return true;
    c = seen;
  }
  return false;
}

/**
 * The steps of the inode cache's lock-free paths that production code calls through: the correct ones,
 * unless the stress harness planted a bug (debug/bugs/) in this thread.
 */
export interface InodeSteps {
  /** iput's lock-free drop: one reference off i_count word `w` unless it is the last; true if done. */
  putUnlessLast: (i32: Int32Array, w: number) => boolean;
  /** igrab's lock-free grab: one reference onto i_count word `w` if it has one already; true if done. */
  grabUnlessZero: (i32: Int32Array, w: number) => boolean;
  /** Sleep on state word `w` announced as `v` (with I_WAITERS), bounded: Atomics.wait's answer. */
  waitState: (i32: Int32Array, w: number, v: number) => 'ok' | 'not-equal' | 'timed-out';
  /** After clearing state bits of word `w` (its value before was `old`): wake the sleepers, if any. */
  wake: (i32: Int32Array, w: number, old: number) => void;
}
/** How long a sleeper on an inode's state word waits before it looks again (ms): a lost wake-up costs this. */
export const STATE_WAIT_MS = 20;
export const INODE_STEPS: Readonly<InodeSteps> = Object.freeze({
  putUnlessLast,
  grabUnlessZero,
  waitState: (i32: Int32Array, w: number, v: number) => Atomics.wait(i32, w, v, STATE_WAIT_MS),
  wake: (i32: Int32Array, w: number, old: number) => {
    if (old & I_WAITERS) Atomics.notify(i32, w);
  },
});
/** This thread's steps (the correct ones unless the stress harness planted a bug). */
export const inodeSteps: InodeSteps = { ...INODE_STEPS };

/**
 * A teardown that ignores other holders: take every reference left as the caller's and evict the inode
 * now, whoever else still holds one. No kernel path does this; it exists for the stress harness's
 * variants (debug/bugs/), which cannot compute this module's offsets themselves.
 */
export function iputEvictAll(a: Arena, slot: number, ops: InodeOps): void {
  const i32 = a.i32;
  const r = inodeTableBase(a) + slot * INODE_WORDS;
  spinLock(i32, r + I_LOCK, LOCK_CLASS.INODE);
  Atomics.store(i32, r + I_COUNT, 1);
  spinUnlock(i32, r + I_LOCK);
  iput(a, slot, ops, true);
}

/** The inode LRU's use sites: its head and length, and the inode's own links (each a watched word). */
function inodeLruAccess(a: Arena, slot: number, site: number): void {
  const i32 = a.i32;
  const lock = inodeLru(a) + ILRU_LOCK;
  lockdepAccess(i32, lock, inodeLru(a) + ILRU_HEAD, PROT.INODE_LRU, site, slot, true);
  lockdepAccess(i32, lock, inodeLru(a) + ILRU_COUNT, PROT.INODE_LRU_COUNT, site, slot, true);
  if (slot !== NIL)
    lockdepAccess(
      i32,
      lock,
      inodeTableBase(a) + slot * INODE_WORDS + I_LRU_PREV,
      PROT.INODE_LRU_LINK,
      site,
      slot,
      true,
    );
}

function inodeLruAdd(a: Arena, slot: number): void {
  const i32 = a.i32;
  const r = inodeTableBase(a) + slot * INODE_WORDS;
  spinLock(i32, inodeLru(a) + ILRU_LOCK, LOCK_CLASS.INODE_LRU);
  if (lockdepOn) inodeLruAccess(a, slot, SITE.INODE_LRU_ADD);
  const st = Atomics.load(i32, r + I_STATE);
  if (!(st & (I_ONLRU | I_FREEING)) && st & I_INUSE) {
    listAdd(i32, specs(a).lru, inodeLru(a) + ILRU_HEAD, slot);
    Atomics.or(i32, r + I_STATE, I_ONLRU);
    i32[inodeLru(a) + ILRU_COUNT]++;
  }
  spinUnlock(i32, inodeLru(a) + ILRU_LOCK);
}

function inodeLruDel(a: Arena, slot: number): void {
  const i32 = a.i32;
  const r = inodeTableBase(a) + slot * INODE_WORDS;
  spinLock(i32, inodeLru(a) + ILRU_LOCK, LOCK_CLASS.INODE_LRU);
  if (lockdepOn) inodeLruAccess(a, slot, SITE.INODE_LRU_DEL);
  if (Atomics.load(i32, r + I_STATE) & I_ONLRU && isLinked(i32, specs(a).lru, slot)) {
    listDel(i32, specs(a).lru, inodeLru(a) + ILRU_HEAD, slot);
    Atomics.and(i32, r + I_STATE, ~I_ONLRU);
    i32[inodeLru(a) + ILRU_COUNT]--;
  }
  spinUnlock(i32, inodeLru(a) + ILRU_LOCK);
}

/** Truncation of the inode's pages; installed by vfs/pagecache.ts (avoids an import cycle). */
let truncatePages: ((a: Arena, slot: number) => void) | undefined;
export function setTruncateHook(fn: (a: Arena, slot: number) => void): void {
  truncatePages = fn;
}

/**
 * evict: the inode is I_FREEING with i_count 0 — drop its pages (evict_inode), unhash it, then free it.
 * As fs/inode.c's evict(), the inode stays hashed while its pages go: an iget of it meanwhile finds it
 * I_FREEING and waits for the eviction (__wait_on_freeing_inode) instead of building a second inode
 * beside one still being torn down.
 * The kernel frees an inode (->free_inode, where the seed's erofs_ishare_free_inode leaves the backing
 * list) only after an RCU grace period: until then it is still on its shared inode's backing list, where
 * igrab refuses it. Here the grace period ends with the kernel operation that evicted it: frees queue up
 * per thread and run at the end of the outermost rcuBatch (a prune, an unmount's sweep) or at once.
 */
function evict(a: Arena, slot: number, ops: InodeOps): void {
  const i32 = a.i32;
  const r = inodeTableBase(a) + slot * INODE_WORDS;
  inodeLruDel(a, slot);
  if (truncatePages) truncatePages(a, slot);
  if (pointsOn) point(POINT.EVICT_FREEING);
  unhash(a, slot);
  Atomics.or(i32, r + I_STATE, I_CLEAR);
  rcuArenas.push(a);
  rcuSlots.push(slot);
  rcuOps.push(ops);
  if (rcuDepth === 0) rcuFlush();
}

// This thread's inodes waiting for their grace period.
const rcuArenas: Arena[] = [];
const rcuSlots: number[] = [];
const rcuOps: InodeOps[] = [];
let rcuDepth = 0;

function rcuFlush(): void {
  rcuDepth++;
  try {
    // A free may evict more (the last backing inode's iput evicts its shared inode): loop until empty.
    for (let i = 0; i < rcuSlots.length; i++) {
      const a = rcuArenas[i];
      const slot = rcuSlots[i];
      const i32 = a.i32;
      const r = inodeTableBase(a) + slot * INODE_WORDS;
      rcuOps[i].evict(slot);
      i32[r + I_GEN]++;
      ctrInc(i32, CTR.INODES_EVICTED);
      slotFree(a, slot);
    }
  } finally {
    rcuArenas.length = 0;
    rcuSlots.length = 0;
    rcuOps.length = 0;
    rcuDepth--;
  }
}

/** Run `fn` as one kernel operation: inodes it evicts are freed together when it ends. */
export function rcuBatch<T>(fn: () => T): T {
  rcuDepth++;
  try {
    return fn();
  } finally {
    if (--rcuDepth === 0 && rcuSlots.length) rcuFlush();
  }
}

/**
 * Try to evict an unused inode: succeeds only if i_count is 0 and it is not already being freed.
 * (prune_icache_sb's per-inode step; also used by unmount and drop-caches.)
 */
export function tryEvict(a: Arena, slot: number, ops: InodeOps): boolean {
  const i32 = a.i32;
  const r = inodeTableBase(a) + slot * INODE_WORDS;
  spinLock(i32, r + I_LOCK, LOCK_CLASS.INODE);
  if (lockdepOn) lockdepAccess(i32, r + I_LOCK, r + I_COUNT, PROT.INODE_REF, SITE.TRY_EVICT, slot, false);
  const st = Atomics.load(i32, r + I_STATE);
  if ((st & (I_INUSE | I_FREEING | I_NEW)) !== I_INUSE || Atomics.load(i32, r + I_COUNT) !== 0) {
    spinUnlock(i32, r + I_LOCK);
    return false;
  }
  Atomics.or(i32, r + I_STATE, I_FREEING);
  spinUnlock(i32, r + I_LOCK);
  evict(a, slot, ops);
  return true;
}

/**
 * prune_icache: evict up to `nr` unused inodes from the cold end of the inode LRU, optionally only those
 * of one mount and/or only regular ones (not shared). Returns how many were evicted.
 */
export function pruneIcache(a: Arena, nr: number, ops: InodeOps, mount?: number): number {
  return rcuBatch(() => pruneIcacheBatch(a, nr, ops, mount));
}

function pruneIcacheBatch(a: Arena, nr: number, ops: InodeOps, mount?: number): number {
  const i32 = a.i32;
  const s = specs(a);
  let evicted = 0;
  let budget = Atomics.load(i32, inodeLru(a) + ILRU_COUNT) + 1;
  while (evicted < nr && budget-- > 0) {
    spinLock(i32, inodeLru(a) + ILRU_LOCK, LOCK_CLASS.INODE_LRU);
    if (lockdepOn)
      lockdepAccess(
        i32,
        inodeLru(a) + ILRU_LOCK,
        inodeLru(a) + ILRU_HEAD,
        PROT.INODE_LRU,
        SITE.INODE_LRU_PRUNE,
        -1,
        true,
      );
    let slot = listLast(i32, inodeLru(a) + ILRU_HEAD);
    if (mount !== undefined) {
      while (slot !== NIL && i32[inodeTableBase(a) + slot * INODE_WORDS + I_MOUNT] !== mount)
        slot = i32[inodeTableBase(a) + slot * INODE_WORDS + I_LRU_PREV];
    }
    if (slot === NIL) {
      spinUnlock(i32, inodeLru(a) + ILRU_LOCK);
      break;
    }
    if (lockdepOn) inodeLruAccess(a, slot, SITE.INODE_LRU_PRUNE);
    listDel(i32, s.lru, inodeLru(a) + ILRU_HEAD, slot);
    Atomics.and(i32, inodeTableBase(a) + slot * INODE_WORDS + I_STATE, ~I_ONLRU);
    i32[inodeLru(a) + ILRU_COUNT]--;
    spinUnlock(i32, inodeLru(a) + ILRU_LOCK);
    // Referenced again since it went on the LRU: it simply leaves the LRU (iput re-adds it later).
    if (tryEvict(a, slot, ops)) evicted++;
  }
  return evicted;
}

export function inodeLruCount(a: Arena): number {
  return Atomics.load(a.i32, inodeLru(a) + ILRU_COUNT);
}

/** Every in-use slot (for unmount, invariant checks and reports; O(slots ever handed out)). */
export function forEachInode(a: Arena, fn: (slot: number, state: number) => void): void {
  const hwm = Atomics.load(a.i32, inodePool(a) + POOL_HWM);
  for (let slot = 0; slot < hwm; slot++) {
    const st = inodeState(a, slot);
    if (st & I_INUSE) fn(slot, st);
  }
}
