// The data path (fs/erofs/data.c): readahead / read_folio fill locked page-cache frames from the
// device. Block mapping goes through iomapBegin/iomapEnd, which for a shared inode pick the real
// (backing) inode per extent with realInode(policy) and drop it afterwards — the seed's
// erofs_iomap_begin/end, with the context kept in the thread's Kernel instead of allocated per call.
// readBegin/readEnd bracket each readahead/read_folio of a shared file (the processing list).
import { readSync, readvSync } from 'node:fs';
import type { Kernel } from '../../vfs/kernel.ts';
import { PAGE_SIZE } from '../../mm/arena.ts';
import { NIL } from '../../mm/list.ts';
import { ctrInc, ctrAdd, CTR } from './counters.ts';
import {
  setPageFlag,
  clearPageFlag,
  unlockPage,
  PG_UPTODATE,
  PG_ERROR,
  lruAdd,
  lruAddBatch,
  putPage,
  folioHead,
  folioNrPages,
  folioLastPage,
} from '../../mm/pagepool.ts';
import {
  inodeMount,
  inodeMountGen,
  inodeNid,
  inodeState,
  inodeCount,
  iput,
  I_INUSE,
  I_FREEING,
  I_ANON,
} from '../../vfs/inode.ts';
import { ishareCountDevicePages } from './ishare_stats.ts';
import { mountCountDeviceRead, mountGen, mountState, MS_FREE } from '../../vfs/mount.ts';
import { ErofsError } from '../../erofs/errors.ts';
import { MAP_HOLE, MAP_INLINE, MAP_MAPPED } from '../../erofs/data.ts';
import { METABOX_POS_BASE } from '../../erofs/metabox.ts';
import { erofsSb, type ErofsSb } from './super.ts';
import { iomapOf, type IomapCtx } from './internal.ts';
import { realInode, realInodePolicy, readBegin, readEnd } from './ishare.ts';
import { pointsOn, point } from '../../mm/points.ts';
import { POINT } from './points.ts';
import { invariantsOn, InvariantViolation } from '../../mm/checkfail.ts';
import type { OpenFile, AddressSpaceOps } from '../../vfs/file.ts';

const REALINODE_RETRIES = 50;
const napWord = new Int32Array(new SharedArrayBuffer(4));

/**
 * Pick the inode whose image the data is read from: the open file's own, or — for a shared mapping —
 * a live backing inode chosen by realInode(policy) and referenced until releaseRealInode/iomapEnd.
 * Sets the thread's iomap context's real / grabbed.
 */
export function grabRealInode(k: Kernel, file: OpenFile): number {
  const a = k.a;
  const ctx = iomapOf(k);
  let real = file.inode;
  if (file.mapping !== file.inode) {
    if (file.inode === NIL) ctrInc(a.i32, CTR.STALE_MAP_READ); // an mmap whose file is closed
    let picked = NIL;
    for (let attempt = 0; attempt <= REALINODE_RETRIES; attempt++) {
      picked = realInode(a, file.mapping, realInodePolicy(a), ctx, file.inode);
      if (picked !== NIL) break;
      // No backing inode left at all (a mapping that outlived every image holding the file): nothing to
      // wait for. Otherwise every one is being evicted right now; one may be (re)attaching meanwhile.
      if (ctx.candidates === 0) break;
      const settled = dataSteps.noneGrabbable(ctx);
      if (settled !== REALINODE_RETRY) {
        picked = settled;
        break;
      }
      ctrInc(a.i32, CTR.REALINODE_RETRY);
      Atomics.wait(napWord, 0, 0, 1); // a backing inode may be in the middle of (re)attaching
    }
    if (picked === NIL) {
      ctrInc(a.i32, CTR.REALINODE_EIO);
      throw new ErofsError('EIO', `shared inode ${file.mapping}: no live backing inode to read through`);
    }
    real = picked;
  } else {
    ctx.grabbed = false;
  }
  ctx.real = real;
  ctx.borrowed = ctx.grabbed && real !== file.inode;
  if (pointsOn) point(POINT.AFTER_REALINODE, ctx.borrowed);
  if (invariantsOn) {
    // DBG_BUGON: an inode we map through must be referenced (by us, via igrab, or by the open file).
    if (inodeCount(a, real) <= 0 || (inodeState(a, real) & (I_INUSE | I_FREEING)) !== I_INUSE) {
      throw new InvariantViolation(
        `mapping through inode ${real} that holds no reference (i_count ${inodeCount(a, real)}, state ${inodeState(a, real)})`,
      );
    }
    checkLiveMount(a, real);
  }
  return real;
}

/** Drop the reference grabRealInode took (if it took one). */
export function releaseRealInode(k: Kernel): void {
  const ctx = iomapOf(k);
  if (pointsOn) point(POINT.IOMAP_END, ctx.borrowed);
  if (ctx.grabbed) dataSteps.putReal(k, ctx.real);
  ctx.grabbed = false;
  ctx.borrowed = false;
}

/**
 * iomapBegin: resolve the extent containing file byte `pos` of `file`'s mapping into the thread's iomap context.
 * For a shared mapping the real inode is chosen here (and held until iomapEnd).
 */
function iomapBegin(k: Kernel, file: OpenFile, pos: number): void {
  const a = k.a;
  const ctx = iomapOf(k);
  const real = grabRealInode(k, file);
  try {
    const sb = erofsSb(k, inodeMount(a, real));
    const ino = sb.image.inode(inodeNid(a, real));
    sb.image.mapBlocksInto(ino, pos, ctx.map);
  } catch (e) {
    // A corrupt extent: iomapEnd will not run for a mapping that never began (ctx.end is unset), so
    // the real inode grabbed above is dropped here, or it stays referenced and unmount cannot evict it.
    if (ctx.grabbed) iput(a, real, k.ops);
    ctx.grabbed = false;
    ctx.borrowed = false;
    throw e;
  }
  ctx.start = ctx.map.logical;
  ctx.end = ctx.map.logical + ctx.map.length;
}

/**
 * A referenced inode keeps its superblock: the device an inode is read through must still be the one
 * it was created on (its mount not freed, not remounted since).
 */
export function checkLiveMount(a: Kernel['a'], real: number): void {
  if (inodeState(a, real) & I_ANON) return;
  const m = inodeMount(a, real);
  if (mountState(a, m) === MS_FREE || mountGen(a, m) !== inodeMountGen(a, real)) {
    throw new InvariantViolation(
      `reading through inode ${real} of mount ${m}, which was unmounted under the read (generation ${inodeMountGen(a, real)}, mount now ${mountState(a, m) === MS_FREE ? 'free' : `generation ${mountGen(a, m)}`})`,
    );
  }
}

/** DBG_BUGON: a use-after-evict shows up as a real inode that is no longer live, or on a dead mount. */
function checkRealLive(a: Kernel['a'], real: number): void {
  if ((inodeState(a, real) & (I_INUSE | I_FREEING)) !== I_INUSE)
    throw new InvariantViolation(`real inode ${real} was freed during mapping`);
  checkLiveMount(a, real);
}

/** iomapEnd: drop the real inode taken by iomapBegin. */
function iomapEnd(k: Kernel): void {
  const ctx = iomapOf(k);
  if (ctx.end === 0) return;
  if (pointsOn) point(POINT.IOMAP_END, ctx.borrowed);
  if (ctx.grabbed) dataSteps.putReal(k, ctx.real);
  ctx.grabbed = false;
  ctx.borrowed = false;
  ctx.start = 0;
  ctx.end = 0;
}

/** Fill frame f with page `index` of the file through the current/next extents. */
export function fillPage(k: Kernel, file: OpenFile, f: number, index: number): void {
  const a = k.a;
  const ctx = iomapOf(k);
  const chunk = a.frameChunk(f);
  const base = a.frameOffset(f);
  const pos0 = index * PAGE_SIZE;
  const want = Math.min(PAGE_SIZE, file.size - pos0);
  let done = 0;
  while (done < want) {
    const pos = pos0 + done;
    if (pos < ctx.start || pos >= ctx.end) {
      iomapEnd(k);
      iomapBegin(k, file, pos);
    }
    const n = Math.min(want - done, ctx.end - pos);
    const map = ctx.map;
    if (map.kind === MAP_HOLE) {
      chunk.fill(0, base + done, base + done + n);
      ctrInc(a.i32, CTR.HOLE_PAGES);
    } else {
      const real = ctx.real;
      if (pointsOn) point(POINT.BEFORE_DEVICE_READ, ctx.borrowed);
      if (invariantsOn) checkRealLive(a, real);
      const sb = erofsSb(k, inodeMount(a, real));
      devRead(a, sb, chunk, base + done, n, map.physical + (pos - map.logical), map.kind === MAP_INLINE ? 0 : 1);
      if (file.mapping !== file.inode) ishareCountDevicePages(a, sb.m, map.kind === MAP_INLINE ? 0 : 1);
    }
    done += n;
  }
  if (want < PAGE_SIZE) chunk.fill(0, base + Math.max(0, want), base + PAGE_SIZE);
}

/**
 * Read `n` bytes at unified address `phys` of mount `sb` into buf[off..]: from the image, or on a
 * multi-device image from the device holding them (its descriptor the mount's), split where the range
 * crosses from one device to the next; counted against each device read (`pages` once per read).
 */
function devRead(
  a: Kernel['a'],
  sb: ErofsSb,
  buf: Uint8Array,
  off: number,
  n: number,
  phys: number,
  pages: number,
): void {
  const space = sb.space;
  if (phys >= METABOX_POS_BASE) {
    // Inline data of an inode in the metabox (erofs_read_metabuf with in_metabox): bytes of the
    // metabox inode's data, read (and for a compressed metabox decoded) by the image's MetaSpace.
    sb.image.source.read(buf.subarray(off, off + n), phys);
    mountCountDeviceRead(a, sb.m, pages, 0);
    return;
  }
  let done = 0;
  while (done < n) {
    const p = phys + done;
    let fd = sb.fd;
    let at = p;
    let dev = 0;
    let stop = n;
    if (space !== undefined) {
      const i = space.route(p);
      const end = space.boundary(p);
      if (end - p < n - done) stop = done + (end - p);
      if (i >= 0) {
        const r = space.ranges[i];
        fd = r.fd;
        at = p - r.start + r.srcOff;
        dev = r.dev;
      }
    }
    const got = readSync(fd, buf, off + done, stop - done, at);
    if (got !== stop - done) {
      const name = dev === 0 ? sb.params.image : `${sb.params.image} device ${dev} (${sb.params.devices?.[dev - 1]})`;
      throw new ErofsError('ETRUNCATED', `short device read from ${name}`, at);
    }
    mountCountDeviceRead(a, sb.m, pages, dev);
    done = stop;
  }
}

/**
 * A page of a folio is filled: with its folio's last page (pages complete in order), the whole folio
 * goes uptodate and unlocked at once (folio_end_read).
 */
function pageFilled(a: Kernel['a'], f: number): void {
  if (pointsOn) point(POINT.BEFORE_PAGE_UNLOCK);
  if (!folioLastPage(a, f)) return;
  setPageFlag(a, f, PG_UPTODATE);
  unlockPage(a, f);
}

/** A filled page goes public (with its folio), on the LRU, the caller's reference dropped. */
function completePage(a: Kernel['a'], f: number): void {
  pageFilled(a, f);
  ctrInc(a.i32, CTR.DEVICE_PAGES);
  if (folioLastPage(a, f)) lruAdd(a, f); // a folio joins the LRU once, with its last page
  putPage(a, f);
}

/** Pages of k.raFrames a readahead step completed so far (read by erofsReadahead when it throws). */
export const raProgress = { done: 0 };
const iov: Uint8Array[] = [];

/**
 * Read k.raFrames[first, first + count), whose pages lie back to back on the device from `phys`, through
 * inode `real` (still referenced: the open file's own inode, or a shared file's real inode before its
 * iomapEnd), with one preadv — frames adjacent in the arena share one buffer — then publish them.
 */
function readRun(k: Kernel, file: OpenFile, first: number, count: number, phys: number, real: number): void {
  const a = k.a;
  const frames = k.raFrames;
  let nv = 0;
  let chunk: Buffer | undefined;
  let start = 0;
  let end = 0;
  for (let x = first; x < first + count; x++) {
    const f = frames[x];
    const c = a.frameChunk(f);
    const off = a.frameOffset(f);
    if (c === chunk && off === end) {
      end += PAGE_SIZE;
      continue;
    }
    if (chunk) iov[nv++] = new Uint8Array(chunk.buffer, chunk.byteOffset + start, end - start);
    chunk = c;
    start = off;
    end = off + PAGE_SIZE;
  }
  iov[nv++] = new Uint8Array(chunk!.buffer, chunk!.byteOffset + start, end - start);
  iov.length = nv;
  if (pointsOn) point(POINT.BEFORE_DEVICE_READ, iomapOf(k).borrowed);
  if (invariantsOn) checkRealLive(a, real);
  const sb = erofsSb(k, inodeMount(a, real));
  const want = count * PAGE_SIZE;
  // A run never crosses devices (readaheadGathered ends it at a device boundary).
  let fd = sb.fd;
  let at = phys;
  let dev = 0;
  const ri = sb.space ? sb.space.route(phys) : -1;
  if (ri >= 0) {
    const r = sb.space!.ranges[ri];
    fd = r.fd;
    at = phys - r.start + r.srcOff;
    dev = r.dev;
  }
  const got = nv === 1 ? readSync(fd, iov[0], 0, want, at) : readvSync(fd, iov, at);
  iov.length = 0;
  if (got !== want) throw new ErofsError('ETRUNCATED', `short device read from ${sb.params.image}`, at);
  mountCountDeviceRead(a, sb.m, count, dev);
  if (file.mapping !== file.inode) ishareCountDevicePages(a, sb.m, count);
  // completePage for the run, with one LRU lock and one counter update for all of it.
  for (let x = first; x < first + count; x++) pageFilled(a, frames[x]);
  ctrAdd(a.i32, CTR.DEVICE_PAGES, count);
  lruAddBatch(a, frames, first, count);
  for (let x = first; x < first + count; x++) putPage(a, frames[x]);
  raProgress.done = first + count;
}

/**
 * erofs_readahead without stress hooks: whole pages that continue each other on the device are read
 * with one call, not one pread per page (that syscall was most of a cache fill's time). A run goes on
 * across extents (chunks) only while it reads through an inode the open file holds — its own, a shared
 * file's too when the pick lands on it; a real inode the pick referenced is dropped at iomapEnd, so a
 * run through it is read before that. Partial, inline
 * and hole pages go through fillPage as before. Returns pages completed (all of them); when it throws,
 * `raProgress.done` says how many were.
 */
function readaheadGathered(k: Kernel, file: OpenFile, index0: number, n: number): number {
  const ctx = iomapOf(k);
  const frames = k.raFrames;
  raProgress.done = 0;
  let run = 0; // frames[raProgress.done, raProgress.done + run) wait for one device read from runPhys
  let runPhys = 0;
  let runEnd = Infinity; // where the device runPhys lies on ends (multi-device images)
  let runReal = NIL;
  for (let j = 0; j < n; j++) {
    const pos = (index0 + j) * PAGE_SIZE;
    if (pos < ctx.start || pos >= ctx.end) {
      if (run > 0 && ctx.grabbed) {
        readRun(k, file, raProgress.done, run, runPhys, runReal);
        run = 0;
      }
      iomapEnd(k);
      iomapBegin(k, file, pos);
    }
    const map = ctx.map;
    if (map.kind === MAP_MAPPED && pos + PAGE_SIZE <= ctx.end && pos + PAGE_SIZE <= file.size) {
      const phys = map.physical + (pos - map.logical);
      if (run > 0 && (phys !== runPhys + run * PAGE_SIZE || ctx.real !== runReal || phys + PAGE_SIZE > runEnd)) {
        readRun(k, file, raProgress.done, run, runPhys, runReal);
        run = 0;
      }
      if (run === 0) {
        runPhys = phys;
        runReal = ctx.real;
        const space = erofsSb(k, inodeMount(k.a, ctx.real)).space;
        runEnd = space ? space.boundary(phys) : Infinity;
      }
      run++;
    } else {
      if (run > 0) readRun(k, file, raProgress.done, run, runPhys, runReal);
      run = 0;
      fillPage(k, file, frames[j], index0 + j);
      completePage(k.a, frames[j]);
      raProgress.done = j + 1;
    }
  }
  if (run > 0) readRun(k, file, raProgress.done, run, runPhys, runReal);
  return raProgress.done;
}

/**
 * erofs_readahead: fill `n` locked, page-cache-indexed frames k.raFrames[0..n) holding consecutive
 * pages from `index0`. Each page ends uptodate (or with PG_ERROR), unlocked, on the LRU, and the
 * caller's allocation reference dropped. Throws the first error after releasing every page.
 */
export function erofsReadahead(k: Kernel, file: OpenFile, index0: number, n: number): void {
  const a = k.a;
  const frames = k.raFrames;
  const shared = file.mapping !== file.inode;
  ctrInc(a.i32, CTR.READAHEAD_CALLS);
  // A mapping that pins only the shared inode (inode NIL: the mmap of a closed file) has no backing
  // inode of its own to put on the processing list.
  const processing = shared && file.inode !== NIL;
  if (processing) readBegin(a, file.inode, file.mapping);
  let err: unknown;
  let i: number;
  try {
    i = dataSteps.readahead(k, file, index0, n);
  } catch (e) {
    err = e;
    i = raProgress.done;
  } finally {
    iomapEnd(k);
    if (processing) readEnd(a, file.inode, file.mapping);
  }
  if (err !== undefined) {
    // Each folio not completed ends with an error, unlocked and on the LRU once (at its last page).
    for (; i < n; i++) {
      const f = frames[i];
      if (folioLastPage(a, f)) {
        setPageFlag(a, f, PG_ERROR);
        unlockPage(a, f);
        lruAdd(a, f);
      }
      putPage(a, f);
    }
    ctrInc(a.i32, CTR.READ_ERRORS);
    throw err;
  }
  ctrInc(a.i32, CTR.DEVICE_READS);
}

/**
 * erofs_read_folio: (re)read the locked folio of page f (page `index`), cached but not uptodate: every
 * page of it, since it goes uptodate as a whole.
 */
export function erofsReadFolio(k: Kernel, file: OpenFile, f: number, index: number): void {
  const a = k.a;
  const shared = file.mapping !== file.inode;
  ctrInc(a.i32, CTR.READFOLIO_CALLS);
  const processing = shared && file.inode !== NIL;
  if (processing) readBegin(a, file.inode, file.mapping);
  const h = folioHead(a, f);
  const nr = folioNrPages(a, h);
  try {
    for (let p = 0; p < nr; p++) fillPage(k, file, h + p, index - (f - h) + p);
    clearPageFlag(a, f, PG_ERROR);
    setPageFlag(a, f, PG_UPTODATE);
    ctrAdd(a.i32, CTR.DEVICE_PAGES, nr);
    ctrInc(a.i32, CTR.DEVICE_READS);
  } catch (e) {
    setPageFlag(a, f, PG_ERROR);
    throw e;
  } finally {
    iomapEnd(k);
    if (processing) readEnd(a, file.inode, file.mapping);
    unlockPage(a, f);
  }
}

/** noneGrabbable's answer: no pick yet, wait and call realInode again. */
export const REALINODE_RETRY = -2;

/**
 * The steps of the data path, one function each, that production code calls through. Entries are the
 * correct implementations; the stress harness's planted bugs (debug/bugs/) install their own version of
 * one of them in their thread, so a user runs the very code a clean stress run tests.
 */
export interface DataSteps {
  /**
   * grabRealInode: realInode found candidates but could grab none (all being evicted). Returns the
   * inode to read through, or REALINODE_RETRY to wait for one to (re)attach.
   */
  noneGrabbable: (ctx: IomapCtx) => number;
  /** iomapEnd: drop the reference grabRealInode took on the real inode. */
  putReal: (k: Kernel, real: number) => void;
  /**
   * Fill k.raFrames[0, n), locked and indexed, with pages index0.. and publish each; returns the pages
   * completed, keeping raProgress.done up to date for when it throws.
   */
  readahead: (k: Kernel, file: OpenFile, index0: number, n: number) => number;
}
export const DATA_STEPS: Readonly<DataSteps> = Object.freeze({
  noneGrabbable: () => REALINODE_RETRY,
  putReal: (k: Kernel, real: number) => {
    iput(k.a, real, k.ops);
  },
  readahead: readaheadGathered,
});
/** This thread's steps (the correct ones unless the stress harness planted a bug). */
export const dataSteps: DataSteps = { ...DATA_STEPS };

/** EROFS's address_space_operations for the generic read path (erofs_aops; compressed files: zdata.ts). */
export const erofsAops: AddressSpaceOps = { readahead: erofsReadahead, readFolio: erofsReadFolio };
