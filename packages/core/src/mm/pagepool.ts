// The page pool: frame descriptors (struct page/folio) and the frames themselves.
// Owns the descriptor layout, page flags and the page lock, refcounts, the free list and the LRU.
// The page *index* (which mapping/index a frame caches) is vfs/pagecache.ts's; reclaim is
// vfs/reclaim.ts's.
//
// Refcount rule (as the kernel's): the page cache holds one reference per indexed page; each reader that
// found a page holds one more until put_page. A frame returns to the free list when the count drops to
// zero, which can only happen once it has left the page cache.
//
// Folios (struct folio, as page_cache_ra_order allocates them): a run of nr adjacent frames of one chunk
// caching nr consecutive pages of one mapping, the first page's index a multiple of nr, nr <= 512
// (2 MiB). The first frame is the head: it carries the reference count, the flags (locked, uptodate,
// error, lru, referenced) and the LRU links for the whole folio; the other frames, the tails, keep only
// their own page's mapping, index, hash link, mapping-list link and memory cgroup (charges stay per
// page, so every page-cache and memcg figure counts pages exactly). F_FOLIO tells them apart: nr on a
// head, -(head + 1) on a tail; a free or freshly allocated frame is an order-0 head (1). Every page
// operation below (get/put, flags, lock, LRU) acts on the folio of the page it is given (page_folio),
// so a caller holding a page holds its folio; the page cache holds nr references on a head, one per
// page it indexes (folio_ref_add(folio, nr) in __filemap_add_folio). A tail's F_REF and F_FLAGS stay 0.
import type { Arena, ArenaCounts } from './arena.ts';
import { spinLock, spinUnlock } from './spinlock.ts';
import { LOCK_CLASS } from './lockstat.ts';
import { MAX_THREADS } from './regions.ts';
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
/** Folio structure: nr pages on a head (1 = order 0, as every free frame), -(head + 1) on a tail. */
export const F_FOLIO = 10;
export const FRAME_WORDS = 11;
/** The largest folio: 512 pages, 2 MiB (PMD order). */
export const MAX_FOLIO_PAGES = 512;

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
// Free frames: lock, next-fit cursor, free count, used count, each allocation slot's extent, then a
// bitmap (bit set = frame free). Allocation takes the next free frames at or after the cursor in
// address order, so a run of pages gets a run of adjacent frames whenever free frames lie side by side
// — after drop-caches, all of them — whatever order reclaim freed them in (a free stack handed them
// back scrambled: referenced pages get a second pass on the LRU, so reclaim frees in no file order).
// Adjacent frames are read with one iovec and copied with one copy.
//
// Each thread allocates within an extent of its own (ALLOC_EXTENT frames, claimed at the shared cursor,
// which then moves past it), as each CPU allocates from its own per-cpu page lists: two readers filling
// at once no longer take turns at one cursor, which cut every file's run of frames at each of the other's
// readahead batches (2,904 files read by two workers lay in ~4,400–4,900 runs instead of 2,904, and a
// warm pass over them cost 5–12% more CPU). The extent is a preference, not a reservation: its frames
// stay free in the bitmap, and the shared cursor finds them again after it wraps. A thread alone takes
// frames in next-fit order from where its extent began (its extents follow one another); an extent left
// from an earlier fill (slots outlive threads; drop-caches empties them, frameAllocRewind) is used up
// first, so such a fill may start with up to ALLOC_EXTENT - 1 frames elsewhere — one extra run,
// locality only.
const FREE_LOCK = 0;
const FREE_CURSOR = 1;
const FREE_COUNT = 2;
const FREE_USED = 3;
/** Per allocation slot: [next frame to try, end of the slot's extent]. */
const FREE_SLOTS = 4;
const FREE_SLOT_WORDS = 2;
/**
 * Allocation slots; a thread's is its id modulo this. Threads sharing a slot (ids are never reused, so
 * after 64 threads have attached, or in a pool of more) share its extent and take turns in it as all
 * threads did at the one cursor: locality only.
 */
export const ALLOC_SLOTS = MAX_THREADS;
/** Frames per extent (2 MiB): many readahead batches of 256 frames at most (Kernel.raFrames). */
export const ALLOC_EXTENT = 512;
const FREE_MAP = FREE_SLOTS + ALLOC_SLOTS * FREE_SLOT_WORDS;
export const FREE_HEAD_WORDS = FREE_MAP;
/** This thread's allocation slot word (set by pagePoolAttach). */
let allocSlot = FREE_SLOTS;

/** This thread's allocation slot, from its thread id (vfs/kernel.ts, when a thread attaches). */
export function pagePoolAttach(threadId: number): void {
  allocSlot = FREE_SLOTS + (threadId % ALLOC_SLOTS) * FREE_SLOT_WORDS;
}

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
    i32[r + F_FOLIO] = 1;
  }
  const words = (a.nframes + 31) >>> 5;
  for (let w = 0; w < words; w++) i32[a.free + FREE_MAP + w] = -1;
  if (a.nframes & 31) i32[a.free + FREE_MAP + words - 1] = (1 << (a.nframes & 31)) - 1;
  i32[a.free + FREE_LOCK] = 0;
  i32[a.free + FREE_CURSOR] = 0;
  for (let x = 0; x < ALLOC_SLOTS * FREE_SLOT_WORDS; x++) i32[a.free + FREE_SLOTS + x] = 0;
  i32[a.free + FREE_COUNT] = a.nframes;
  i32[a.free + FREE_USED] = 0;
  i32[a.lru + LRU_LOCK] = 0;
  for (let v = 0; v < NR_LRUVECS; v++) {
    listInitHead(i32, lruvecHead(a, v));
    i32[lruvecHead(a, v) + LRUVEC_COUNT] = 0;
  }
}

/**
 * drop_caches's hand-back: allocation starts over at the lowest free frame, every thread's extent
 * dropped, so the fills that follow write the frames the last ones wrote rather than going on round the
 * pool — as the kernel's free lists hand the most recently freed, cache-hot pages out first. Next-fit
 * alone walks a pool bigger than the data: each fill after a drop began where the last one stopped and
 * wrote the frames that had sat unused longest. A page's first write after it sat unused costs more than
 * a recent one's, in caches and TLBs anywhere and far more on this project's VMs, where the kernel's
 * `pread` into a 256 MiB buffer left alone for 10 / 30 / 90 s took 1.4–1.8× / 3.8–5× / 5.7–7.5× the CPU
 * of one into the same buffer written a moment before, and a fill after a 20 s pause in a pool four
 * times the data took a third less CPU with the rewind than without.
 */
export function frameAllocRewind(a: Arena): void {
  const i32 = a.i32;
  spinLock(i32, a.free + FREE_LOCK, LOCK_CLASS.FREE);
  i32[a.free + FREE_CURSOR] = 0;
  for (let x = 0; x < ALLOC_SLOTS * FREE_SLOT_WORDS; x++) i32[a.free + FREE_SLOTS + x] = 0;
  spinUnlock(i32, a.free + FREE_LOCK);
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

/**
 * The next free frame in this thread's extent, or else at or after the shared cursor (wrapping), which
 * starts a new extent there; marked used. NIL if none. Free lock held.
 */
function takeFreeLocked(a: Arena): number {
  const i32 = a.i32;
  if (lockdepOn)
    lockdepAccess(i32, a.free + FREE_LOCK, a.free + FREE_COUNT, PROT.FREE_LIST, SITE.FRAME_ALLOC, -1, true);
  if (i32[a.free + FREE_COUNT] === 0) return NIL;
  const map = a.free + FREE_MAP;
  const slot = a.free + allocSlot;
  let f = freeFrameIn(i32, map, i32[slot], i32[slot + 1]);
  if (f === NIL) {
    // A new extent from the shared cursor: next-fit over the whole bitmap, wrapping.
    const words = (a.nframes + 31) >>> 5;
    let w = i32[a.free + FREE_CURSOR] >>> 5;
    // Bits below the cursor in its word are skipped on the first visit, found on the wrap.
    let bits = i32[map + w] & (-1 << (i32[a.free + FREE_CURSOR] & 31));
    for (let n = 0; bits === 0 && n <= words; n++) {
      w = w + 1 === words ? 0 : w + 1;
      bits = i32[map + w];
    }
    if (bits === 0) return NIL;
    f = (w << 5) + 31 - Math.clz32(bits & -bits);
    const end = Math.min(f + ALLOC_EXTENT, a.nframes);
    i32[slot + 1] = end;
    i32[a.free + FREE_CURSOR] = end < a.nframes ? end : 0;
  }
  if (lockdepOn) lockdepAccess(i32, a.free + FREE_LOCK, map + (f >>> 5), PROT.FREE_MAP, SITE.FRAME_ALLOC, -1, true);
  i32[map + (f >>> 5)] &= ~(1 << (f & 31));
  i32[slot] = f + 1;
  i32[a.free + FREE_COUNT]--;
  i32[a.free + FREE_USED]++;
  return f;
}

/** The first free frame in [from, end) of the bitmap at `map`, or NIL. */
function freeFrameIn(i32: Int32Array, map: number, from: number, end: number): number {
  if (from >= end) return NIL;
  let w = from >>> 5;
  let bits = i32[map + w] & (-1 << (from & 31));
  const lastW = (end - 1) >>> 5;
  while (bits === 0) {
    if (++w > lastW) return NIL;
    bits = i32[map + w];
  }
  const f = (w << 5) + 31 - Math.clz32(bits & -bits);
  return f < end ? f : NIL;
}

function initAllocated(i32: Int32Array, r: number): void {
  i32[r + F_FOLIO] = 1;
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

/** Return a folio (head f, every page out of the page cache, no reference left) to the free list. */
export function frameFree(a: Arena, f: number): void {
  const i32 = a.i32;
  const r = a.frames + f * FRAME_WORDS;
  const nr = i32[r + F_FOLIO];
  // bad_page (free_pages_check): a frame whose last reference goes must be off the LRU — a page on the
  // LRU is one the page cache still holds.
  if (invariantsOn && Atomics.load(i32, r + F_FLAGS) & PG_LRU) {
    reportCheckFailure(
      new InvariantViolation(
        `bad page: frame ${f} freed while on the LRU (mapping ${i32[r + F_MAPPING]}, index ${i32[r + F_INDEX]})`,
      ),
    );
  }
  // Tails first become order-0 frames again, then the head: a lockless look at a tail (tryGetPageAt)
  // that still read the old head finds it free (count zero) or not this tail's head any more.
  for (let t = f + nr - 1; t >= f; t--) {
    const rt = a.frames + t * FRAME_WORDS;
    Atomics.store(i32, rt + F_FLAGS, PG_FREE);
    i32[rt + F_MAPPING] = NIL;
    i32[rt + F_HASH_NEXT] = NIL;
    i32[rt + F_FOLIO] = 1;
  }
  spinLock(i32, a.free + FREE_LOCK, LOCK_CLASS.FREE);
  for (let t = f; t < f + nr; t++) {
    if (lockdepOn) {
      lockdepAccess(i32, a.free + FREE_LOCK, a.free + FREE_COUNT, PROT.FREE_LIST, SITE.FRAME_FREE, t, true);
      lockdepAccess(i32, a.free + FREE_LOCK, a.free + FREE_MAP + (t >>> 5), PROT.FREE_MAP, SITE.FRAME_FREE, t, true);
    }
    i32[a.free + FREE_MAP + (t >>> 5)] |= 1 << (t & 31);
  }
  i32[a.free + FREE_COUNT] += nr;
  i32[a.free + FREE_USED] -= nr;
  spinUnlock(i32, a.free + FREE_LOCK);
}

/**
 * page_folio: the head of the folio frame f belongs to (f itself for a head). Stable while the caller
 * holds a reference to the folio; a lockless caller must check it again after taking one.
 */
export function folioHead(a: Arena, f: number): number {
  const v = a.i32[a.frames + f * FRAME_WORDS + F_FOLIO];
  return v > 0 ? f : -v - 1;
}
/** folio_nr_pages of the folio frame f belongs to. */
export function folioNrPages(a: Arena, f: number): number {
  const i32 = a.i32;
  const v = i32[a.frames + f * FRAME_WORDS + F_FOLIO];
  return v > 0 ? v : i32[a.frames + (-v - 1) * FRAME_WORDS + F_FOLIO];
}
/** True when frame f is the last page of its folio. */
export function folioLastPage(a: Arena, f: number): boolean {
  const h = folioHead(a, f);
  return h + a.i32[a.frames + h * FRAME_WORDS + F_FOLIO] - 1 === f;
}

/**
 * Make frames[at, at + nr) — just allocated (frameAlloc: one reference each, locked), adjacent, of one
 * chunk — one folio headed by frames[at]: the head gains the tails' allocation references and keeps the
 * lock. Nothing can find the frames in the page cache yet, but a sequential reader's hint
 * (tryGetPageAt) may hold a frame for an instant: a tail gives up its reference only once it is the
 * sole one (so such a reader puts back to the frame it took from), then names its head.
 */
export function folioMake(a: Arena, frames: Int32Array, at: number, nr: number): void {
  if (nr <= 1) return;
  const i32 = a.i32;
  const h = frames[at];
  for (let t = h + 1; t < h + nr; t++) {
    const rt = a.frames + t * FRAME_WORDS;
    // A hint reader's look (reference, flags test, put) ends at once.
    for (;;) if (Atomics.compareExchange(i32, rt + F_REF, 1, 0) === 1) break;
    Atomics.store(i32, rt + F_FLAGS, 0);
    i32[rt + F_FOLIO] = -h - 1;
  }
  i32[a.frames + h * FRAME_WORDS + F_FOLIO] = nr;
  Atomics.add(i32, a.frames + h * FRAME_WORDS + F_REF, nr - 1);
}

/**
 * Cut folio h (locked, not uptodate, its pages from `keep` on in no page-cache index) down to its first
 * `keep` pages; the frames cut off become order-0 frames as frameAlloc leaves them (locked, one
 * reference each), for the caller to put. A lockless look at a cut frame that read its old head finds
 * this no longer its head; one that reads it as its own head finds it locked and not uptodate.
 */
export function folioShrink(a: Arena, h: number, keep: number): void {
  const i32 = a.i32;
  const nr = i32[a.frames + h * FRAME_WORDS + F_FOLIO];
  if (keep >= nr) return;
  for (let t = h + keep; t < h + nr; t++) {
    const rt = a.frames + t * FRAME_WORDS;
    Atomics.store(i32, rt + F_FLAGS, PG_LOCKED);
    i32[rt + F_FOLIO] = 1;
    Atomics.store(i32, rt + F_REF, 1); // only now: while it named a head, nothing could raise it from zero
  }
  i32[a.frames + h * FRAME_WORDS + F_FOLIO] = keep;
  Atomics.sub(i32, a.frames + h * FRAME_WORDS + F_REF, nr - keep);
}

export function framesFree(a: Arena): number {
  return Atomics.load(a.i32, a.free + FREE_COUNT);
}
export function framesUsed(a: Arena): number {
  return Atomics.load(a.i32, a.free + FREE_USED);
}

/** The flags word of frame f's folio (its head's). */
function flagsWord(a: Arena, f: number): number {
  const r = a.frames + f * FRAME_WORDS;
  const v = a.i32[r + F_FOLIO];
  return v > 0 ? r + F_FLAGS : a.frames + (-v - 1) * FRAME_WORDS + F_FLAGS;
}
/** The reference count word of frame f's folio (its head's). */
function refWord(a: Arena, f: number): number {
  const r = a.frames + f * FRAME_WORDS;
  const v = a.i32[r + F_FOLIO];
  return v > 0 ? r + F_REF : a.frames + (-v - 1) * FRAME_WORDS + F_REF;
}

/** The flags of page f's folio. */
export function pageFlags(a: Arena, f: number): number {
  return Atomics.load(a.i32, flagsWord(a, f));
}
/** The reference count of page f's folio. */
export function pageRef(a: Arena, f: number): number {
  return Atomics.load(a.i32, refWord(a, f));
}
export function pageMapping(a: Arena, f: number): number {
  return a.i32[a.frames + f * FRAME_WORDS + F_MAPPING];
}
export function pageIndex(a: Arena, f: number): number {
  return a.i32[a.frames + f * FRAME_WORDS + F_INDEX];
}

/**
 * folio_try_get: take a reference to the folio headed by frame h unless its count is zero (being freed,
 * or h is a tail: a tail's own count is always zero, and a frame names a head only while its own count
 * is zero, so a frame whose count a caller raised is a head until that reference is put). A lockless
 * caller that read h as some page's head must check afterwards that it still is (folioHead).
 */
export function tryGetPage(a: Arena, h: number): boolean {
  const i32 = a.i32;
  const w = a.frames + h * FRAME_WORDS + F_REF;
  for (let r = Atomics.load(i32, w); r > 0;) {
    const seen = Atomics.compareExchange(i32, w, r, r + 1);
    if (seen === r) return true;
    r = seen;
  }
  ctrInc(i32, CTR.PAGE_REF_REFUSED);
  return false;
}

export function getPage(a: Arena, f: number): void {
  Atomics.add(a.i32, refWord(a, f), 1);
}

/** put_page: drop a reference to page f's folio; the last one frees it (it has left the page cache). */
export function putPage(a: Arena, f: number): void {
  const h = folioHead(a, f);
  const old = Atomics.sub(a.i32, a.frames + h * FRAME_WORDS + F_REF, 1);
  if (old === 1) frameFree(a, h);
}

/** folio_put_refs: drop n references to page f's folio at once. */
export function putPages(a: Arena, f: number, n: number): void {
  if (n <= 0) return;
  const h = folioHead(a, f);
  const old = Atomics.sub(a.i32, a.frames + h * FRAME_WORDS + F_REF, n);
  if (old === n) frameFree(a, h);
}

export function setPageFlag(a: Arena, f: number, bit: number): void {
  Atomics.or(a.i32, flagsWord(a, f), bit);
}
export function clearPageFlag(a: Arena, f: number, bit: number): void {
  Atomics.and(a.i32, flagsWord(a, f), ~bit);
}

/** trylock_page: set PG_LOCKED if it was clear. */
export function trylockPage(a: Arena, f: number): boolean {
  return (Atomics.or(a.i32, flagsWord(a, f), PG_LOCKED) & PG_LOCKED) === 0;
}

/** lock_page: sleep on the flags word until the lock is ours. */
export function lockPage(a: Arena, f: number): void {
  while (!trylockPage(a, f)) waitOnPageLocked(a, f);
}

/** unlock_page: clear PG_LOCKED and wake sleepers (only if any announced themselves). */
export function unlockPage(a: Arena, f: number): void {
  const w = flagsWord(a, f);
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
  const w = flagsWord(a, f);
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

/** Pages of the folio headed by h (its F_FOLIO). */
function nrOfHead(i32: Int32Array, a: Arena, h: number): number {
  return i32[a.frames + h * FRAME_WORDS + F_FOLIO];
}

/**
 * Put page f's folio on the LRU (mark_page_accessed for a new page). The LRU holds folios (heads); its
 * counts are in pages.
 */
export function lruAdd(a: Arena, f: number): void {
  const i32 = a.i32;
  const h = folioHead(a, f);
  spinLock(i32, a.lru + LRU_LOCK, LOCK_CLASS.LRU);
  const head = frameLruvec(a, h);
  if (lockdepOn) lruAccess(a, head, h, SITE.LRU_ADD);
  const flags = Atomics.load(i32, a.frames + h * FRAME_WORDS + F_FLAGS);
  if (!(flags & PG_LRU)) {
    listAdd(i32, frameSpecs(a).lru, head, h);
    Atomics.or(i32, a.frames + h * FRAME_WORDS + F_FLAGS, PG_LRU);
    i32[head + LRUVEC_COUNT] += nrOfHead(i32, a, h);
  }
  spinUnlock(i32, a.lru + LRU_LOCK);
}

/**
 * putback_lru_page for reclaim's isolated folio h that it could not drop: back on the LRU, unless its head
 * page has left the page cache meanwhile (tested under the LRU lock: a removal clears the page's mapping
 * before it takes the folio off the LRU, so whichever of the two comes second sees the other's work, and
 * a folio whose pages are going is never put back after its last lruDel).
 */
export function lruPutback(a: Arena, h: number): void {
  const i32 = a.i32;
  spinLock(i32, a.lru + LRU_LOCK, LOCK_CLASS.LRU);
  const head = frameLruvec(a, h);
  if (lockdepOn) lruAccess(a, head, h, SITE.LRU_ADD);
  const r = a.frames + h * FRAME_WORDS;
  if (!(Atomics.load(i32, r + F_FLAGS) & PG_LRU) && Atomics.load(i32, r + F_MAPPING) !== NIL) {
    listAdd(i32, frameSpecs(a).lru, head, h);
    Atomics.or(i32, r + F_FLAGS, PG_LRU);
    i32[head + LRUVEC_COUNT] += nrOfHead(i32, a, h);
  }
  spinUnlock(i32, a.lru + LRU_LOCK);
}

/**
 * lruAdd for the folios whose last page is among frames[first, first + count), under one lock taking (a
 * folio batch's add to the LRU).
 */
export function lruAddBatch(a: Arena, frames: Int32Array, first: number, count: number): void {
  const i32 = a.i32;
  const spec = frameSpecs(a).lru;
  spinLock(i32, a.lru + LRU_LOCK, LOCK_CLASS.LRU);
  for (let x = first; x < first + count; x++) {
    // A folio joins the LRU once, with its last page: a folio read in two runs added with its first would
    // be on the LRU while still being read, and could be isolated there and added again under reclaim.
    if (!folioLastPage(a, frames[x])) continue;
    const h = folioHead(a, frames[x]);
    const fw = a.frames + h * FRAME_WORDS + F_FLAGS;
    const head = frameLruvec(a, h);
    if (lockdepOn) lruAccess(a, head, h, SITE.LRU_ADD_BATCH);
    if (!(Atomics.load(i32, fw) & PG_LRU)) {
      listAdd(i32, spec, head, h);
      Atomics.or(i32, fw, PG_LRU);
      i32[head + LRUVEC_COUNT] += nrOfHead(i32, a, h);
    }
  }
  spinUnlock(i32, a.lru + LRU_LOCK);
}

/** Remove page f's folio from the LRU if it is there (caller is deleting it from the page cache). */
export function lruDel(a: Arena, f: number): void {
  const i32 = a.i32;
  const h = folioHead(a, f);
  spinLock(i32, a.lru + LRU_LOCK, LOCK_CLASS.LRU);
  const head = frameLruvec(a, h);
  if (lockdepOn) lruAccess(a, head, h, SITE.LRU_DEL);
  if (Atomics.load(i32, a.frames + h * FRAME_WORDS + F_FLAGS) & PG_LRU) {
    listDel(i32, frameSpecs(a).lru, head, h);
    Atomics.and(i32, a.frames + h * FRAME_WORDS + F_FLAGS, ~PG_LRU);
    i32[head + LRUVEC_COUNT] -= nrOfHead(i32, a, h);
  }
  spinUnlock(i32, a.lru + LRU_LOCK);
}

/**
 * mem_cgroup_move_account's LRU half: charge page f to cgroup `to`. A folio sits on the lruvec of its
 * head's cgroup: moving a head's charge moves the folio to that cgroup's lruvec if it is on an LRU (an
 * isolated folio goes back to the new one when it is put back); a tail's charge moves alone. The caller
 * holds what keeps the charge still (mm/memcontrol.ts: the page's index bucket lock).
 */
export function lruvecMove(a: Arena, f: number, to: number): void {
  const i32 = a.i32;
  const s = frameSpecs(a).lru;
  spinLock(i32, a.lru + LRU_LOCK, LOCK_CLASS.LRU);
  if (folioHead(a, f) !== f) {
    i32[a.frames + f * FRAME_WORDS + F_MEMCG] = to;
    spinUnlock(i32, a.lru + LRU_LOCK);
    return;
  }
  const nr = nrOfHead(i32, a, f);
  const from = frameLruvec(a, f);
  if (lockdepOn) lruAccess(a, from, f, SITE.LRU_MOVE);
  const onLru = (Atomics.load(i32, a.frames + f * FRAME_WORDS + F_FLAGS) & PG_LRU) !== 0;
  if (onLru) {
    listDel(i32, s, from, f);
    i32[from + LRUVEC_COUNT] -= nr;
  }
  i32[a.frames + f * FRAME_WORDS + F_MEMCG] = to;
  if (onLru) {
    const head = lruvecHead(a, to);
    if (lockdepOn) lruAccess(a, head, f, SITE.LRU_MOVE);
    listAdd(i32, s, head, f);
    i32[head + LRUVEC_COUNT] += nr;
  }
  spinUnlock(i32, a.lru + LRU_LOCK);
}

/** Isolate from one lruvec's cold end. LRU lock held. */
// Pages taken by the lruIsolate call in progress (per thread; it never re-enters itself).
let isolatedPages = 0;

function isolateVecLocked(a: Arena, v: number, out: Int32Array, at: number, maxPages: number): number {
  const i32 = a.i32;
  const s = frameSpecs(a).lru;
  const head = lruvecHead(a, v);
  if (lockdepOn) {
    lockdepAccess(i32, a.lru + LRU_LOCK, head, PROT.LRU, SITE.LRU_ISOLATE, -1, true);
    lockdepAccess(i32, a.lru + LRU_LOCK, head + LRUVEC_COUNT, PROT.LRU_COUNT, SITE.LRU_ISOLATE, -1, true);
  }
  let n = at;
  let budget = i32[head + LRUVEC_COUNT] * 2 + 1; // pages: at least twice the folios
  // The budget is in pages, as isolate_lru_folios counts folio_nr_pages into nr_taken (a folio at least).
  while (n < out.length && isolatedPages < maxPages && budget-- > 0) {
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
    const nr = nrOfHead(i32, a, f);
    i32[head + LRUVEC_COUNT] -= nr;
    isolatedPages += nr;
    Atomics.add(i32, a.frames + f * FRAME_WORDS + F_REF, 1);
    out[n++] = f;
  }
  return n - at;
}

// Global reclaim starts each pass at the next lruvec (per thread), so no cgroup's pages are always last.
let isolateCursor = 0;

/**
 * isolate_lru_folios: take folios (their heads) from the cold end into `out` until they hold `maxPages`
 * pages (at least one folio) or `out` is full, giving referenced ones a second chance. Each isolated folio
 * gets an extra reference so it cannot be freed under the caller. Returns the folios taken. `vec` < 0 is
 * global reclaim (every lruvec, in turn); otherwise only that cgroup's lruvec.
 */
export function lruIsolate(a: Arena, out: Int32Array, maxPages: number, vec = -1): number {
  const i32 = a.i32;
  spinLock(i32, a.lru + LRU_LOCK, LOCK_CLASS.LRU);
  isolatedPages = 0;
  let n = 0;
  if (vec >= 0) n = isolateVecLocked(a, vec, out, 0, maxPages);
  else {
    const first = isolateCursor;
    for (let k = 0; k < NR_LRUVECS && n < out.length && isolatedPages < maxPages; k++) {
      const v = (first + k) % NR_LRUVECS;
      if (v === 0 || i32[lruvecHead(a, v) + LRUVEC_COUNT] > 0) n += isolateVecLocked(a, v, out, n, maxPages);
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
