// Lock checking (lockdep_assert_held), independent of any planted bug. Every lock-protected structure is
// declared below with the lock class that guards it; every function that mutates such a structure, or
// reads it in a way that needs the lock, calls lockdepAccess at that use site — on every path, buggy or
// not — and, while stressing, it fails unless *this thread* holds the declared lock word. Ownership is
// tracked per thread (a small held-locks stack filled by spinLock/spinUnlock), as lockdep's held_locks.
// The same call feeds the data-race detector (kcsan.ts), which needs no lock knowledge at all.
// When not stressing, each use site costs one branch on `lockdepOn`.
import { CheckFailure, reportCheckFailure } from './checkfail.ts';
import { LOCK_CLASS_NAMES, LOCK_CLASS } from './lockstat.ts';
import { kcsanAccess, kcsanOn } from './kcsan.ts';

/** Lock-protected structures. */
export const PROT = {
  BACKING_LIST: 0,
  PROCESSING_LIST: 1,
  PROCESSING_COUNT: 2,
  PAGE_BUCKET: 3,
  MAPPING_PAGES: 4,
  LRU: 5,
  FREE_LIST: 6,
  ICACHE_BUCKET: 7,
  INODE_SLOTS: 8,
  INODE_LRU: 9,
  INODE_REF: 10,
  // Fields of one record, each watched on its own word (a race on a field is invisible on the list head).
  BACKING_COUNT: 11,
  BACKING_LINK: 12,
  PROCESSING_LINK: 13,
  PAGE_LRU_FLAG: 14,
  PAGE_LRU_LINK: 15,
  LRU_COUNT: 16,
  PAGE_INDEX_FIELDS: 17,
  PAGE_MAP_LINK: 18,
  MAPPING_NRPAGES: 19,
  FREE_MAP: 20,
  INODE_LRU_LINK: 21,
  INODE_LRU_COUNT: 22,
  INODE_HASH_LINK: 23,
  // Memory cgroups (mm/memcontrol.ts).
  MEMCG_TABLE: 24,
  PAGE_MEMCG: 25,
  PAGE_SHADOW: 26,
} as const;

/** Each structure's declared lock. */
export const PROTECTED: readonly { readonly name: string; readonly lockClass: number; readonly lock: string }[] = [
  {
    name: 'backing list (and its length) of a shared inode',
    lockClass: LOCK_CLASS.ISHARE,
    lock: "the shared inode's vi->lock",
  },
  { name: 'processing list of a shared inode', lockClass: LOCK_CLASS.ISHARE, lock: "the shared inode's vi->lock" },
  { name: 'processingCount of a backing inode', lockClass: LOCK_CLASS.ISHARE, lock: "its shared inode's vi->lock" },
  { name: 'page-index hash bucket chain', lockClass: LOCK_CLASS.PAGE_INDEX, lock: 'the bucket lock' },
  { name: "mapping's page list and nrpages", lockClass: LOCK_CLASS.PAGE_INDEX, lock: "the mapping's page-list lock" },
  { name: 'page LRU', lockClass: LOCK_CLASS.LRU, lock: 'the LRU lock' },
  { name: 'free-frame list', lockClass: LOCK_CLASS.FREE, lock: 'the free-list lock' },
  { name: 'inode hash bucket chain', lockClass: LOCK_CLASS.ICACHE, lock: 'the icache bucket lock' },
  { name: 'free inode-slot list', lockClass: LOCK_CLASS.SLOTS, lock: 'the slot-pool lock' },
  { name: 'unused-inode LRU', lockClass: LOCK_CLASS.INODE_LRU, lock: 'the inode LRU lock' },
  {
    name: 'i_count of an inode that may be unused (igrab, iput, eviction)',
    lockClass: LOCK_CLASS.INODE,
    lock: "the inode's i_lock",
  },
  {
    name: 'backing count (nbacking) of a shared inode',
    lockClass: LOCK_CLASS.ISHARE,
    lock: "the shared inode's vi->lock",
  },
  { name: 'backing_link of a backing inode', lockClass: LOCK_CLASS.ISHARE, lock: "its shared inode's vi->lock" },
  { name: 'processing_link of a backing inode', lockClass: LOCK_CLASS.ISHARE, lock: "its shared inode's vi->lock" },
  { name: "PG_LRU bit of a page's flags", lockClass: LOCK_CLASS.LRU, lock: 'the LRU lock' },
  { name: 'LRU links of a page', lockClass: LOCK_CLASS.LRU, lock: 'the LRU lock' },
  { name: 'length of the page LRU', lockClass: LOCK_CLASS.LRU, lock: 'the LRU lock' },
  {
    name: "page's index fields (mapping, index, hash link)",
    lockClass: LOCK_CLASS.PAGE_INDEX,
    lock: 'the page-index bucket lock',
  },
  {
    name: "page's link in its mapping's page list",
    lockClass: LOCK_CLASS.PAGE_INDEX,
    lock: "the mapping's page-list lock",
  },
  { name: "mapping's nrpages", lockClass: LOCK_CLASS.PAGE_INDEX, lock: "the mapping's page-list lock" },
  { name: 'free-frame bitmap word', lockClass: LOCK_CLASS.FREE, lock: 'the free-list lock' },
  { name: 'inode LRU links of an inode', lockClass: LOCK_CLASS.INODE_LRU, lock: 'the inode LRU lock' },
  { name: 'length of the unused-inode LRU', lockClass: LOCK_CLASS.INODE_LRU, lock: 'the inode LRU lock' },
  { name: 'inode hash link of an inode', lockClass: LOCK_CLASS.ICACHE, lock: 'the icache bucket lock' },
  {
    name: 'memory-cgroup table (state, parent, limits of a cgroup)',
    lockClass: LOCK_CLASS.MEMCG,
    lock: 'the memcg table lock',
  },
  {
    name: 'memory cgroup a cached page is charged to (folio->memcg_data)',
    lockClass: LOCK_CLASS.PAGE_INDEX,
    lock: "the page's index bucket lock",
  },
  {
    name: 'shadow entry of an evicted page (workingset)',
    lockClass: LOCK_CLASS.PAGE_INDEX,
    lock: "the page's index bucket lock",
  },
];
if (PROTECTED.length !== Object.keys(PROT).length) throw new Error('every protected structure declares its lock');

/** Use sites (the functions that touch a protected structure): named in reports. */
export const SITE = {
  ISHARE_FILL: 0,
  ISHARE_FREE: 1,
  READ_BEGIN: 2,
  READ_END: 3,
  REAL_INODE: 4,
  SHARED_VIEW: 5,
  PAGE_LOOKUP: 6,
  PAGE_ADD: 7,
  PAGE_UNINDEX: 8,
  TRUNCATE: 9,
  LRU_ADD: 10,
  LRU_DEL: 11,
  LRU_ISOLATE: 12,
  FRAME_ALLOC: 13,
  FRAME_FREE: 14,
  ICACHE_LOOKUP: 15,
  ICACHE_INSERT: 16,
  ICACHE_UNHASH: 17,
  SLOT_ALLOC: 18,
  SLOT_FREE: 19,
  INODE_LRU_ADD: 20,
  INODE_LRU_DEL: 21,
  INODE_LRU_PRUNE: 22,
  IGET_REF: 23,
  IPUT: 24,
  TRY_EVICT: 25,
  LRU_ADD_BATCH: 26,
  LRU_MOVE: 27,
  MEMCG_COMMIT: 28,
  MEMCG_UNCHARGE: 29,
  MEMCG_MOVE: 30,
  MEMCG_CREATE: 31,
  MEMCG_OFFLINE: 32,
  MEMCG_REAP: 33,
} as const;
export const SITE_NAMES = [
  'ishareFillInode',
  'ishareFreeInode',
  'readBegin',
  'readEnd',
  'realInode',
  'sharedInodeView',
  'page lookup',
  'addToPageCache',
  'page unindex',
  'truncateInodePages',
  'lruAdd',
  'lruDel',
  'lruIsolate',
  'frameAlloc',
  'frameFree',
  'iget lookup',
  'iget insert',
  'unhash',
  'slotAlloc',
  'slotFree',
  'inodeLruAdd',
  'inodeLruDel',
  'pruneIcache',
  '__iget',
  'iput',
  'tryEvict',
  'lruAddBatch',
  'lruvecMove',
  'commitCharge',
  'uncharge',
  'moveCharge',
  'memcgCreate',
  'memcgOffline',
  'memcgReap',
];
if (SITE_NAMES.length !== Object.keys(SITE).length) throw new Error('every use site has a name');

/** True while stressing with lock checks or the race detector: use sites call lockdepAccess. */
export let lockdepOn = false;
let assertsOn = false;

// This thread's held locks: (array, word) pairs, innermost last.
const MAX_HELD = 16;
const heldArr: (Int32Array | undefined)[] = new Array<Int32Array | undefined>(MAX_HELD).fill(undefined);
const heldWord = new Int32Array(MAX_HELD);
let depth = 0;

/** Configure this thread: `asserts` = lock checks, `tracking` = record held locks (for either detector). */
export function lockdepConfigure(asserts: boolean, tracking: boolean): void {
  assertsOn = asserts;
  lockdepOn = tracking;
  if (!tracking) depth = 0;
}

/** spinLock calls this (only while lockdepOn) once the word is ours. */
export function lockdepAcquired(i32: Int32Array, idx: number): void {
  if (depth < MAX_HELD) {
    heldArr[depth] = i32;
    heldWord[depth] = idx;
  }
  depth++;
}

/** spinUnlock calls this (only while lockdepOn). A lock taken before tracking began is simply absent. */
export function lockdepReleased(i32: Int32Array, idx: number): void {
  const n = Math.min(depth, MAX_HELD);
  for (let d = n - 1; d >= 0; d--) {
    if (heldWord[d] === idx && heldArr[d] === i32) {
      for (let e = d; e < n - 1; e++) {
        heldArr[e] = heldArr[e + 1];
        heldWord[e] = heldWord[e + 1];
      }
      heldArr[n - 1] = undefined;
      depth--;
      return;
    }
  }
}

/** Does this thread hold lock word `idx`? */
export function lockdepHeld(i32: Int32Array, idx: number): boolean {
  for (let d = Math.min(depth, MAX_HELD) - 1; d >= 0; d--) if (heldWord[d] === idx && heldArr[d] === i32) return true;
  return false;
}

export function lockClassName(cls: number): string {
  return LOCK_CLASS_NAMES[cls] ?? `class ${cls}`;
}

/**
 * A use site of structure `prot` guarded by lock word `lock`: `word` is the structure's representative
 * word (its list head, count or chain head), `obj` the slot it belongs to (for the message).
 * Call as `if (lockdepOn) lockdepAccess(...)`.
 */
export function lockdepAccess(
  i32: Int32Array,
  lock: number,
  word: number,
  prot: number,
  site: number,
  obj: number,
  write: boolean,
): void {
  const held = lockdepHeld(i32, lock);
  if (assertsOn && !held) {
    const p = PROTECTED[prot];
    reportCheckFailure(
      new CheckFailure(
        'lock-check',
        `${SITE_NAMES[site]} ${write ? 'changed' : 'read'} the ${p.name} (${obj}) without holding ${p.lock} (${lockClassName(p.lockClass)} lock word ${lock})`,
      ),
    );
  }
  if (kcsanOn) kcsanAccess(i32, word, write, prot, site, obj, held);
}
