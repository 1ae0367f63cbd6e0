// The generic read path (mm/filemap.c + mm/readahead.c, reduced): find pages in the page cache, read
// missing ones through the filesystem's readahead with a window that grows on sequential access, wait
// on pages another thread is reading, copy out. No allocation per page.
import type { Kernel } from '../kernel.ts';
import { PAGE_SIZE } from '../mm/arena.ts';
import { NIL } from '../mm/list.ts';
import { ctrInc, ctrAdd, ctrReadSigned, CTR } from '../mm/counters.ts';
import {
  pageFlags, putPage, waitOnPageLocked, lockPage, unlockPage, setPageFlag, pageMapping,
  PG_UPTODATE, PG_LOCKED, PG_REFERENCED,
} from '../mm/pagepool.ts';
import { findGetPage, addToPageCache, pageCached } from './pagecache.ts';
import { allocPage } from './reclaim.ts';
import type { OpenFile } from './file.ts';
import { erofsReadahead, erofsReadFolio } from '../fs/erofs/data.ts';
import { zReadahead } from '../fs/erofs/zdata.ts';
import { ErofsError } from '../erofs/errors.ts';
import { POINT, hooksOn, point } from '../debug/hooks.ts';

/** s_maxbytes: a frame records its page index in an Int32, so no file may have more pages than that. */
export const MAX_FILE_BYTES = 2 ** 31 * PAGE_SIZE;

export const RA_INIT_PAGES = 4;
export const RA_MAX_PAGES = 32; // 128 KiB, the kernel's default read_ahead_kb

/**
 * page_cache_ra_unbounded: allocate, index and read the missing pages of [index, index + nr), in runs
 * of consecutive missing pages. Pages already cached are skipped. Returns pages read.
 */
export function doPageCacheRa(k: Kernel, file: OpenFile, index: number, nr: number): number {
  const a = k.a;
  const lastPage = file.size === 0 ? -1 : Math.floor((file.size - 1) / PAGE_SIZE);
  // A window larger than a quarter of the pool would reclaim its own first pages before they are read.
  const end = Math.min(index + Math.min(nr, Math.max(1, a.frameLimit >>> 2)), lastPage + 1);
  // Compressed files read pcluster by pcluster and grab their own pages (z_erofs_readahead).
  if (file.compressed) return end > index ? zReadahead(k, file, index, end - index) : 0;
  const frames = k.raFrames;
  let read = 0;
  let i = index;
  let starved = false;
  while (i < end && !starved) {
    let n = 0;
    for (; i < end && n < frames.length; i++) {
      if (pageCached(a, file.mapping, i)) {
        if (n > 0) break;
        continue;
      }
      // Only the first page of a call is owed to the reader; the rest is opportunistic, and all readers'
      // readahead together may hold at most half the pool locked in flight, so an owed page always
      // finds frames coming back.
      const owed = read === 0 && n === 0;
      if (!owed && ctrReadSigned(a.i32, CTR.RA_INFLIGHT) + n >= a.frameLimit >>> 1) {
        starved = true;
        break;
      }
      const f = allocPage(a, k.ops, !owed);
      if (f === NIL) {
        starved = true;
        break;
      }
      if (!addToPageCache(a, f, file.mapping, i)) {
        putPage(a, f); // another thread indexed it first
        if (n > 0) break;
        continue;
      }
      frames[n++] = f;
    }
    if (n > 0) {
      ctrAdd(a.i32, CTR.RA_INFLIGHT, n);
      try {
        erofsReadahead(k, file, i - n, n);
      } finally {
        ctrAdd(a.i32, CTR.RA_INFLIGHT, -n);
      }
      read += n;
    }
  }
  return read;
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

/**
 * filemap_read: copy up to `len` bytes from file offset `pos` into dst[dstOff..]. Returns bytes copied
 * (short only at end of file).
 */
export function filemapRead(k: Kernel, file: OpenFile, pos: number, dst: Uint8Array, dstOff: number, len: number): number {
  const a = k.a;
  if (file.closed) throw new ErofsError('EINVAL', `read of closed file ${file.path}`);
  const end = Math.min(pos + len, file.size);
  let copied = 0;
  let missStreak = 0;
  // Counted locally and published once per call: a shared counter bumped per page bounces its cache
  // line between the cores of concurrent readers.
  let hits = 0;
  let misses = 0;
  try {
    while (pos < end) {
      // Division, not `>>> PAGE_SHIFT`: a 32-bit shift wraps past 4 GiB and reads the wrong page.
      const index = Math.floor(pos / PAGE_SIZE);
      const f = findGetPage(a, file.mapping, index);
      if (f === NIL) {
        misses++;
        if (++missStreak > 64) throw new ErofsError('EIO', `${file.path}: page ${index} keeps disappearing (pool too small?)`);
        const lastIdx = Math.floor((end - 1) / PAGE_SIZE);
        syncReadahead(k, file, index, lastIdx - index + 1);
        continue;
      }
      if (hooksOn) point(POINT.AFTER_FIND_PAGE);
      let flags = pageFlags(a, f);
      if (!(flags & PG_UPTODATE)) {
        if (flags & PG_LOCKED) waitOnPageLocked(a, f);
        flags = pageFlags(a, f);
        if (!(flags & PG_UPTODATE)) {
          // The read failed (or was never done): read it ourselves, as filemap_read_folio does.
          lockPage(a, f);
          if (pageFlags(a, f) & PG_UPTODATE || pageMapping(a, f) !== file.mapping) {
            unlockPage(a, f);
          } else {
            try {
              erofsReadFolio(k, file, f, index);
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
      } else if (missStreak === 0) {
        hits++;
      }
      missStreak = 0;
      const off = pos & (PAGE_SIZE - 1);
      const n = Math.min(PAGE_SIZE - off, end - pos);
      const base = a.frameOffset(f) + off;
      a.frameChunk(f).copy(dst, dstOff + copied, base, base + n);
      if (!(flags & PG_REFERENCED)) setPageFlag(a, f, PG_REFERENCED);
      putPage(a, f);
      file.prevIndex = index;
      pos += n;
      copied += n;
    }
  } finally {
    if (hits) ctrAdd(a.i32, CTR.HITS, hits);
    if (misses) ctrAdd(a.i32, CTR.MISSES, misses);
  }
  return copied;
}

/** readahead(2) / posix_fadvise(WILLNEED): populate [pos, pos + len) without copying. */
export function readaheadRange(k: Kernel, file: OpenFile, pos: number, len: number): number {
  if (file.closed) throw new ErofsError('EINVAL', `readahead of closed file ${file.path}`);
  const end = Math.min(pos + len, file.size);
  if (pos >= end) return 0;
  const first = Math.floor(pos / PAGE_SIZE);
  const last = Math.floor((end - 1) / PAGE_SIZE);
  let read = 0;
  for (let i = first; i <= last; i += RA_MAX_PAGES) read += doPageCacheRa(k, file, i, Math.min(RA_MAX_PAGES, last - i + 1));
  return read;
}

