// The compressed data path (fs/erofs/zdata.c, reduced): readahead and read_folio of a compressed file
// go pcluster by pcluster. For each extent the window touches, the reader takes the pcluster's lock
// (zpcluster.ts), grabs every page of the file the extent covers that nobody has cached yet — the
// window's pages and, beyond the window, the pages lying wholly inside the extent (the kernel's
// readmore) — then reads the pcluster from the device once, decompresses it once, and fills all of
// them. A second reader wanting the same pcluster sleeps on its lock; when it gets it, the pages are
// there (uptodate, or locked by the first reader, which the page cache's own wait handles), so it
// decompresses nothing. Pages of the window that straddle two extents stay locked until both are in.
//
// An extent that ends inside a page leaves that page to the next readahead window when it lies past the
// window: the thread keeps the extent's decoded tail (the bytes of its last page, under 4 KiB) and the
// next window fills the page from it instead of decoding the pcluster again — as the kernel keeps the
// decompressed straddling page and does not decompress a pcluster twice for one sequential read.
//
// Allocation: frames are allocated before the pcluster lock is taken (allocation may reclaim, and
// reclaim may wait for locked pages); decode buffers are per thread and grow only.
import type { Kernel } from '../../vfs/kernel.ts';
import { PAGE_SIZE } from '../../mm/arena.ts';
import { NIL } from '../../mm/list.ts';
import { ctrAdd, ctrInc, ctrReadSigned, CTR } from './counters.ts';
import {
  clearPageFlag,
  frameAllocBatch,
  lruAdd,
  lruAddBatch,
  putPage,
  setPageFlag,
  unlockPage,
  PG_ERROR,
  PG_UPTODATE,
} from '../../mm/pagepool.ts';
import { addToPageCache, pageCacheCountAdded, pageCached } from '../../vfs/pagecache.ts';
import { chargedMemcg, memcgCancelCharge, memcgTryCharge } from '../../mm/memcontrol.ts';
import { allocPage } from '../../vfs/reclaim.ts';
import { inodeMount, inodeNid } from '../../vfs/inode.ts';
import { ishareCountDevicePages } from './ishare_stats.ts';
import { mountCountDeviceRead } from '../../vfs/mount.ts';
import { newZMapOut, ZF_FRAGMENT, ZF_META, type ZMapOut, type ZMapper } from '../../erofs/zmap.ts';
import { zReadExtent } from '../../erofs/zread.ts';
import { ZReadWindow } from '../../erofs/zbio.ts';
import type { ErofsInode } from '../../erofs/types.ts';
import { pointsOn, point } from '../../mm/points.ts';
import { POINT } from './points.ts';
import { invariantsOn } from '../../mm/checkfail.ts';
import type { AddressSpaceOps, OpenFile } from '../../vfs/file.ts';
import { erofsSb, type ErofsSb } from './super.ts';
import { grabRealInode, releaseRealInode, checkLiveMount } from './data.ts';
import { readBegin, readEnd } from './ishare.ts';
import { erofsThread, iomapOf } from './internal.ts';
import { zpclLock, zpclUnlock, zpclWord } from './zpcluster.ts';

/** One thread's scratch for the compressed path (kept on its Kernel). */
export class ZCtx {
  readonly map: ZMapOut = newZMapOut();
  /** Device reads in runs of consecutive pclusters (one read serves the pclusters behind it). */
  readonly bio = new ZReadWindow();
  out = Buffer.alloc(0);
  /** Frames this call owns (locked, indexed, not yet uptodate), by page index − base; NIL = none. */
  owned = new Int32Array(64).fill(NIL);
  base = 0;
  nowned = 0;
  /** Frames allocated for the next extent's grab. */
  spare = new Int32Array(64);
  nspare = 0;
  /** Readahead pages completed (uptodate, unlocked) and not yet on the LRU: flushDone. */
  readonly done = new Int32Array(64);
  ndone = 0;
  /** read_folio: the caller's locked page (completed without the LRU/reference steps), or NIL. */
  folio = NIL;
  folioIndex = -1;
  /** The decoded bytes [tailFrom, tailTo) of the last extent whose last page it left unfilled. */
  readonly tail = Buffer.alloc(PAGE_SIZE);
  tailImage: object | null = null;
  tailNid = -1;
  tailWord = -1;
  tailLa = -1;
  tailTo = -1;
  tailFrom = -1;
}

function ctxOf(k: Kernel): ZCtx {
  const t = erofsThread(k);
  let z = t.zctx as ZCtx | undefined;
  if (z === undefined) {
    z = new ZCtx();
    t.zctx = z;
  }
  return z;
}

function ownedAt(z: ZCtx, p: number): number {
  const i = p - z.base;
  return i >= 0 && i < z.owned.length ? z.owned[i] : NIL;
}

function setOwned(z: ZCtx, p: number, f: number): void {
  const i = p - z.base;
  if (i >= z.owned.length) {
    let n = z.owned.length * 2;
    while (n <= i) n *= 2;
    const grown = new Int32Array(n).fill(NIL);
    grown.set(z.owned);
    z.owned = grown;
  }
  if (f === NIL) z.nowned--;
  else z.nowned++;
  z.owned[i] = f;
}

/**
 * A filled page goes public: uptodate and unlocked at once; a readahead page then joins the LRU and drops
 * its reference with the others of its extent (flushDone). The caller's read_folio page only gets
 * uptodate and unlocked.
 */
function completePage(k: Kernel, z: ZCtx, p: number, f: number): void {
  const a = k.a;
  if (pointsOn) point(POINT.BEFORE_PAGE_UNLOCK);
  setOwned(z, p, NIL);
  if (f === z.folio) {
    clearPageFlag(a, f, PG_ERROR);
    setPageFlag(a, f, PG_UPTODATE);
    unlockPage(a, f);
    z.folio = NIL;
    ctrInc(a.i32, CTR.DEVICE_PAGES);
  } else {
    setPageFlag(a, f, PG_UPTODATE);
    unlockPage(a, f);
    if (z.ndone === z.done.length) flushDone(k, z);
    z.done[z.ndone++] = f;
  }
}

/** The completed readahead pages to the LRU under one lock, then their references and counts dropped. */
function flushDone(k: Kernel, z: ZCtx): void {
  const a = k.a;
  const n = z.ndone;
  if (n === 0) return;
  lruAddBatch(a, z.done, 0, n);
  for (let x = 0; x < n; x++) putPage(a, z.done[x]);
  z.ndone = 0;
  ctrAdd(a.i32, CTR.RA_INFLIGHT, -n);
  ctrAdd(a.i32, CTR.DEVICE_PAGES, n);
}

function failPage(k: Kernel, z: ZCtx, p: number, f: number): void {
  const a = k.a;
  setOwned(z, p, NIL);
  setPageFlag(a, f, PG_ERROR);
  unlockPage(a, f);
  if (f === z.folio) {
    z.folio = NIL;
  } else {
    lruAdd(a, f);
    putPage(a, f);
    ctrAdd(a.i32, CTR.RA_INFLIGHT, -1);
  }
}

function ensureRoom(z: ZCtx, plen: number, llen: number): void {
  if (z.out.length < llen) z.out = Buffer.alloc(llen);
}

type FillFn = (this: Uint8Array, value: Uint8Array, start: number, end: number) => Uint8Array;
/** Buffer#fill with a value exactly the range's length: one plain copy (see fillPages). */
const fillBytes = (Buffer.prototype as { fill: FillFn }).fill;

/** The file offset where the first owned page of [pFirst, pLast] starts filling (from `lo` at the earliest). */
function firstOwnedFrom(z: ZCtx, pFirst: number, pLast: number, lo: number): number {
  for (let p = pFirst; p <= pLast; p++) {
    if (ownedAt(z, p) !== NIL) {
      const start = p * PAGE_SIZE;
      return start > lo ? start : lo;
    }
  }
  return Infinity;
}

/**
 * Copy decoded bytes of the extent [lo, hi) into the owned pages of [pFirst, pLast]; `bytes` holds the
 * extent's output from file offset `from` on. Completes the pages the extent finishes; returns how many.
 */
function fillPages(
  k: Kernel,
  z: ZCtx,
  bytes: Uint8Array,
  from: number,
  lo: number,
  hi: number,
  pFirst: number,
  pLast: number,
  size: number,
): number {
  const a = k.a;
  let done = 0;
  for (let p = pFirst; p <= pLast; p++) {
    const f = ownedAt(z, p);
    if (f === NIL) continue;
    const start = p * PAGE_SIZE;
    const s = start > lo ? start : lo;
    const e = start + PAGE_SIZE < hi ? start + PAGE_SIZE : hi;
    const chunk = a.frameChunk(f);
    const base = a.frameOffset(f);
    // A plain memcpy: TypedArray#set into shared memory copies with relaxed atomics, byte by byte when
    // source and frame are not equally aligned (an extent's output starts anywhere in a page): ~3× slower.
    if (e > s) fillBytes.call(chunk, bytes.subarray(s - from, e - from), base + (s - start), base + (e - start));
    const pageEnd = Math.min(start + PAGE_SIZE, size);
    if (pageEnd <= hi) {
      if (pageEnd < start + PAGE_SIZE) chunk.fill(0, base + (pageEnd - start), base + PAGE_SIZE);
      completePage(k, z, p, f);
      done++;
    }
  }
  flushDone(k, z);
  return done;
}

/**
 * Handle extent `m` (whole: mapFull) for a window of pages [w0, w1): grab its pages, decode it once,
 * fill and complete the owned pages it finishes. Returns pages completed.
 */
function zExtent(
  k: Kernel,
  file: OpenFile,
  z: ZCtx,
  sb: ErofsSb,
  ino: ErofsInode,
  zm: ZMapper,
  m: ZMapOut,
  w0: number,
  w1: number,
): number {
  const a = k.a;
  const size = file.size;
  const lo = m.la;
  const hi = m.la + m.llen;
  const pFirst = Math.floor(lo / PAGE_SIZE);
  const pLast = Math.floor((hi - 1) / PAGE_SIZE);
  // A page is ours to fill here if it starts inside the extent and is either in the window or lies
  // wholly inside the extent; one that starts before it was considered by the previous extent.
  let need = 0;
  for (let p = pFirst; p <= pLast; p++) {
    const start = p * PAGE_SIZE;
    if (start < lo || ownedAt(z, p) !== NIL) continue;
    if ((p >= w0 && p < w1) || Math.min(start + PAGE_SIZE, size) <= hi) need++;
  }
  // Frames first, outside the pcluster lock. Only the window's first page is owed to the reader;
  // the rest is opportunistic, within the same in-flight budget as the flat path's readahead.
  if (z.spare.length < need) z.spare = new Int32Array(need);
  z.nspare = 0;
  if (need > 0 && z.nowned === 0 && pFirst <= w0 && w0 <= pLast && lo <= w0 * PAGE_SIZE) {
    z.spare[z.nspare++] = allocPage(a, k.ops, false);
  }
  // The rest in one take from the free list, as the flat path's readahead does; reclaim below if short.
  const room = (a.frameLimit >>> 1) - ctrReadSigned(a.i32, CTR.RA_INFLIGHT) - z.nspare;
  if (need > z.nspare && room > 0) z.nspare += frameAllocBatch(a, z.spare, z.nspare, Math.min(need - z.nspare, room));
  while (z.nspare < need) {
    if (ctrReadSigned(a.i32, CTR.RA_INFLIGHT) + z.nspare >= a.frameLimit >>> 1) break;
    const f = allocPage(a, k.ops, true);
    if (f === NIL) break;
    z.spare[z.nspare++] = f;
  }
  const fragment = (m.flags & ZF_FRAGMENT) !== 0;
  const key = fragment ? 2 * (zm.info.fragmentOff + lo) + 1 : 2 * m.pa;
  const word = zpclWord(a, sb.m, key);
  const waited = zpclLock(a, word);
  let used = 0;
  try {
    let mine = 0;
    // The extent's pages are charged, indexed and counted as one run (as the flat path's readahead does,
    // and the kernel adds a folio): one memcg charge for the frames at hand, the unused part given back;
    // NR_FILE_PAGES and the in-flight count once, before any page of the run is unlocked. A page some
    // reader cached already is found by the insertion itself. The charge waits for the first page not
    // cached yet: a reader that waited for another's decode of this extent usually finds every page
    // cached, and charging for them first could make its cgroup reclaim for pages it never adds.
    let charged = 0;
    let memcg = 0;
    let chargeTried = false;
    try {
      for (let p = pFirst; p <= pLast; p++) {
        const start = p * PAGE_SIZE;
        if (start < lo) {
          if (ownedAt(z, p) !== NIL) mine++;
          continue;
        }
        if (ownedAt(z, p) !== NIL) {
          mine++;
          continue;
        }
        if (!((p >= w0 && p < w1) || Math.min(start + PAGE_SIZE, size) <= hi)) continue;
        if (!chargeTried) {
          if (pageCached(a, file.mapping, p)) continue;
          chargeTried = true;
          charged = z.nspare > 0 ? memcgTryCharge(a, z.nspare, false) : 0;
          memcg = chargedMemcg();
        }
        if (used >= charged) continue;
        const f = z.spare[used];
        if (!addToPageCache(a, f, file.mapping, p, memcg, true)) continue; // another reader indexed it first
        used++;
        setOwned(z, p, f);
        mine++;
      }
    } finally {
      pageCacheCountAdded(a, file.mapping, used);
      memcgCancelCharge(a, memcg, charged - used);
      if (used > 0) ctrAdd(a.i32, CTR.RA_INFLIGHT, used);
    }
    if (mine === 0) {
      // Everything this extent would fill is cached: by the reader we waited for (attached to its
      // decode, the kernel's pcluster attach: counted), or earlier.
      if (waited) ctrInc(a.i32, CTR.Z_PCLUSTER_SKIPPED);
      return 0;
    }
    if (pointsOn) point(POINT.BEFORE_DEVICE_READ, iomapOf(k).borrowed);
    // As on the flat path: the image read from must still be the one the real inode was created on.
    if (invariantsOn) checkLiveMount(a, iomapOf(k).real);
    if (
      z.tailImage === sb.image &&
      z.tailNid === ino.nid &&
      z.tailWord === key &&
      z.tailLa === lo &&
      z.tailTo === hi &&
      firstOwnedFrom(z, pFirst, pLast, lo) >= z.tailFrom
    ) {
      // Every page to fill lies in the kept tail of this extent's last decode on this thread.
      ctrInc(a.i32, CTR.Z_TAIL_REUSED);
      return fillPages(k, z, z.tail, z.tailFrom, lo, hi, pFirst, pLast, size);
    }
    z.tailImage = null;
    ensureRoom(z, m.plen, m.llen);
    const out = z.out;
    // The decoder's own output (or the raw pcluster of a stored one) when it has one: copied once, into
    // the frames, as z_erofs_decompress_pcluster decodes into the pcluster's page array.
    const bytes = zReadExtent(
      sb.image.source,
      sb.image.sb,
      ino,
      m,
      zm.info.fragmentOff,
      out.subarray(0, m.llen),
      0,
      m.llen,
      false,
      (d, pos) => sb.image.readPacked(ino.nid, d, pos),
      z.bio,
      true,
    );
    ctrInc(a.i32, CTR.Z_PCLUSTERS);
    ctrAdd(a.i32, CTR.Z_DECODED_SECTORS, Math.ceil(m.llen / 512));
    ctrInc(a.i32, CTR.DEVICE_READS);
    // Device traffic per pcluster; inline and fragment bytes come with metadata / the packed inode.
    if (!(m.flags & (ZF_FRAGMENT | ZF_META)))
      mountCountDeviceRead(a, sb.m, Math.ceil(m.plen / PAGE_SIZE), sb.space ? sb.space.deviceAt(m.pa) : 0);
    if (file.mapping !== file.inode) ishareCountDevicePages(a, sb.m, Math.ceil(m.plen / PAGE_SIZE));
    // Keep the bytes of the last page when this extent does not finish it and nobody here owns it: the
    // next window starts there and would decode this pcluster again for them.
    const lastStart = pLast * PAGE_SIZE;
    if (Math.min(lastStart + PAGE_SIZE, size) > hi && ownedAt(z, pLast) === NIL) {
      const from = lastStart > lo ? lastStart : lo;
      z.tail.set(bytes.subarray(from - lo, hi - lo), 0);
      z.tailImage = sb.image;
      z.tailNid = ino.nid;
      z.tailWord = key;
      z.tailLa = lo;
      z.tailTo = hi;
      z.tailFrom = from;
    }
    return fillPages(k, z, bytes, lo, lo, hi, pFirst, pLast, size);
  } finally {
    zpclUnlock(a, word);
    for (let j = used; j < z.nspare; j++) putPage(a, z.spare[j]);
    z.nspare = 0;
  }
}

/** Read pages [index, index + nr) of a compressed file (and the rest of the pclusters they touch). */
function zRead(k: Kernel, file: OpenFile, index: number, nr: number, folio: number): number {
  const a = k.a;
  const z = ctxOf(k);
  const size = file.size;
  const winStart = index * PAGE_SIZE;
  const winEnd = Math.min(size, (index + nr) * PAGE_SIZE);
  // A mapping that pins only the shared inode (inode NIL: the mmap of a closed file) has no backing
  // inode of its own to put on the processing list.
  const processing = file.mapping !== file.inode && file.inode !== NIL;
  z.owned.fill(NIL);
  z.nowned = 0;
  z.base = index;
  z.folio = folio;
  z.folioIndex = index;
  if (processing) readBegin(a, file.inode, file.mapping);
  let grabbed = false;
  let filled = 0;
  let err: unknown;
  try {
    const real = grabRealInode(k, file);
    grabbed = true;
    const sb = erofsSb(k, inodeMount(a, real));
    const ino = sb.image.inode(inodeNid(a, real));
    const zm = sb.image.zmapper(ino);
    const m = z.map;
    let pos = winStart;
    let first = true;
    while (pos < winEnd) {
      zm.mapFull(pos, m);
      if (first) {
        first = false;
        const b = Math.floor(m.la / PAGE_SIZE);
        // Nothing is owned yet: the table starts at the first extent's first page (readmore pages
        // before the window included).
        if (b < z.base) z.base = b;
        if (folio !== NIL) setOwned(z, index, folio);
      }
      filled += zExtent(k, file, z, sb, ino, zm, m, index, index + nr);
      pos = m.la + m.llen;
    }
  } catch (e) {
    err = e;
  } finally {
    if (grabbed) releaseRealInode(k);
    if (processing) readEnd(a, file.inode, file.mapping);
  }
  flushDone(k, z); // pages an extent completed before a throw
  if (z.nowned > 0) {
    for (let i = 0; i < z.owned.length && z.nowned > 0; i++) {
      const f = z.owned[i];
      if (f !== NIL) failPage(k, z, z.base + i, f);
    }
  }
  if (z.folio !== NIL) {
    // read_folio failed before the first mapping: the caller's page still ends in error, unlocked.
    setPageFlag(a, z.folio, PG_ERROR);
    unlockPage(a, z.folio);
    z.folio = NIL;
  }
  if (err !== undefined) {
    ctrInc(a.i32, CTR.READ_ERRORS);
    throw err;
  }
  return filled;
}

/** erofs_readahead for compressed files (z_erofs_readahead). Returns pages filled. */
export function zReadahead(k: Kernel, file: OpenFile, index: number, nr: number): number {
  ctrInc(k.a.i32, CTR.READAHEAD_CALLS);
  return zRead(k, file, index, nr, NIL);
}

/** erofs_read_folio for compressed files: fill locked page `f` (index `index`) and unlock it. */
export function zReadFolio(k: Kernel, file: OpenFile, f: number, index: number): void {
  ctrInc(k.a.i32, CTR.READFOLIO_CALLS);
  zRead(k, file, index, 1, f);
}

/** z_erofs_aops: compressed files read pcluster by pcluster, grabbing every page a pcluster covers. */
export const zErofsAops: AddressSpaceOps = { readaheadOwn: zReadahead, readFolio: zReadFolio };
