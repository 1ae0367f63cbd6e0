// The page index (address_space->i_pages): which frame caches page `index` of mapping `slot`.
// A hash table of buckets [lock, head, seq] chained through the frames, plus a per-mapping page list so
// truncation does not scan the pool. Lock order: page-index bucket → mapping lock → (nothing).
//
// Lookups do not take the bucket lock (the RCU find_get_page pattern): a reader notes the bucket's
// sequence word, walks the chain, takes a reference with a compare-and-swap that refuses a frame whose
// count is zero (tryGetPage), and keeps the page only if the sequence is unchanged — every removal
// from a chain runs between two increments of its bucket's sequence (odd while in progress), so an
// unchanged even sequence means the chain and each chained frame's (mapping, index) held still for the
// whole walk. Insertion writes the new frame's fields before the store that links it, so it needs no
// increment: a reader sees the page or misses it. Anything doubtful — odd or changed sequence, a walk
// longer than any honest chain, not found — goes to the locked lookup, which is authoritative.
import { declareCount, declareRegion, pow2AtLeast, type Arena } from '../mm/arena.ts';
import { spinLock, spinUnlock } from '../mm/spinlock.ts';
import { listAdd, listDel, listFirst, NIL } from '../mm/list.ts';
import { lockdepOn, lockdepAccess } from '../mm/lockdep.ts';
import { LOCK_CLASS, PROT, SITE } from './locks.ts';
import { ctrAdd, ctrInc, ctrDec, CTR } from './counters.ts';
import { pointsOn, point } from '../mm/points.ts';
import { POINT } from './points.ts';
import {
  FRAME_WORDS,
  F_MAPPING,
  F_INDEX,
  F_HASH_NEXT,
  F_MAP_PREV,
  F_REF,
  F_FLAGS,
  F_FOLIO,
  PG_LOCKED,
  PG_UPTODATE,
  frameSpecs,
  folioHead,
  getPage,
  putPage,
  putPages,
  lruDel,
  waitOnPageLocked,
  tryGetPage,
} from '../mm/pagepool.ts';
import { mappingLockWord, mappingHeadWord, mappingNrPagesWord, setTruncateHook, inodeGen } from './inode.ts';
import { memcgTryCharge, chargedMemcg, memcgCancelCharge, memcgCommitCharge, memcgUncharge } from '../mm/memcontrol.ts';

export const PAGE_BUCKET_WORDS = 3; // lock, head, seq
const B_HEAD = 1;
const B_SEQ = 2;
/** Chain steps a lockless walk takes before it suspects it wandered off a changing chain. */
const WALK_LIMIT = 64;

// The page index's arena region, declared here (mm/ knows nothing of it): its hash buckets, one per
// frame rounded up to a power of two.
declareCount('npageBuckets', (_cfg, c) => pow2AtLeast(c.nframes));
declareRegion('vfs.pageBuckets', (c) => c.npageBuckets * PAGE_BUCKET_WORDS);
function pageBuckets(a: Arena): number {
  return a.regions['vfs.pageBuckets'];
}

/**
 * Pages of one mapping whose buckets lie side by side: 16 consecutive indices hash as a group to a run of
 * 16 buckets (192 bytes: three or four cache lines), each to its own bucket of the run. A readahead looks
 * up and indexes its pages in order, so it touches those lines per 16 pages instead of one line per page,
 * each a cache miss in a table of one bucket per frame: the check that took that miss (pageCached) was
 * 14% of a 1-worker cold pass's CPU (the locality the kernel's xarray has, where neighbouring indices
 * share a node). Each group starts at its own offset in its run (four more bits of its hash), or the
 * first pages of small files would all crowd into the first buckets of runs.
 */
const BUCKET_GROUP_SHIFT = 4;
const BUCKET_GROUP_MASK = (1 << BUCKET_GROUP_SHIFT) - 1;

/** The index bucket (its lock word) of (mapping, index). Exported for the planted bugs' step variants. */
export function bucketOf(a: Arena, mapping: number, index: number): number {
  let h = Math.imul(mapping + 1, 0x9e3779b1) ^ Math.imul(index >>> BUCKET_GROUP_SHIFT, 0x85ebca77);
  // murmur3's finalizer: small mapping and group numbers alike end up anywhere in the table.
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h ^= h >>> 16;
  const slot = (h << BUCKET_GROUP_SHIFT) | ((index + (h >>> 28)) & BUCKET_GROUP_MASK);
  return pageBuckets(a) + (slot & (a.counts.npageBuckets - 1)) * PAGE_BUCKET_WORDS;
}

export function pageCacheInit(a: Arena): void {
  const i32 = a.i32;
  for (let b = 0; b < a.counts.npageBuckets; b++) {
    i32[pageBuckets(a) + b * PAGE_BUCKET_WORDS] = 0;
    i32[pageBuckets(a) + b * PAGE_BUCKET_WORDS + B_HEAD] = NIL;
    i32[pageBuckets(a) + b * PAGE_BUCKET_WORDS + B_SEQ] = 0;
  }
}

/** A bucket's number: its shadow slot (mm/memcontrol.ts keeps one evicted page's shadow per bucket). */
export function bucketSlot(a: Arena, b: number): number {
  return (b - pageBuckets(a)) / PAGE_BUCKET_WORDS;
}

/** The frame caching (mapping, index) in bucket b's chain, or NIL. Bucket lock held. */
export function lookupLocked(a: Arena, b: number, mapping: number, index: number): number {
  const i32 = a.i32;
  if (lockdepOn) lockdepAccess(i32, b, b + B_HEAD, PROT.PAGE_BUCKET, SITE.PAGE_LOOKUP, mapping, false);
  let f = i32[b + B_HEAD];
  while (f !== NIL) {
    const r = a.frames + f * FRAME_WORDS;
    if (i32[r + F_MAPPING] === mapping && i32[r + F_INDEX] === index) return f;
    f = i32[r + F_HASH_NEXT];
  }
  return NIL;
}

/**
 * The lockless walk: the frame that looked like (mapping, index) in bucket b's chain, or NIL. No lock, no
 * write; what it returns means something only if the bucket's sequence did not move meanwhile (the
 * caller checks), and the walk is bounded since a chain changing under it may lead anywhere.
 */
function lookupRcu(i32: Int32Array, frames: number, b: number, mapping: number, index: number): number {
  let f = i32[b + B_HEAD];
  for (let steps = 0; f !== NIL && steps < WALK_LIMIT; steps++) {
    const r = frames + f * FRAME_WORDS;
    if (i32[r + F_MAPPING] === mapping && i32[r + F_INDEX] === index) return f;
    f = i32[r + F_HASH_NEXT];
  }
  return NIL;
}

/**
 * find_get_page: the frame caching (mapping, index) with a reference to its folio taken, or NIL. Every
 * page of a folio has its own entry (a lookup of any index is one hash probe); the entry leads to the
 * page's frame, whose folio head holds the count. An unchanged bucket sequence also means the page's
 * folio did not change (a page's folio is fixed while it is indexed), so the reference went to its head.
 */
export function findGetPage(a: Arena, mapping: number, index: number): number {
  const i32 = a.i32;
  const b = bucketOf(a, mapping, index);
  const seq = Atomics.load(i32, b + B_SEQ);
  if ((seq & 1) === 0) {
    const f = lookupRcu(i32, a.frames, b, mapping, index);
    const h = f === NIL ? NIL : folioHead(a, f);
    if (h !== NIL && tryGetPage(a, h)) {
      if (Atomics.load(i32, b + B_SEQ) === seq && folioHead(a, f) === h) return f;
      putPage(a, h); // the chain changed under the walk: the frame may not be what we looked for
      ctrInc(i32, CTR.PAGE_SEQ_RETRY);
    }
  } else ctrInc(i32, CTR.PAGE_SEQ_RETRY);
  return findGetPageLocked(a, b, mapping, index);
}

/**
 * The page after a hit usually sits in the next frame (a run of pages is read into a run of adjacent
 * frames), so a sequential reader tries that frame before hashing: take a reference (refused at count
 * zero), then the frame must be uptodate and cache (mapping, index). Flags are read first: a frame's
 * mapping and index are written before its read completes and sets PG_UPTODATE, so once that bit is
 * seen in this life of the frame — which the reference keeps from ending — mapping and index are its
 * own. A removed page has mapping NIL and fails. Returns false (nothing held) on any mismatch.
 */
export function tryGetPageAt(a: Arena, f: number, mapping: number, index: number): boolean {
  if (f >= a.nframes) return false;
  // The reference goes to the head the frame named when looked at; the frame must still be that head's
  // (a folio's membership is fixed for its life, which the reference keeps from ending).
  const h = folioHead(a, f);
  if (!tryGetPage(a, h)) return false;
  const i32 = a.i32;
  const r = a.frames + f * FRAME_WORDS;
  if (
    folioHead(a, f) === h &&
    Atomics.load(i32, a.frames + h * FRAME_WORDS + F_FLAGS) & PG_UPTODATE &&
    i32[r + F_MAPPING] === mapping &&
    i32[r + F_INDEX] === index
  )
    return true;
  putPage(a, h);
  ctrInc(i32, CTR.PAGE_HINT_MISS);
  return false;
}

function findGetPageLocked(a: Arena, b: number, mapping: number, index: number): number {
  const i32 = a.i32;
  spinLock(i32, b, LOCK_CLASS.PAGE_INDEX);
  const f = lookupLocked(a, b, mapping, index);
  if (f !== NIL) getPage(a, f); // indexed: its folio holds the cache's references, the count is not zero
  spinUnlock(i32, b);
  return f;
}

/** True when (mapping, index) is cached (no reference taken; a hint for readahead). */
export function pageCached(a: Arena, mapping: number, index: number): boolean {
  const b = bucketOf(a, mapping, index);
  const seq = Atomics.load(a.i32, b + B_SEQ);
  if ((seq & 1) === 0) {
    if (lookupRcu(a.i32, a.frames, b, mapping, index) !== NIL) {
      if (Atomics.load(a.i32, b + B_SEQ) === seq) return true;
      ctrInc(a.i32, CTR.PAGE_SEQ_RETRY); // the chain changed under the walk: ask again under the lock
    }
  } else ctrInc(a.i32, CTR.PAGE_SEQ_RETRY); // a removal is under way in this bucket
  spinLock(a.i32, b, LOCK_CLASS.PAGE_INDEX);
  const f = lookupLocked(a, b, mapping, index);
  spinUnlock(a.i32, b);
  return f !== NIL;
}

/**
 * add_to_page_cache_locked (filemap_add_folio): index a new, locked frame. The page cache takes its own
 * reference. The page is charged to this thread's memory cgroup first (mem_cgroup_charge, which may
 * reclaim from the cgroup) — or was already, by the caller, for a batch: `charged` is then the cgroup
 * its memcgTryCharge charged. Returns false if another thread cached the same page first (the caller
 * frees its frame; a charge taken here is undone, a batch's stays the caller's to cancel) or if no room
 * could be made for the charge.
 */
export function addToPageCache(
  a: Arena,
  f: number,
  mapping: number,
  index: number,
  charged = -1,
  deferCount = false,
): boolean {
  let id = charged;
  if (id < 0) {
    if (memcgTryCharge(a, 1, false) === 0) return false;
    id = chargedMemcg();
  }
  if (pagecacheSteps.insertPage(a, f, mapping, index, id)) {
    if (!deferCount) pageCacheCountAdded(a, mapping, 1);
    return true;
  }
  if (charged < 0) memcgCancelCharge(a, id, 1);
  return false;
}

/**
 * Count n pages just indexed in `mapping` (NR_FILE_PAGES and the filesystem's hook). addToPageCache counts
 * each page it adds unless told `deferCount`: a readahead that indexes a run of pages counts the run once
 * (as the kernel adds a folio's nr pages to the node's vm_stat at once), so two threads filling at the
 * same time do not bounce the counters' cache line once per page. It must count before it unlocks any
 * page of the run: until then no thread can remove one (reclaim, fadvise and truncate skip or wait on
 * locked pages), so the gauges never run behind a removal.
 */
export function pageCacheCountAdded(a: Arena, mapping: number, n: number): void {
  if (n <= 0) return;
  ctrAdd(a.i32, CTR.FILE_PAGES, n);
  if (mappingPagesHook) mappingPagesHook(a, mapping, n);
}

/** insert_page step: under the bucket lock, commit the charge to cgroup id, then publish the page. */
function insertPage(a: Arena, f: number, mapping: number, index: number, id: number): boolean {
  const i32 = a.i32;
  const b = bucketOf(a, mapping, index);
  spinLock(i32, b, LOCK_CLASS.PAGE_INDEX);
  if (lookupLocked(a, b, mapping, index) !== NIL) {
    spinUnlock(i32, b);
    return false;
  }
  // The cgroup is set before the page can be seen (commit_charge before the xarray store).
  memcgCommitCharge(a, f, id, b, bucketSlot(a, b), mapping, index, inodeGen(a, mapping));
  publishPage(a, b, f, mapping, index);
  spinUnlock(i32, b);
  return true;
}

/**
 * Link a new frame into bucket b's chain and its mapping's list. Bucket lock held. Exported for the bugs.
 * The page is counted by addToPageCache (or its batching caller), not here.
 */
export function publishPage(a: Arena, b: number, f: number, mapping: number, index: number): void {
  const i32 = a.i32;
  const r = a.frames + f * FRAME_WORDS;
  if (lockdepOn) {
    lockdepAccess(i32, b, b + B_HEAD, PROT.PAGE_BUCKET, SITE.PAGE_ADD, mapping, true);
    lockdepAccess(i32, b, r + F_MAPPING, PROT.PAGE_INDEX_FIELDS, SITE.PAGE_ADD, f, true);
  }
  i32[r + F_MAPPING] = mapping;
  i32[r + F_INDEX] = index;
  getPage(a, f); // the cache's reference for this page, on its folio
  i32[r + F_HASH_NEXT] = i32[b + B_HEAD];
  // Published last, with a store lockless walkers cannot see before the fields above.
  Atomics.store(i32, b + B_HEAD, f);
  const ml = mappingLockWord(a, mapping);
  spinLock(i32, ml, LOCK_CLASS.PAGE_INDEX);
  if (lockdepOn) mappingListAccess(a, ml, mapping, f, SITE.PAGE_ADD);
  listAdd(i32, frameSpecs(a).map, mappingHeadWord(a, mapping), f);
  i32[mappingNrPagesWord(a, mapping)]++;
  spinUnlock(i32, ml);
}

/** A change to a mapping's page list: its head, its nrpages and the frame's own link (each watched). */
function mappingListAccess(a: Arena, ml: number, mapping: number, f: number, site: number): void {
  const i32 = a.i32;
  lockdepAccess(i32, ml, mappingHeadWord(a, mapping), PROT.MAPPING_PAGES, site, mapping, true);
  lockdepAccess(i32, ml, mappingNrPagesWord(a, mapping), PROT.MAPPING_NRPAGES, site, mapping, true);
  lockdepAccess(i32, ml, a.frames + f * FRAME_WORDS + F_MAP_PREV, PROT.PAGE_MAP_LINK, site, f, true);
}

/**
 * Unlink frame f from the hash chain of bucket b and from its mapping's list, and uncharge it (reclaim's
 * `evict` leaves a shadow). Bucket lock held.
 */
function unindexLocked(a: Arena, b: number, f: number, mapping: number, evict: boolean): void {
  const i32 = a.i32;
  memcgUncharge(
    a,
    f,
    b,
    bucketSlot(a, b),
    mapping,
    i32[a.frames + f * FRAME_WORDS + F_INDEX],
    inodeGen(a, mapping),
    evict,
  );
  // Called while this page still keeps the mapping's inode alive: once it leaves the mapping's list, a
  // concurrent truncate can find the list empty, finish evicting the inode and free its slot.
  if (mappingPagesHook) mappingPagesHook(a, mapping, -1);
  if (lockdepOn) {
    lockdepAccess(i32, b, b + B_HEAD, PROT.PAGE_BUCKET, SITE.PAGE_UNINDEX, mapping, true);
    lockdepAccess(i32, b, a.frames + f * FRAME_WORDS + F_MAPPING, PROT.PAGE_INDEX_FIELDS, SITE.PAGE_UNINDEX, f, true);
  }
  Atomics.add(i32, b + B_SEQ, 1); // odd: lockless walkers of this bucket will not trust what they see
  if (pointsOn) point(POINT.PAGE_UNINDEX);
  let prev = NIL;
  for (let g = i32[b + B_HEAD]; g !== NIL; g = i32[a.frames + g * FRAME_WORDS + F_HASH_NEXT]) {
    if (g === f) {
      const next = i32[a.frames + f * FRAME_WORDS + F_HASH_NEXT];
      if (prev === NIL) i32[b + B_HEAD] = next;
      else i32[a.frames + prev * FRAME_WORDS + F_HASH_NEXT] = next;
      break;
    }
    prev = g;
  }
  i32[a.frames + f * FRAME_WORDS + F_HASH_NEXT] = NIL;
  const ml = mappingLockWord(a, mapping);
  spinLock(i32, ml, LOCK_CLASS.PAGE_INDEX);
  if (lockdepOn) mappingListAccess(a, ml, mapping, f, SITE.PAGE_UNINDEX);
  listDel(i32, frameSpecs(a).map, mappingHeadWord(a, mapping), f);
  i32[mappingNrPagesWord(a, mapping)]--;
  spinUnlock(i32, ml);
  i32[a.frames + f * FRAME_WORDS + F_MAPPING] = NIL;
  Atomics.add(i32, b + B_SEQ, 1); // even again: the chain and its frames hold still
  ctrDec(i32, CTR.FILE_PAGES);
}

/**
 * Accounting a filesystem hangs on the page cache: called with +n when n pages joined `mapping` (a
 * readahead's run at once, before any of them is unlocked) and -1 when a page leaves (before it is
 * unlinked, while the page still keeps the mapping's inode alive). vfs does not interpret it. Null when
 * no filesystem installed one.
 */
export type MappingPagesHook = (a: Arena, mapping: number, delta: number) => void;
let mappingPagesHook: MappingPagesHook | null = null;
export function setMappingPagesHook(fn: MappingPagesHook | null): void {
  mappingPagesHook = fn;
}

/**
 * Unindex page t of a folio if it is still page `index`... of `mapping` (a racing truncate may have taken
 * it): under its bucket lock. Returns 1 if this call unindexed it (the caller drops its cache reference).
 */
function unindexPage(a: Arena, t: number, mapping: number, evict: boolean): number {
  const i32 = a.i32;
  const r = a.frames + t * FRAME_WORDS;
  const index = i32[r + F_INDEX];
  const b = bucketOf(a, mapping, index);
  spinLock(i32, b, LOCK_CLASS.PAGE_INDEX);
  if (i32[r + F_MAPPING] !== mapping || i32[r + F_INDEX] !== index) {
    spinUnlock(i32, b);
    return 0;
  }
  unindexLocked(a, b, t, mapping, evict);
  spinUnlock(i32, b);
  return 1;
}

/**
 * Reclaim's step (remove_mapping): drop an isolated folio (head h) from the page cache if nobody but the
 * cache and the isolating caller holds it (a count of nr + 1, as __remove_mapping expects
 * 1 + folio_nr_pages) and it is unlocked — every page of it: the head's under its bucket lock with the
 * test, the tails' each under its own. The caller still owns its isolation reference. Returns the pages
 * dropped (0: kept). `evict` (reclaim) leaves shadow entries for workingset refaults; drop_caches passes
 * false (none).
 */
export function removeIfUnused(a: Arena, h: number, evict = true): number {
  const i32 = a.i32;
  const r = a.frames + h * FRAME_WORDS;
  const mapping = i32[r + F_MAPPING];
  if (mapping === NIL) return 0;
  const index = i32[r + F_INDEX];
  const nr = i32[r + F_FOLIO];
  const b = bucketOf(a, mapping, index);
  spinLock(i32, b, LOCK_CLASS.PAGE_INDEX);
  if (
    i32[r + F_MAPPING] !== mapping ||
    i32[r + F_INDEX] !== index ||
    Atomics.load(i32, r + F_REF) !== nr + 1 ||
    Atomics.load(i32, r + F_FLAGS) & PG_LOCKED
  ) {
    spinUnlock(i32, b);
    ctrInc(i32, CTR.RECLAIM_BUSY);
    return 0;
  }
  unindexLocked(a, b, h, mapping, evict);
  spinUnlock(i32, b);
  let removed = 1;
  for (let t = h + 1; t < h + nr; t++) removed += unindexPage(a, t, mapping, evict);
  Atomics.sub(i32, r + F_REF, removed); // the cache's references; the caller's put frees the folio
  return removed;
}

/**
 * invalidate_mapping_pages (fadvise POSIX_FADV_DONTNEED): drop the cached pages of indexes
 * [start, end] that nobody holds — unlocked, no reference but the cache's (an isolating reclaim
 * or a reader in flight holds one more, and keeps its page). Folios go whole: one partly outside the
 * range stays, as mm/truncate.c's mapping_try_invalidate leaves it (find_lock_entries skips a folio
 * whose index is below the start or whose last page is past the end). Returns the pages dropped.
 */
export function invalidateMappingPages(a: Arena, mapping: number, start: number, end: number): number {
  const i32 = a.i32;
  let dropped = 0;
  for (let index = start; index <= end;) {
    const b = bucketOf(a, mapping, index);
    spinLock(i32, b, LOCK_CLASS.PAGE_INDEX);
    const f = lookupLocked(a, b, mapping, index);
    if (f === NIL) {
      spinUnlock(i32, b);
      index++;
      continue;
    }
    const h = folioHead(a, f);
    const nr = i32[a.frames + h * FRAME_WORDS + F_FOLIO];
    if (nr === 1) {
      index++;
      if (pagecacheSteps.pageInUse(i32, a.frames + f * FRAME_WORDS, 1)) {
        spinUnlock(i32, b);
        ctrInc(i32, CTR.FADVISE_BUSY);
        continue;
      }
      unindexLocked(a, b, f, mapping, false);
      spinUnlock(i32, b);
      lruDel(a, f);
      putPage(a, f);
      dropped++;
      continue;
    }
    if (Atomics.load(i32, a.frames + h * FRAME_WORDS + F_FLAGS) & PG_LOCKED) {
      // Being read: readahead may still cut it to the pages it indexed, so its size is no guide to
      // where the next folio starts. It is in use either way; go on page by page.
      spinUnlock(i32, b);
      ctrInc(i32, CTR.FADVISE_BUSY);
      index++;
      continue;
    }
    const first = index - (f - h);
    index = first + nr;
    if (first < start || first + nr - 1 > end) {
      spinUnlock(i32, b);
      continue;
    }
    getPage(a, h); // held while its other pages' buckets are taken (indexed: the count is not zero)
    spinUnlock(i32, b);
    if (pagecacheSteps.pageInUse(i32, a.frames + h * FRAME_WORDS, nr + 1)) {
      putPage(a, h);
      ctrInc(i32, CTR.FADVISE_BUSY);
      continue;
    }
    let removed = 0;
    for (let t = h; t < h + nr; t++) removed += unindexPage(a, t, mapping, false);
    lruDel(a, h);
    putPages(a, h, removed);
    putPage(a, h);
    dropped += removed;
  }
  return dropped;
}

/**
 * The steps of the page cache, one function each, that production code calls through. Entries are the
 * correct implementations; the stress harness's planted bugs (debug/bugs/) install their own version of
 * one of them in their thread, so a user runs the very code a clean stress run tests.
 */
export interface PagecacheSteps {
  /**
   * Index new frame f as page `index` of `mapping`, its charge (to cgroup `id`) committed before the page
   * can be seen; false when the page was cached already.
   */
  insertPage: (a: Arena, f: number, mapping: number, index: number, id: number) => boolean;
  /**
   * invalidate_mapping_pages' test of the folio head's record at `r`: someone holds the folio — locked
   * (being filled) or referenced beyond the `expected` count (the cache's references, one per page, and
   * the caller's own if it took one) — so it stays.
   */
  pageInUse: (i32: Int32Array, r: number, expected: number) => boolean;
}
export const PAGECACHE_STEPS: Readonly<PagecacheSteps> = Object.freeze({
  insertPage,
  pageInUse: (i32: Int32Array, r: number, expected: number) =>
    Atomics.load(i32, r + F_REF) !== expected || (Atomics.load(i32, r + F_FLAGS) & PG_LOCKED) !== 0,
});
/** This thread's steps (the correct ones unless the stress harness planted a bug). */
export const pagecacheSteps: PagecacheSteps = { ...PAGECACHE_STEPS };

/**
 * truncate_inode_pages: drop every page of a mapping (the inode is being evicted), a page at a time: each
 * page's unindexing drops the one cache reference it held on its folio, so a folio whose pages go one by
 * one is freed with its last page (a racing removal of the same folio takes each page at most once).
 */
export function truncateInodePages(a: Arena, mapping: number): void {
  const i32 = a.i32;
  const ml = mappingLockWord(a, mapping);
  for (let guard = 0; guard < a.nframes + 1; guard++) {
    spinLock(i32, ml, LOCK_CLASS.PAGE_INDEX);
    if (lockdepOn)
      lockdepAccess(i32, ml, mappingHeadWord(a, mapping), PROT.MAPPING_PAGES, SITE.TRUNCATE, mapping, false);
    const f = listFirst(i32, mappingHeadWord(a, mapping));
    spinUnlock(i32, ml);
    if (f === NIL) return;
    const r = a.frames + f * FRAME_WORDS;
    // A page still being read must finish first (truncate locks the page in the kernel).
    waitOnPageLocked(a, f);
    const index = i32[r + F_INDEX];
    const b = bucketOf(a, mapping, index);
    spinLock(i32, b, LOCK_CLASS.PAGE_INDEX);
    if (i32[r + F_MAPPING] !== mapping || i32[r + F_INDEX] !== index) {
      spinUnlock(i32, b); // reclaimed meanwhile
      continue;
    }
    unindexLocked(a, b, f, mapping, false);
    spinUnlock(i32, b);
    lruDel(a, f);
    putPage(a, f);
  }
}

setTruncateHook(truncateInodePages);

/**
 * For mm/memcontrol.ts (moving a charge needs the page's bucket lock): lock the bucket of frame f if f
 * is still in the page cache and return the lock word, else -1 (nothing held).
 */
export function lockIndexedFrame(a: Arena, f: number): number {
  const i32 = a.i32;
  const r = a.frames + f * FRAME_WORDS;
  for (let tries = 0; tries < 4; tries++) {
    const mapping = i32[r + F_MAPPING];
    const index = i32[r + F_INDEX];
    if (mapping === NIL) return -1;
    const b = bucketOf(a, mapping, index);
    spinLock(i32, b, LOCK_CLASS.PAGE_INDEX);
    if (i32[r + F_MAPPING] === mapping && i32[r + F_INDEX] === index) return b;
    spinUnlock(i32, b);
  }
  return -1;
}
export function unlockIndexedFrame(a: Arena, b: number): void {
  spinUnlock(a.i32, b);
}
/** Take and release every bucket lock in turn: whatever ran under one before has finished after. */
export function syncPageIndex(a: Arena): void {
  const i32 = a.i32;
  for (let x = 0; x < a.counts.npageBuckets; x++) {
    const b = pageBuckets(a) + x * PAGE_BUCKET_WORDS;
    spinLock(i32, b, LOCK_CLASS.PAGE_INDEX);
    spinUnlock(i32, b);
  }
}
