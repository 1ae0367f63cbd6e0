// The generic read path (mm/filemap.c + mm/readahead.c, reduced): find pages in the page cache, read
// missing ones through the filesystem's readahead with a window that grows on sequential access, wait
// on pages another thread is reading, copy out. No allocation per page.
import type { Kernel } from './kernel.ts';
import { PAGE_SIZE } from '../mm/arena.ts';
import { NIL } from '../mm/list.ts';
import { ctrAdd, ctrReadSigned, CTR } from './counters.ts';
import {
  frameAllocBatch,
  pageFlags,
  putPage,
  waitOnPageLocked,
  lockPage,
  unlockPage,
  setPageFlag,
  pageMapping,
  folioHead,
  folioMake,
  folioShrink,
  MAX_FOLIO_PAGES,
  FRAME_WORDS,
  F_FOLIO,
  PG_UPTODATE,
  PG_LOCKED,
  PG_REFERENCED,
} from '../mm/pagepool.ts';
import { findGetPage, tryGetPageAt, addToPageCache, pageCacheCountAdded, pageCached } from './pagecache.ts';
import { allocPage } from './reclaim.ts';
import { memcgTryCharge, chargedMemcg, memcgCancelCharge, memcgMarkRead, memcgRaLimit } from '../mm/memcontrol.ts';
import type { OpenFile } from './file.ts';
import { VfsError } from './errno.ts';
import { pointsOn, point } from '../mm/points.ts';
import { POINT } from './points.ts';
import { reportCheckFailure, invariantsOn, InvariantViolation } from '../mm/checkfail.ts';
import { inodeCount, inodeState, inodeGen, I_INUSE, I_FREEING } from './inode.ts';

/** s_maxbytes: a frame records its page index in an Int32, so no file may have more pages than that. */
export const MAX_FILE_BYTES = 2 ** 31 * PAGE_SIZE;

export const RA_INIT_PAGES = 4;
export const RA_MAX_PAGES = 32; // 128 KiB, the kernel's default read_ahead_kb

/**
 * page_cache_ra_unbounded: allocate, index and read the missing pages of [index, index + nr), in runs
 * of consecutive missing pages. Pages already cached are skipped. Returns pages read.
 *
 * A run's frames are all taken before any is indexed and given to its pages in ascending order (the
 * allocator hands out free frames in address order, but a run may wrap around the pool or mix in
 * frames reclaim found): adjacent frames are filled by one device read (one iovec) and copied out by a
 * warm read at once.
 */
export function doPageCacheRa(k: Kernel, file: OpenFile, index: number, nr: number): number {
  const a = k.a;
  if (invariantsOn) checkMappingLive(a, file, 'before');
  const read = pageCacheRa(k, file, index, nr);
  if (invariantsOn) checkMappingLive(a, file, 'after');
  return read;
}

/**
 * DBG_BUGON: the inode whose mapping a read fills must stay referenced and live — the open file or the
 * mapping pins it — from before its readahead until after. Reported, raised at the end of the call.
 */
function checkMappingLive(a: Kernel['a'], file: OpenFile, when: string): void {
  const m = file.mapping;
  const st = inodeState(a, m);
  if (inodeCount(a, m) <= 0 || (st & (I_INUSE | I_FREEING)) !== I_INUSE || inodeGen(a, m) !== file.mappingGen) {
    reportCheckFailure(
      new InvariantViolation(
        `${file.path}: inode ${m}, whose page cache a readahead fills, is not live ${when} the readahead (i_count ${inodeCount(a, m)}, state ${st}, generation ${inodeGen(a, m)}, pinned at ${file.mappingGen})`,
      ),
    );
  }
}

function pageCacheRa(k: Kernel, file: OpenFile, index: number, nr: number): number {
  const a = k.a;
  const lastPage = file.size === 0 ? -1 : Math.floor((file.size - 1) / PAGE_SIZE);
  // A window larger than a quarter of the pool would reclaim its own first pages before they are read.
  // So would one larger than a quarter of the reader's memory cgroup limit.
  const end = Math.min(index + Math.min(nr, Math.max(1, a.frameLimit >>> 2), memcgRaLimit(a)), lastPage + 1);
  const ops = file.aops;
  // A filesystem that reads in its own units grabs its own pages (z_erofs_readahead's readmore).
  if (ops.readaheadOwn !== undefined) return end > index ? ops.readaheadOwn(k, file, index, end - index) : 0;
  const frames = k.raFrames;
  let read = 0;
  let i = index;
  let starved = false;
  while (i < end && !starved) {
    while (i < end && pageCached(a, file.mapping, i)) i++;
    let want = 0;
    while (i + want < end && want < frames.length && (want === 0 || !pageCached(a, file.mapping, i + want))) want++;
    // Most of the run in one take from the free list, within the in-flight budget below.
    let got = 0;
    const room = (a.frameLimit >>> 1) - ctrReadSigned(a.i32, CTR.RA_INFLIGHT);
    if (want > 1 && room > 1) got = frameAllocBatch(a, frames, 0, Math.min(want, room - 1));
    for (let x = 1; x < got; x++) {
      const f = frames[x];
      let j = x;
      while (j > 0 && frames[j - 1] > f) {
        frames[j] = frames[j - 1];
        j--;
      }
      frames[j] = f;
    }
    for (; got < want; got++) {
      // Only the first page of a call is owed to the reader; the rest is opportunistic, and all readers'
      // readahead together may hold at most half the pool locked in flight, so an owed page always
      // finds frames coming back.
      const owed = read === 0 && got === 0;
      if (!owed && ctrReadSigned(a.i32, CTR.RA_INFLIGHT) + got >= a.frameLimit >>> 1) {
        starved = true;
        break;
      }
      const f = allocPage(a, k.ops, !owed);
      if (f === NIL) {
        starved = true;
        break;
      }
      // Insertion into the sorted prefix (at most 256 frames, usually already in order).
      let j = got;
      while (j > 0 && frames[j - 1] > f) {
        frames[j] = frames[j - 1];
        j--;
      }
      frames[j] = f;
    }
    // mem_cgroup_charge for the run at once (a cgroup at its limit reclaims, or the run shrinks).
    const charged = got > 0 ? memcgTryCharge(a, got, read === 0) : 0;
    const memcg = chargedMemcg();
    if (charged === 0 && got > 0 && read === 0) {
      // The page the reader waits for cannot be charged: its cgroup is at memory.max with nothing
      // reclaimable for longer than an allocation waits (an oom event; the kernel would OOM-kill).
      for (let x = 0; x < got; x++) putPage(a, frames[x]);
      throw new VfsError(
        'ENOMEM',
        `${file.path}: memory cgroup ${memcg} is at memory.max and nothing can be reclaimed`,
      );
    }
    if (charged < got) {
      for (let x = charged; x < got; x++) putPage(a, frames[x]);
      got = charged;
      starved = true;
    }
    // The run goes into the cache as folios (page_cache_ra_order): at each page the largest that its
    // index's alignment, the run and the frames allow, order 0 when the next frame is not adjacent.
    let n = 0;
    try {
      while (n < got) {
        const nr = folioPagesAt(a, frames, n, got, i + n);
        folioMake(a, frames, n, nr);
        let k = 0;
        while (k < nr && addToPageCache(a, frames[n + k], file.mapping, i + n + k, memcg, true)) k++;
        if (k < nr) {
          // Another thread indexed page k first: the folio keeps the pages indexed before it.
          if (k > 0) folioShrink(a, frames[n], k);
          n += k;
          break;
        }
        n += nr;
      }
    } finally {
      // The run is counted once, while all its pages are still locked (pageCacheCountAdded) — the pages
      // indexed before a failure too, so a first finding is not followed by a misleading count.
      pageCacheCountAdded(a, file.mapping, n);
    }
    for (let x = n; x < got; x++) putPage(a, frames[x]);
    memcgCancelCharge(a, memcg, got - n);
    if (n > 0) {
      ctrAdd(a.i32, CTR.RA_INFLIGHT, n);
      try {
        ops.readahead(k, file, i, n);
      } finally {
        ctrAdd(a.i32, CTR.RA_INFLIGHT, -n);
      }
      read += n;
    }
    i += n;
    if (n < got) i++; // the page another thread cached
  }
  return read;
}

/**
 * The pages of the largest folio that can start at frames[n] for page `index`: a power of two up to
 * MAX_FOLIO_PAGES that divides `index`, fits in the run's `got` frames, and whose frames continue
 * frames[n] one by one within its chunk (so the folio's bytes are one range of one buffer).
 */
function folioPagesAt(a: Kernel['a'], frames: Int32Array, n: number, got: number, index: number): number {
  const f0 = frames[n];
  const chunk = a.frameChunk(f0);
  let nr = 1;
  while (nr * 2 <= MAX_FOLIO_PAGES && n + nr * 2 <= got && index % (nr * 2) === 0) {
    const last = n + nr * 2 - 1;
    let x = n + nr;
    while (x <= last && frames[x] === f0 + (x - n)) x++;
    if (x <= last || a.frameChunk(frames[last]) !== chunk) break;
    nr *= 2;
  }
  return nr;
}

/** page_cache_sync_ra: pick the window for a miss at `index` and read it. */
function syncReadahead(k: Kernel, file: OpenFile, index: number, reqPages: number): void {
  let size: number;
  if (index === file.prevIndex + 1 || (file.raSize > 0 && index === file.raStart + file.raSize)) {
    size = Math.min(Math.max(file.raSize * 2, RA_INIT_PAGES), RA_MAX_PAGES);
  } else {
    size = Math.min(Math.max(reqPages, RA_INIT_PAGES), RA_MAX_PAGES);
  }
  file.raStart = index;
  file.raSize = size;
  doPageCacheRa(k, file, index, Math.max(size, Math.min(reqPages, RA_MAX_PAGES)));
}

// The hit path's batch (filemap_get_pages): pages found uptodate are pinned and their bytes gathered
// into one run while their frames lie back to back in one chunk (the allocator hands out runs of
// adjacent frames: mm/pagepool.ts), then copied with one copy and released. Module
// state, not per call: nothing is allocated per page (one view object per run: see flushRun).
// filemapRead does not re-enter itself.
const PIN_MAX = 256;
const pinned = new Int32Array(PIN_MAX);
let npinned = 0;
let runChunk: Buffer | null = null;
let runStart = 0;
let runEnd = 0;
let runDst = 0;

type FillFn = (this: Uint8Array, value: Uint8Array, start: number, end: number) => Uint8Array;
const fillBytes = (Buffer.prototype as { fill: FillFn }).fill;

/**
 * Copy the gathered run into dst and drop the references it pinned.
 *
 * The copy goes through Buffer#fill with the run as the fill value (exactly the range's length, so it
 * is copied once): that is a plain memcpy, where Buffer#copy and TypedArray#set copy out of shared
 * memory word by word with relaxed atomics — half the speed (13 vs 29 GB/s here for 128 KiB). A plain
 * copy is safe: a pinned, uptodate page's bytes do not change. The view is one small object per run,
 * as Buffer#copy makes internally for each copy.
 */
function flushRun(k: Kernel, dst: Uint8Array): void {
  const a = k.a;
  if (runChunk !== null)
    fillBytes.call(
      dst,
      new Uint8Array(runChunk.buffer, runChunk.byteOffset + runStart, runEnd - runStart),
      runDst,
      runDst + runEnd - runStart,
    );
  for (let i = 0; i < npinned; i++) putPage(a, pinned[i]);
  npinned = 0;
  runChunk = null;
}

/**
 * filemap_read: copy up to `len` bytes from file offset `pos` into dst[dstOff..]. Returns bytes copied
 * (short only at end of file).
 */
export function filemapRead(
  k: Kernel,
  file: OpenFile,
  pos: number,
  dst: Uint8Array,
  dstOff: number,
  len: number,
): number {
  const a = k.a;
  if (file.closed) throw new VfsError('EINVAL', `read of closed file ${file.path}`);
  const end = Math.min(pos + len, file.size);
  let copied = 0;
  let missStreak = 0;
  // Counted locally and published once per call: a shared counter bumped per page bounces its cache
  // line between the cores of concurrent readers.
  let hits = 0;
  let misses = 0;
  let next = NIL; // the frame after the last hit: where the next page usually is
  try {
    while (pos < end) {
      // Division, not `>>> PAGE_SHIFT`: a 32-bit shift wraps past 4 GiB and reads the wrong page.
      const index = Math.floor(pos / PAGE_SIZE);
      const f = next !== NIL && tryGetPageAt(a, next, file.mapping, index) ? next : findGetPage(a, file.mapping, index);
      next = NIL;
      if (f !== NIL) {
        if (pointsOn) point(POINT.AFTER_FIND_PAGE);
        const h = folioHead(a, f);
        const flags = pageFlags(a, h);
        if (flags & PG_UPTODATE) {
          // The hit: pin the folio once, extend the run (or start a new one) over every page of the folio
          // the request covers — the folio's frames are one range of one chunk — no copy yet.
          const off = pos & (PAGE_SIZE - 1);
          const lastFrame = h + a.i32[a.frames + h * FRAME_WORDS + F_FOLIO] - 1;
          const n = Math.min((lastFrame - f + 1) * PAGE_SIZE - off, end - pos);
          const chunk = a.frameChunk(f);
          const base = a.frameOffset(f) + off;
          if (chunk !== runChunk || base !== runEnd || npinned === PIN_MAX) {
            flushRun(k, dst);
            runChunk = chunk;
            runStart = base;
            runEnd = base;
            runDst = dstOff + copied;
          }
          runEnd += n;
          pinned[npinned++] = h;
          const pages = Math.floor((off + n - 1) / PAGE_SIZE) + 1;
          hits += missStreak === 0 ? pages : pages - 1; // a page just read in is not a hit
          missStreak = 0;
          for (let p = 0; p < pages; p++) memcgMarkRead(a, f + p);
          next = f + pages;
          if (!(flags & PG_REFERENCED)) setPageFlag(a, h, PG_REFERENCED);
          file.prevIndex = index + pages - 1;
          pos += n;
          copied += n;
          continue;
        }
      }
      flushRun(k, dst);
      if (f === NIL) {
        misses++;
        if (++missStreak > 64)
          throw new VfsError('EIO', `${file.path}: page ${index} keeps disappearing (pool too small?)`);
        const lastIdx = Math.floor((end - 1) / PAGE_SIZE);
        syncReadahead(k, file, index, lastIdx - index + 1);
        continue;
      }
      // Found but not uptodate: being read by another thread, or its read failed.
      if (pageFlags(a, f) & PG_LOCKED) waitOnPageLocked(a, f);
      if (!(pageFlags(a, f) & PG_UPTODATE)) {
        // The read failed (or was never done): read it ourselves, as filemap_read_folio does.
        lockPage(a, f);
        if (pageFlags(a, f) & PG_UPTODATE || pageMapping(a, f) !== file.mapping) {
          unlockPage(a, f);
        } else {
          try {
            file.aops.readFolio(k, file, f, index);
          } catch (e) {
            putPage(a, f);
            throw e;
          }
        }
        if (!(pageFlags(a, f) & PG_UPTODATE)) {
          putPage(a, f);
          continue;
        }
      }
      missStreak = 0;
      const off = pos & (PAGE_SIZE - 1);
      const n = Math.min(PAGE_SIZE - off, end - pos);
      const base = a.frameOffset(f) + off;
      a.frameChunk(f).copy(dst, dstOff + copied, base, base + n);
      if (!(pageFlags(a, f) & PG_REFERENCED)) setPageFlag(a, f, PG_REFERENCED);
      memcgMarkRead(a, f);
      putPage(a, f);
      file.prevIndex = index;
      pos += n;
      copied += n;
    }
  } finally {
    flushRun(k, dst);
    if (hits) ctrAdd(a.i32, CTR.HITS, hits);
    if (misses) ctrAdd(a.i32, CTR.MISSES, misses);
  }
  return copied;
}

const scratch = new Uint8Array(1);

/**
 * The zero-copy read (what an mmap of a cached file gives): pin the pages holding [pos, pos + len),
 * each uptodate, into `out` (frame numbers, in page order) and return how many. A page not cached or
 * not uptodate is brought in by a one-byte filemapRead — readahead, waiting for another reader,
 * read_folio after a failed read, all as for a copying read — and looked up again. The caller reads
 * the frames' bytes in place and must drop every reference with filemapUnpin.
 */
export function filemapPin(k: Kernel, file: OpenFile, pos: number, len: number, out: Int32Array): number {
  const a = k.a;
  if (file.closed) throw new VfsError('EINVAL', `read of closed file ${file.path}`);
  const end = Math.min(pos + len, file.size);
  if (pos >= end) return 0;
  const first = Math.floor(pos / PAGE_SIZE);
  const last = Math.floor((end - 1) / PAGE_SIZE);
  if (last - first + 1 > out.length)
    throw new RangeError(`${last - first + 1} pages do not fit in ${out.length} slots`);
  let n = 0;
  let next = NIL;
  try {
    for (let index = first; index <= last; index++) {
      for (let tries = 0; ; tries++) {
        if (tries > 64) throw new VfsError('EIO', `${file.path}: page ${index} keeps disappearing (pool too small?)`);
        const f =
          next !== NIL && tryGetPageAt(a, next, file.mapping, index) ? next : findGetPage(a, file.mapping, index);
        next = NIL;
        if (f !== NIL && pageFlags(a, f) & PG_UPTODATE) {
          if (!(pageFlags(a, f) & PG_REFERENCED)) setPageFlag(a, f, PG_REFERENCED);
          memcgMarkRead(a, f);
          out[n++] = f;
          next = f + 1;
          break;
        }
        if (f !== NIL) putPage(a, f);
        filemapRead(k, file, index * PAGE_SIZE, scratch, 0, 1);
      }
    }
  } catch (e) {
    filemapUnpin(k, out, n);
    throw e;
  }
  file.prevIndex = last;
  return n;
}

/** Drop the references filemapPin took. */
export function filemapUnpin(k: Kernel, frames: Int32Array, n: number): void {
  for (let i = 0; i < n; i++) putPage(k.a, frames[i]);
}

/** readahead(2) / posix_fadvise(WILLNEED): populate [pos, pos + len) without copying. */
export function readaheadRange(k: Kernel, file: OpenFile, pos: number, len: number): number {
  if (file.closed) throw new VfsError('EINVAL', `readahead of closed file ${file.path}`);
  const end = Math.min(pos + len, file.size);
  if (pos >= end) return 0;
  const first = Math.floor(pos / PAGE_SIZE);
  const last = Math.floor((end - 1) / PAGE_SIZE);
  let read = 0;
  for (let i = first; i <= last; i += RA_MAX_PAGES)
    read += doPageCacheRa(k, file, i, Math.min(RA_MAX_PAGES, last - i + 1));
  return read;
}
