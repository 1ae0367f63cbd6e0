// The page pool: frame descriptors (struct page/folio) and the frames themselves.
// Owns the descriptor layout, page flags and the page lock, refcounts, the free list and the LRU.
// The page *index* (which mapping/index a frame caches) is vfs/pagecache.ts's; reclaim is
// vfs/reclaim.ts's.
//
// Refcount rule (as the kernel's): the page cache holds one reference while a frame is indexed; each
// reader that found the frame holds one more until put_page. A frame returns to the free list when the
// count drops to zero, which can only happen once it has left the page cache.
import type { Arena, ArenaCounts } from './arena.ts';
import { spinLock, spinUnlock } from './spinlock.ts';
import { LOCK_CLASS } from './lockstat.ts';
import { listSpec, listAdd, listDel, listLast, listInitHead, linkInit, NIL, type ListSpec } from './list.ts';
import { ctrInc, CTR } from './counters.ts';
import { lockdepOn, lockdepAccess, PROT, SITE } from './lockdep.ts';
import { reportCheckFailure, invariantsOn, InvariantViolation } from './checkfail.ts';

// Descriptor words.
export const F_FLAGS = 0;
export const F_REF = 1;
export const F_MAPPING = 2; // owning inode slot (address space), or NIL
export const F_INDEX = 3; // page index within the mapping
export const F_LRU_PREV = 4;
export const F_LRU_NEXT = 5;
export const F_HASH_NEXT = 6; // page-index hash chain; free-list link when free
export const F_MAP_PREV = 7; // per-mapping page list (truncate walks it)
export const F_MAP_NEXT = 8;
/**
 * The memory cgroup the page is charged to (folio->memcg_data), 0 = the root. Written by mm/memcontrol.ts
 * only; it also names the lruvec the page sits on (the LRU functions below read it under the LRU lock).
 */
export const F_MEMCG = 9;
export const FRAME_WORDS = 10;

// Page flags (bits of F_FLAGS; changed only with Atomics).
export const PG_LOCKED = 1;
export const PG_UPTODATE = 2;
export const PG_ERROR = 4;
export const PG_LRU = 8;
export const PG_REFERENCED = 16;
export const PG_WAITERS = 32;
export const PG_FREE = 64;

// LRU head: lock, first, last, count. The lock guards every lruvec (one per memory cgroup, as the
// per-node lru_lock of kernels before 5.11 guarded every memcg's lruvec of its node): lruvec 0, the root
// cgroup's, is the head below; lruvec i > 0 follows it as [first, last, count] (LRUVEC_WORDS).
export const LRU_LOCK = 0;
export const LRU_HEAD = 1;
export const LRU_COUNT = 3;
export const LRU_HEAD_WORDS = 4;
/** Memory cgroup ids (lruvecs): 0 is the root. mm/memcontrol.ts sizes its table by it. */
export const NR_LRUVECS = 32;
const LRUVEC_WORDS = 3;
const LRUVEC_COUNT = 2;
// Free frames: lock, next-fit cursor, free count, used count, then a bitmap (bit set = frame free).
// Allocation takes the next free frames at or after the cursor in address order, so a run of pages
// gets a run of adjacent frames whenever free frames lie side by side — after drop-caches, all of
// them — whatever order reclaim freed them in (a free stack handed them back scrambled: referenced
// pages get a second pass on the LRU, so reclaim frees in no file order). Adjacent frames are read
// with one iovec and copied with one copy.
const FREE_LOCK = 0;
const FREE_CURSOR = 1;
const FREE_COUNT = 2;
const FREE_USED = 3;
const FREE_MAP = 4;
export const FREE_HEAD_WORDS = 4;

/** The page pool's arena sections: frame descriptors, the LRU head, the free-list head. */
export function pagePoolRegions(c: ArenaCounts): { frames: number; lru: number; free: number } {
  return {
    frames: c.nframes * FRAME_WORDS,
    lru: LRU_HEAD_WORDS + (NR_LRUVECS - 1) * LRUVEC_WORDS,
    free: FREE_HEAD_WORDS + ((c.nframes + 31) >>> 5),
  };
}

/** The list head word of lruvec `id` (its count is at head + 2). */
export function lruvecHead(a: Arena, id: number): number {
  return id === 0 ? a.lru + LRU_HEAD : a.lru + LRU_HEAD_WORDS + (id - 1) * LRUVEC_WORDS;
}

/** Link specs over the frame table, built once per arena (no allocation on the hot path). */
export interface FrameSpecs {
  readonly lru: ListSpec;
  readonly map: ListSpec;
}
const specCache = new WeakMap<Arena, FrameSpecs>();
export function frameSpecs(a: Arena): FrameSpecs {
  let s = specCache.get(a);
  if (!s) {
    s = {
      lru: listSpec(a.frames, FRAME_WORDS, F_LRU_PREV, F_LRU_NEXT),
      map: listSpec(a.frames, FRAME_WORDS, F_MAP_PREV, F_MAP_NEXT),
    };
    specCache.set(a, s);
  }
  return s;
}

export function frameWord(a: Arena, f: number, w: number): number {
  return a.frames + f * FRAME_WORDS + w;
}

/** Initialise descriptors and put every frame on the free list (main thread, before workers). */
export function pagePoolInit(a: Arena): void {
  const i32 = a.i32;
  const specs = frameSpecs(a);
  for (let f = 0; f < a.nframes; f++) {
    const r = a.frames + f * FRAME_WORDS;
    i32[r + F_FLAGS] = PG_FREE;
    i32[r + F_REF] = 0;
    i32[r + F_MAPPING] = NIL;
    i32[r + F_INDEX] = 0;
    linkInit(i32, specs.lru, f);
    linkInit(i32, specs.map, f);
    i32[r + F_HASH_NEXT] = NIL;
    i32[r + F_MEMCG] = 0;
  }
  const words = (a.nframes + 31) >>> 5;
  for (let w = 0; w < words; w++) i32[a.free + FREE_MAP + w] = -1;
  if (a.nframes & 31) i32[a.free + FREE_MAP + words - 1] = (1 << (a.nframes & 31)) - 1;
  i32[a.free + FREE_LOCK] = 0;
  i32[a.free + FREE_CURSOR] = 0;
  i32[a.free + FREE_COUNT] = a.nframes;
  i32[a.free + FREE_USED] = 0;
  i32[a.lru + LRU_LOCK] = 0;
  for (let v = 0; v < NR_LRUVECS; v++) {
    listInitHead(i32, lruvecHead(a, v));
    i32[lruvecHead(a, v) + LRUVEC_COUNT] = 0;
  }
}

/**
 * Take a free frame, with refcount 1 and PG_LOCKED set (a new page is locked until its read ends).
 * Returns NIL when the free list is empty or the pool limit is reached: the caller reclaims and retries.
 */
export function frameAlloc(a: Arena): number {
  const i32 = a.i32;
  spinLock(i32, a.free + FREE_LOCK, LOCK_CLASS.FREE);
  const f = i32[a.free + FREE_USED] >= a.frameLimit ? NIL : takeFreeLocked(a);
  spinUnlock(i32, a.free + FREE_LOCK);
  if (f !== NIL) initAllocated(i32, a.frames + f * FRAME_WORDS);
  return f;
}

/** The next free frame at or after the cursor (wrapping), marked used; NIL if none. Free lock held. */
function takeFreeLocked(a: Arena): number {
  const i32 = a.i32;
  if (lockdepOn)
    lockdepAccess(i32, a.free + FREE_LOCK, a.free + FREE_COUNT, PROT.FREE_LIST, SITE.FRAME_ALLOC, -1, true);
  if (i32[a.free + FREE_COUNT] === 0) return NIL;
  const words = (a.nframes + 31) >>> 5;
  const map = a.free + FREE_MAP;
  let w = i32[a.free + FREE_CURSOR] >>> 5;
  // Bits below the cursor in its word are skipped on the first visit, found on the wrap.
  let bits = i32[map + w] & (-1 << (i32[a.free + FREE_CURSOR] & 31));
  for (let n = 0; bits === 0 && n <= words; n++) {
    w = w + 1 === words ? 0 : w + 1;
    bits = i32[map + w];
  }
  if (bits === 0) return NIL;
  const bit = 31 - Math.clz32(bits & -bits);
  if (lockdepOn) lockdepAccess(i32, a.free + FREE_LOCK, map + w, PROT.FREE_MAP, SITE.FRAME_ALLOC, -1, true);
  i32[map + w] &= ~(1 << bit);
  const f = (w << 5) + bit;
  i32[a.free + FREE_CURSOR] = f + 1 < a.nframes ? f + 1 : 0;
  i32[a.free + FREE_COUNT]--;
  i32[a.free + FREE_USED]++;
  return f;
}

function initAllocated(i32: Int32Array, r: number): void {
  i32[r + F_HASH_NEXT] = NIL;
  i32[r + F_MAPPING] = NIL;
  i32[r + F_MEMCG] = 0;
  Atomics.store(i32, r + F_REF, 1);
  Atomics.store(i32, r + F_FLAGS, PG_LOCKED);
}

/**
 * Take up to `max` free frames into out[at, at + max) under one lock, each as frameAlloc leaves it.
 * Returns how many (fewer when the free list runs out or the pool limit is reached).
 */
export function frameAllocBatch(a: Arena, out: Int32Array, at: number, max: number): number {
  const i32 = a.i32;
  const limit = a.frameLimit;
  let n = 0;
  spinLock(i32, a.free + FREE_LOCK, LOCK_CLASS.FREE);
  for (; n < max && i32[a.free + FREE_USED] < limit; n++) {
    const f = takeFreeLocked(a);
    if (f === NIL) break;
    out[at + n] = f;
  }
  spinUnlock(i32, a.free + FREE_LOCK);
  for (let x = at; x < at + n; x++) initAllocated(i32, a.frames + out[x] * FRAME_WORDS);
  return n;
}

/** Return a frame with no references and no mapping to the free list. */
export function frameFree(a: Arena, f: number): void {
  const i32 = a.i32;
  const r = a.frames + f * FRAME_WORDS;
  // bad_page (free_pages_check): a frame whose last reference goes must be off the LRU — a page on the
  // LRU is one the page cache still holds.
  if (invariantsOn && Atomics.load(i32, r + F_FLAGS) & PG_LRU) {
    reportCheckFailure(
      new InvariantViolation(
        `bad page: frame ${f} freed while on the LRU (mapping ${i32[r + F_MAPPING]}, index ${i32[r + F_INDEX]})`,
      ),
    );
  }
  Atomics.store(i32, r + F_FLAGS, PG_FREE);
  i32[r + F_MAPPING] = NIL;
  i32[r + F_HASH_NEXT] = NIL;
  spinLock(i32, a.free + FREE_LOCK, LOCK_CLASS.FREE);
  if (lockdepOn) {
    lockdepAccess(i32, a.free + FREE_LOCK, a.free + FREE_COUNT, PROT.FREE_LIST, SITE.FRAME_FREE, f, true);
    lockdepAccess(i32, a.free + FREE_LOCK, a.free + FREE_MAP + (f >>> 5), PROT.FREE_MAP, SITE.FRAME_FREE, f, true);
  }
  i32[a.free + FREE_MAP + (f >>> 5)] |= 1 << (f & 31);
  i32[a.free + FREE_COUNT]++;
  i32[a.free + FREE_USED]--;
  spinUnlock(i32, a.free + FREE_LOCK);
}

export function framesFree(a: Arena): number {
  return Atomics.load(a.i32, a.free + FREE_COUNT);
}
export function framesUsed(a: Arena): number {
  return Atomics.load(a.i32, a.free + FREE_USED);
}

export function pageFlags(a: Arena, f: number): number {
  return Atomics.load(a.i32, a.frames + f * FRAME_WORDS + F_FLAGS);
}
export function pageRef(a: Arena, f: number): number {
  return Atomics.load(a.i32, a.frames + f * FRAME_WORDS + F_REF);
}
export function pageMapping(a: Arena, f: number): number {
  return a.i32[a.frames + f * FRAME_WORDS + F_MAPPING];
}
export function pageIndex(a: Arena, f: number): number {
  return a.i32[a.frames + f * FRAME_WORDS + F_INDEX];
}

export function tryGetPage(a: Arena, f: number): boolean {
  const i32 = a.i32;
  const w = a.frames + f * FRAME_WORDS + F_REF;
  for (let r = Atomics.load(i32, w); r > 0;) {
    const seen = Atomics.compareExchange(i32, w, r, r + 1);
    if (seen === r) return true;
    r = seen;
  }
  ctrInc(i32, CTR.PAGE_REF_REFUSED);
  return false;
}

export function getPage(a: Arena, f: number): void {
  Atomics.add(a.i32, a.frames + f * FRAME_WORDS + F_REF, 1);
}

/** put_page: drop a reference; the last one frees the frame (it has left the page cache by then). */
export function putPage(a: Arena, f: number): void {
  const old = Atomics.sub(a.i32, a.frames + f * FRAME_WORDS + F_REF, 1);
  if (old === 1) frameFree(a, f);
}

export function setPageFlag(a: Arena, f: number, bit: number): void {
  Atomics.or(a.i32, a.frames + f * FRAME_WORDS + F_FLAGS, bit);
}
export function clearPageFlag(a: Arena, f: number, bit: number): void {
  Atomics.and(a.i32, a.frames + f * FRAME_WORDS + F_FLAGS, ~bit);
}

/** trylock_page: set PG_LOCKED if it was clear. */
export function trylockPage(a: Arena, f: number): boolean {
  return (Atomics.or(a.i32, a.frames + f * FRAME_WORDS + F_FLAGS, PG_LOCKED) & PG_LOCKED) === 0;
}

/** lock_page: sleep on the flags word until the lock is ours. */
export function lockPage(a: Arena, f: number): void {
  while (!trylockPage(a, f)) waitOnPageLocked(a, f);
}

/** unlock_page: clear PG_LOCKED and wake sleepers (only if any announced themselves). */
export function unlockPage(a: Arena, f: number): void {
  const w = a.frames + f * FRAME_WORDS + F_FLAGS;
  const old = Atomics.and(a.i32, w, ~(PG_LOCKED | PG_WAITERS));
  if (old & PG_WAITERS) Atomics.notify(a.i32, w);
}

/**
 * wait_on_page_locked: sleep until PG_LOCKED clears. Sets PG_WAITERS first so the unlocker knows to
 * notify; Atomics.wait on the exact flags value cannot miss a wake-up (a changed value returns at once).
 * Returns the number of sleeps (0 = never waited). `timeoutMs` bounds one sleep so a watchdog above can
 * observe a stuck holder.
 */
export function waitOnPageLocked(a: Arena, f: number, timeoutMs = 100): number {
  const i32 = a.i32;
  const w = a.frames + f * FRAME_WORDS + F_FLAGS;
  let sleeps = 0;
  for (;;) {
    const v = Atomics.load(i32, w);
    if (!(v & PG_LOCKED)) return sleeps;
    if (!(v & PG_WAITERS)) {
      if (Atomics.compareExchange(i32, w, v, v | PG_WAITERS) !== v) continue;
    }
    if (sleeps === 0) ctrInc(i32, CTR.LOCK_WAITS);
    sleeps++;
    Atomics.wait(i32, w, v | PG_WAITERS, timeoutMs);
  }
}

/**
 * The LRU's use sites touch the list head and length and the frame's own PG_LRU bit and links: each is
 * a word the race detector watches (lockdep.ts PROTECTED), so a race on a page's LRU state is seen on
 * that page, not only when both threads happen to meet at the head.
 */
function lruAccess(a: Arena, head: number, f: number, site: number): void {
  const i32 = a.i32;
  lockdepAccess(i32, a.lru + LRU_LOCK, head, PROT.LRU, site, f, true);
  lockdepAccess(i32, a.lru + LRU_LOCK, head + LRUVEC_COUNT, PROT.LRU_COUNT, site, f, true);
  lruFrameAccess(a, f, site);
}
function lruFrameAccess(a: Arena, f: number, site: number): void {
  const i32 = a.i32;
  const r = a.frames + f * FRAME_WORDS;
  lockdepAccess(i32, a.lru + LRU_LOCK, r + F_FLAGS, PROT.PAGE_LRU_FLAG, site, f, true);
  lockdepAccess(i32, a.lru + LRU_LOCK, r + F_LRU_PREV, PROT.PAGE_LRU_LINK, site, f, true);
}

/** The lruvec head of the cgroup frame f is charged to. LRU lock held. */
function frameLruvec(a: Arena, f: number): number {
  return lruvecHead(a, a.i32[a.frames + f * FRAME_WORDS + F_MEMCG]);
}

/** Put a frame on the LRU (mark_page_accessed for a new page). */
export function lruAdd(a: Arena, f: number): void {
  const i32 = a.i32;
  spinLock(i32, a.lru + LRU_LOCK, LOCK_CLASS.LRU);
  const head = frameLruvec(a, f);
  if (lockdepOn) lruAccess(a, head, f, SITE.LRU_ADD);
  const flags = Atomics.load(i32, a.frames + f * FRAME_WORDS + F_FLAGS);
  if (!(flags & PG_LRU)) {
    listAdd(i32, frameSpecs(a).lru, head, f);
    Atomics.or(i32, a.frames + f * FRAME_WORDS + F_FLAGS, PG_LRU);
    i32[head + LRUVEC_COUNT]++;
  }
  spinUnlock(i32, a.lru + LRU_LOCK);
}

/** lruAdd for frames[first, first + count) under one lock taking (a folio batch's add to the LRU). */
export function lruAddBatch(a: Arena, frames: Int32Array, first: number, count: number): void {
  const i32 = a.i32;
  const spec = frameSpecs(a).lru;
  spinLock(i32, a.lru + LRU_LOCK, LOCK_CLASS.LRU);
  for (let x = first; x < first + count; x++) {
    const f = frames[x];
    const fw = a.frames + f * FRAME_WORDS + F_FLAGS;
    const head = frameLruvec(a, f);
    if (lockdepOn) lruAccess(a, head, f, SITE.LRU_ADD_BATCH);
    if (!(Atomics.load(i32, fw) & PG_LRU)) {
      listAdd(i32, spec, head, f);
      Atomics.or(i32, fw, PG_LRU);
      i32[head + LRUVEC_COUNT]++;
    }
  }
  spinUnlock(i32, a.lru + LRU_LOCK);
}

/** Remove a frame from the LRU if it is there (caller is deleting it from the page cache). */
export function lruDel(a: Arena, f: number): void {
  const i32 = a.i32;
  spinLock(i32, a.lru + LRU_LOCK, LOCK_CLASS.LRU);
  const head = frameLruvec(a, f);
  if (lockdepOn) lruAccess(a, head, f, SITE.LRU_DEL);
  if (Atomics.load(i32, a.frames + f * FRAME_WORDS + F_FLAGS) & PG_LRU) {
    listDel(i32, frameSpecs(a).lru, head, f);
    Atomics.and(i32, a.frames + f * FRAME_WORDS + F_FLAGS, ~PG_LRU);
    i32[head + LRUVEC_COUNT]--;
  }
  spinUnlock(i32, a.lru + LRU_LOCK);
}

/**
 * mem_cgroup_move_account's LRU half: charge frame f to cgroup `to`, moving it to that cgroup's lruvec if
 * it is on an LRU (an isolated frame goes back to the new one when it is put back). The caller holds what
 * keeps the charge still (mm/memcontrol.ts: the page's index bucket lock).
 */
export function lruvecMove(a: Arena, f: number, to: number): void {
  const i32 = a.i32;
  const s = frameSpecs(a).lru;
  spinLock(i32, a.lru + LRU_LOCK, LOCK_CLASS.LRU);
  const from = frameLruvec(a, f);
  if (lockdepOn) lruAccess(a, from, f, SITE.LRU_MOVE);
  const onLru = (Atomics.load(i32, a.frames + f * FRAME_WORDS + F_FLAGS) & PG_LRU) !== 0;
  if (onLru) {
    listDel(i32, s, from, f);
    i32[from + LRUVEC_COUNT]--;
  }
  i32[a.frames + f * FRAME_WORDS + F_MEMCG] = to;
  if (onLru) {
    const head = lruvecHead(a, to);
    if (lockdepOn) lruAccess(a, head, f, SITE.LRU_MOVE);
    listAdd(i32, s, head, f);
    i32[head + LRUVEC_COUNT]++;
  }
  spinUnlock(i32, a.lru + LRU_LOCK);
}

/** Isolate from one lruvec's cold end. LRU lock held. */
function isolateVecLocked(a: Arena, v: number, out: Int32Array, at: number, max: number): number {
  const i32 = a.i32;
  const s = frameSpecs(a).lru;
  const head = lruvecHead(a, v);
  if (lockdepOn) {
    lockdepAccess(i32, a.lru + LRU_LOCK, head, PROT.LRU, SITE.LRU_ISOLATE, -1, true);
    lockdepAccess(i32, a.lru + LRU_LOCK, head + LRUVEC_COUNT, PROT.LRU_COUNT, SITE.LRU_ISOLATE, -1, true);
  }
  let n = at;
  let budget = i32[head + LRUVEC_COUNT] * 2 + 1;
  while (n < max && budget-- > 0) {
    const f = listLast(i32, head);
    if (f === NIL) break;
    const fw = a.frames + f * FRAME_WORDS + F_FLAGS;
    if (lockdepOn) lruFrameAccess(a, f, SITE.LRU_ISOLATE);
    listDel(i32, s, head, f);
    if (Atomics.load(i32, fw) & PG_REFERENCED) {
      Atomics.and(i32, fw, ~PG_REFERENCED);
      listAdd(i32, s, head, f);
      continue;
    }
    Atomics.and(i32, fw, ~PG_LRU);
    i32[head + LRUVEC_COUNT]--;
    Atomics.add(i32, a.frames + f * FRAME_WORDS + F_REF, 1);
    out[n++] = f;
  }
  return n - at;
}

// Global reclaim starts each pass at the next lruvec (per thread), so no cgroup's pages are always last.
let isolateCursor = 0;

/**
 * isolate_lru_pages: take up to `max` frames from the cold end into `out`, giving referenced ones a
 * second chance. Each isolated frame gets an extra reference so it cannot be freed under the caller.
 * `vec` < 0 is global reclaim (every lruvec, in turn); otherwise only that cgroup's lruvec.
 */
export function lruIsolate(a: Arena, out: Int32Array, max: number, vec = -1): number {
  const i32 = a.i32;
  spinLock(i32, a.lru + LRU_LOCK, LOCK_CLASS.LRU);
  let n = 0;
  if (vec >= 0) n = isolateVecLocked(a, vec, out, 0, max);
  else {
    const first = isolateCursor;
    for (let k = 0; k < NR_LRUVECS && n < max; k++) {
      const v = (first + k) % NR_LRUVECS;
      if (v === 0 || i32[lruvecHead(a, v) + LRUVEC_COUNT] > 0) n += isolateVecLocked(a, v, out, n, max);
    }
    isolateCursor = (first + 1) % NR_LRUVECS;
  }
  spinUnlock(i32, a.lru + LRU_LOCK);
  return n;
}

/** Pages on every lruvec. */
export function lruCount(a: Arena): number {
  let n = 0;
  for (let v = 0; v < NR_LRUVECS; v++) n += Atomics.load(a.i32, lruvecHead(a, v) + LRUVEC_COUNT);
  return n;
}

/** Pages on cgroup `id`'s lruvec. */
export function lruvecCount(a: Arena, id: number): number {
  return Atomics.load(a.i32, lruvecHead(a, id) + LRUVEC_COUNT);
}
