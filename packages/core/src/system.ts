// The System: the embeddable entry point. `System.create` (main thread) allocates and initialises the
// arena; `System.attach` (a worker) joins it with the handle. Both run the same kernel code on the same
// shared state: mounts, inodes, shared inodes, page cache, counters.
import { resolve as resolvePath } from 'node:path';
import { Arena, PAGE_SIZE, CHECK_LOCKS, CHECK_RACES, type ArenaConfig, type ArenaHandle } from './mm/arena.ts';
import { pagePoolInit, pagePoolRegions, framesFree, framesUsed, lruCount } from './mm/pagepool.ts';
import { readCounters, resetEventCounters, ctrReadSigned, ctrInc, CTR, type CounterName } from './mm/counters.ts';
import { readLockStats, resetLockStats, setCountAcquisitions, type LockClassStats } from './mm/lockstat.ts';
import { Kernel } from './kernel.ts';
import {
  inodeTableInit, iget, iput, ihold, tryEvict, pruneIcache, forEachInode, inodeMount, inodeCount,
  inodeOpenAdd, inodesInUse, inodeLruCount, inodeRegions, rcuBatch, I_DEDUP, inodeGen,
} from './vfs/inode.ts';
import { invalidateMappingPages, pageCacheInit, pageCacheRegions } from './vfs/pagecache.ts';
import { shrinkPageLru } from './vfs/reclaim.ts';
import {
  mountAlloc, mountFree, mountSetDying, mountState, mountOpenAdd, mountOpenCount, mountParams,
  mountDeviceStats, resetMountDeviceStats, mountRegions, MS_ACTIVE, type MountParams, type MountDeviceStats,
} from './vfs/mount.ts';
import { filemapRead, filemapPin, filemapUnpin, readaheadRange, MAX_FILE_BYTES } from './vfs/filemap.ts';
import { constants as bufferConstants } from 'node:buffer';
import type { OpenFile } from './vfs/file.ts';
import { erofsSb, erofsSbRelease, erofsSbReleaseAll, erofsCheckImage } from './fs/erofs/super.ts';
import { erofsInodeOps } from './fs/erofs/inode.ts';
import { erofsAops } from './fs/erofs/data.ts';
import { zErofsAops } from './fs/erofs/zdata.ts';
import { ishareCheckOpen, ishareFadviseDontneed, ishareOf, policyCode, type RealInodePolicy } from './fs/erofs/ishare.ts';
import { ErofsError } from './erofs/errors.ts';
import { NIL } from './mm/list.ts';
import { hooksAttach, hooksRefresh, hooksOn, bugOn, BUG, InvariantViolation } from './debug/hooks.ts';
import { reportCheckFailure } from './mm/checkfail.ts';

export interface SystemConfig {
  /** Page pool size in MiB (default 256). */
  poolMiB?: number;
  /** Or in bytes (wins over poolMiB). */
  poolBytes?: number;
  inodeSlots?: number; // default 65536
  mountSlots?: number; // default 64
  policy?: RealInodePolicy; // default 'processing' (the v7 seed)
  /** Stress only: planted-bug mask (debug/hooks.ts BUG) and jitter probability (0..1). */
  inject?: number;
  jitter?: number;
  seed?: number;
  /** Count every lock acquisition per lock class (costs a shared atomic per lock; stress turns it on). */
  lockStats?: boolean;
  /** Stress only: check at every use site that the structure's declared lock is held (mm/lockdep.ts). */
  lockChecks?: boolean;
  /** Stress only: the watchpoint data-race detector (mm/kcsan.ts), its sampling and stall. */
  raceDetector?: boolean;
  raceSample?: number;
  raceStallUs?: number;
}

export interface MountOptions {
  /** -o inode_share: needs a domain id (mainline refuses it alone with EINVAL). */
  inodeShare?: boolean;
  /** -o domain_id=ID: files share page cache only within one domain. */
  domainId?: string;
  /**
   * Verified sharing: a file shares its page cache only once its content hashes to its fingerprint
   * (fs/erofs/verify.ts). Without it a forged fingerprint in the same domain poisons the cache.
   */
  verify?: boolean;
}

/** open(2) flags the core distinguishes. */
export interface OpenFlags {
  /** O_DIRECT: refused (EINVAL) on a shared file; on a private one reads still go through the cache. */
  direct?: boolean;
}

/** posix_fadvise advice. */
export type FadviseAdvice = 'normal' | 'random' | 'sequential' | 'willneed' | 'dontneed' | 'noreuse';

export interface MountResult {
  readonly mount: number;
  readonly shareActive: boolean;
  readonly warning?: string;
}

export interface MountReport extends MountDeviceStats {
  readonly mount: number;
  readonly image: string;
  readonly inodeShare: boolean;
  readonly domainId: string;
  readonly verify: boolean;
}

/** Zero-copy access to cached bytes: views straight into the page frames, pinned until release(). */
export interface FileView {
  /** The bytes of the range in order, one view per run of adjacent frames. */
  readonly views: Uint8Array[];
  readonly bytes: number;
  /** Unpin the pages (once; the views must not be used after). */
  release(): void;
}

export interface SystemStats {
  readonly pageSize: number;
  readonly poolBytes: number;
  /** Frames holding file data × page size (what fincore sums over a mounted image's files). */
  readonly pageCacheBytes: number;
  readonly sharedPageCacheBytes: number;
  readonly filePages: number;
  readonly framesFree: number;
  readonly framesUsed: number;
  readonly lruPages: number;
  readonly inodesInUse: number;
  readonly unusedInodes: number;
  readonly counters: Record<CounterName, number>;
  readonly locks: LockClassStats[];
  readonly mounts: MountReport[];
}

export class System {
  readonly arena: Arena;
  readonly kernel: Kernel;

  private constructor(arena: Arena, threadId: number) {
    this.arena = arena;
    this.kernel = new Kernel(arena, threadId);
    this.kernel.ops = erofsInodeOps(this.kernel);
    hooksAttach(arena, threadId);
    setCountAcquisitions(arena.countLockAcquisitions);
  }

  /** Create and initialise a new shared kernel (main thread). */
  static create(cfg: SystemConfig = {}): System {
    const poolBytes = cfg.poolBytes ?? Math.floor((cfg.poolMiB ?? 256) * 1024 * 1024);
    const arenaCfg: ArenaConfig = { poolBytes, inodeSlots: cfg.inodeSlots ?? 65536, mountSlots: cfg.mountSlots ?? 64 };
    // Each structure sizes its own sections of the arena.
    const a = Arena.create(arenaCfg, (c) => ({ ...pagePoolRegions(c), ...pageCacheRegions(c), ...inodeRegions(c), ...mountRegions(c) }));
    pagePoolInit(a);
    pageCacheInit(a);
    inodeTableInit(a);
    a.policy = policyCode(cfg.policy ?? 'processing');
    a.injectMask = cfg.inject ?? 0;
    a.jitter = Math.round(Math.max(0, Math.min(1, cfg.jitter ?? 0)) * 65536);
    a.seed = cfg.seed ?? 1;
    a.countLockAcquisitions = cfg.lockStats ?? false;
    a.checks = (cfg.lockChecks ? CHECK_LOCKS : 0) | (cfg.raceDetector ? CHECK_RACES : 0);
    a.raceSample = cfg.raceSample ?? 0;
    a.raceStallUs = cfg.raceStallUs ?? 0;
    return new System(a, a.nextThreadId());
  }

  /** Join an existing kernel from another thread. */
  static attach(handle: ArenaHandle): System {
    const a = Arena.attach(handle);
    return new System(a, a.nextThreadId());
  }

  get handle(): ArenaHandle {
    return this.arena.handle;
  }

  get policy(): RealInodePolicy {
    return this.arena.policy === 1 ? 'any' : 'processing';
  }
  set policy(p: RealInodePolicy) {
    this.arena.policy = policyCode(p);
  }

  /** Re-read stress settings (inject mask, jitter) after the controller changed them. */
  refreshHooks(): void {
    hooksRefresh(this.arena);
  }

  /** mount -t erofs -o ro[,inode_share,domain_id=ID][,verify] IMAGE */
  mount(image: string, opts: MountOptions = {}): MountResult {
    if (opts.inodeShare && !opts.domainId) {
      throw new ErofsError('EINVAL', 'inode_share needs a domain id (mount -o inode_share,domain_id=ID): sharing is scoped to one domain');
    }
    const params: MountParams = {
      image: resolvePath(image),
      inodeShare: opts.inodeShare ?? false,
      domainId: opts.domainId ?? '',
      verify: opts.verify ?? false,
    };
    const check = erofsCheckImage(params);
    const m = mountAlloc(this.arena, { ...params, inodeShare: check.shareActive });
    if (check.warning) this.kernel.warnings.push(check.warning);
    return { mount: m, shareActive: check.shareActive, warning: check.warning };
  }

  /**
   * umount: refuse new opens, wait (bounded) for open files to close, evict every inode of the mount —
   * detaching them from shared inodes, whose cached pages stay valid for the other images — and free the
   * slot.
   */
  unmount(m: number, timeoutMs = 30_000): void {
    const a = this.arena;
    if (mountState(a, m) !== MS_ACTIVE) throw new ErofsError('EINVAL', `mount ${m} is not mounted`);
    mountSetDying(a, m);
    const deadline = Date.now() + timeoutMs;
    const nap = new Int32Array(new SharedArrayBuffer(4));
    while (mountOpenCount(a, m) > 0) {
      if (Date.now() > deadline) throw new ErofsError('EIO', `unmount of mount ${m}: ${mountOpenCount(a, m)} files still open`);
      Atomics.wait(nap, 0, 0, 1);
    }
    for (;;) {
      let left = 0;
      rcuBatch(() =>
        forEachInode(a, (slot, st) => {
          if (st & I_DEDUP || inodeMount(a, slot) !== m) return;
          if (!tryEvict(a, slot, this.kernel.ops)) left++;
        }),
      );
      // The planted UNMOUNT_BUSY does what evict_inodes does with busy inodes: skips them, and the
      // superblock goes away under whoever holds them.
      if (left > 0) ctrInc(a.i32, CTR.UNMOUNT_BUSY);
      if (left === 0 || bugOn(BUG.UNMOUNT_BUSY)) break;
      // Still referenced: a reader of a shared inode is mapping through it right now (iomapBegin holds
      // it until iomapEnd). That reference is short-lived.
      if (Date.now() > deadline) throw new ErofsError('EIO', `unmount of mount ${m}: ${left} inodes still referenced`);
      Atomics.wait(nap, 0, 0, 1);
    }
    if (hooksOn) {
      // generic_shutdown_super's "VFS: Busy inodes after unmount": nothing may still hold an inode of a
      // superblock that goes away.
      let busy = 0;
      forEachInode(a, (slot, st) => {
        if (!(st & I_DEDUP) && inodeMount(a, slot) === m) busy++;
      });
      if (busy) reportCheckFailure(new InvariantViolation(`busy inodes after unmount of mount ${m}: ${busy} still in use`));
    }
    mountFree(a, m);
    erofsSbRelease(this.kernel, m);
  }

  /** Open a regular file by path inside mount m. */
  open(m: number, path: string, flags: OpenFlags = {}): OpenFile {
    const a = this.arena;
    if (mountState(a, m) !== MS_ACTIVE) throw new ErofsError('ENOENT', `mount ${m} is not mounted`);
    mountOpenAdd(a, m, 1);
    try {
      // Re-check after announcing the open, so unmount's wait for zero cannot miss us.
      if (mountState(a, m) !== MS_ACTIVE) throw new ErofsError('ENOENT', `mount ${m} is being unmounted`);
      const sb = erofsSb(this.kernel, m);
      const ino = sb.image.resolve(path);
      if (ino.type !== 'file') throw new ErofsError(ino.type === 'dir' ? 'EISDIR' : 'EINVAL', `${path}: not a regular file`);
      if (ino.size > MAX_FILE_BYTES) throw new ErofsError('EINVAL', `${path}: ${ino.size} bytes is larger than the page cache can index (${MAX_FILE_BYTES})`);
      const slot = iget(a, m, ino.nid, this.kernel.ops);
      inodeOpenAdd(a, slot, 1);
      const dedup = ishareOf(a, slot);
      if (dedup >= 0) {
        try {
          ishareCheckOpen(flags.direct === true, path);
        } catch (e) {
          inodeOpenAdd(a, slot, -1);
          iput(a, slot, this.kernel.ops);
          throw e;
        }
        ihold(a, dedup);
      }
      return {
        inode: slot, mapping: dedup >= 0 ? dedup : slot, mappingGen: inodeGen(a, dedup >= 0 ? dedup : slot), mount: m, nid: ino.nid, size: ino.size, path, compressed: ino.compressed, aops: ino.compressed ? zErofsAops : erofsAops,
        raStart: 0, raSize: 0, prevIndex: -2, closed: false,
      };
    } catch (e) {
      mountOpenAdd(a, m, -1);
      throw e;
    }
  }

  close(file: OpenFile): void {
    if (file.closed) return;
    file.closed = true;
    const a = this.arena;
    if (file.mapping !== file.inode) iput(a, file.mapping, this.kernel.ops);
    inodeOpenAdd(a, file.inode, -1);
    iput(a, file.inode, this.kernel.ops);
    mountOpenAdd(a, file.mount, -1);
  }

  /**
   * mmap, as the seed's ishare mmap does it: the mapping's file is the *shared* inode's (vma_set_file to
   * the shared file), so it pins the shared inode only — the file may be closed afterwards and its own
   * inode evicted, and reads through the mapping (page faults) then map blocks through whichever backing
   * inode is still there. A file that is not shared keeps its own inode and mount, as an open file does.
   * Returns an OpenFile to read with `read`; release it with `munmap`.
   */
  mmap(file: OpenFile): OpenFile {
    if (file.closed) throw new ErofsError('EINVAL', `mmap of closed file ${file.path}`);
    const a = this.arena;
    if (file.mapping !== file.inode) {
      ihold(a, file.mapping);
      return { ...file, inode: NIL, raStart: 0, raSize: 0, prevIndex: -2, closed: false };
    }
    ihold(a, file.inode);
    inodeOpenAdd(a, file.inode, 1);
    mountOpenAdd(a, file.mount, 1);
    return { ...file, raStart: 0, raSize: 0, prevIndex: -2, closed: false };
  }

  munmap(map: OpenFile): void {
    if (map.inode === NIL) {
      if (map.closed) return;
      map.closed = true;
      iput(this.arena, map.mapping, this.kernel.ops);
      return;
    }
    this.close(map);
  }

  /** pread: copy [pos, pos+len) into dst (allocated if not given). Returns bytes read. */
  read(file: OpenFile, pos: number, len: number, dst?: Uint8Array, dstOff = 0): number {
    const out = dst ?? new Uint8Array(len);
    return filemapRead(this.kernel, file, pos, out, dstOff, len);
  }

  /**
   * Zero-copy read of [pos, pos + len): the cached bytes themselves, as views into the shared page
   * frames (mainline lets a shared file be mmapped through its shared inode; this is that access
   * without a page table). The pages stay pinned — reclaim and drop-caches leave them — until release.
   */
  view(file: OpenFile, pos: number, len: number): FileView {
    const a = this.arena;
    const end = Math.min(pos + len, file.size);
    const frames = new Int32Array(end > pos ? Math.floor((end - 1) / PAGE_SIZE) - Math.floor(pos / PAGE_SIZE) + 1 : 0);
    const n = filemapPin(this.kernel, file, pos, len, frames);
    const views: Uint8Array[] = [];
    let at = pos;
    for (let i = 0; i < n; ) {
      // A run of frames adjacent in one chunk is one view.
      const chunk = a.frameChunk(frames[i]);
      const start = a.frameOffset(frames[i]) + (at % PAGE_SIZE);
      let j = i + 1;
      while (j < n && frames[j] === frames[j - 1] + 1 && a.frameChunk(frames[j]) === chunk) j++;
      const runEnd = Math.min(end, (Math.floor(at / PAGE_SIZE) + (j - i)) * PAGE_SIZE);
      views.push(new Uint8Array(chunk.buffer, chunk.byteOffset + start, runEnd - at));
      at = runEnd;
      i = j;
    }
    let released = false;
    return {
      views,
      bytes: Math.max(0, end - pos),
      release: () => {
        if (released) return;
        released = true;
        filemapUnpin(this.kernel, frames, n);
      },
    };
  }

  /** Read a whole file into a new buffer. */
  readAll(file: OpenFile): Buffer {
    let buf: Buffer;
    try {
      if (file.size > bufferConstants.MAX_LENGTH) throw new RangeError('over the buffer limit');
      buf = Buffer.allocUnsafe(file.size);
    } catch {
      // A sparse file (or a forged i_size) can be larger than one buffer may hold.
      throw new ErofsError('EINVAL', `${file.path}: ${file.size} bytes do not fit in one buffer; read it in ranges`);
    }
    const n = filemapRead(this.kernel, file, 0, buf, 0, file.size);
    if (n !== file.size) throw new ErofsError('EIO', `${file.path}: short read ${n}/${file.size}`);
    return buf;
  }

  readahead(file: OpenFile, pos: number, len: number): number {
    return readaheadRange(this.kernel, file, pos, len);
  }

  /**
   * posix_fadvise(fd, offset, len, advice); len 0 means to the end of the file. DONTNEED drops the
   * unused cached pages wholly inside the range (generic_fadvise's rounding) and returns how many;
   * on a shared file it acts on the shared inode (erofs_ishare_fadvise). WILLNEED reads ahead.
   */
  fadvise(file: OpenFile, offset: number, len: number, advice: FadviseAdvice): number {
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(len) || len < 0) {
      throw new ErofsError('EINVAL', `fadvise: bad range offset ${offset} length ${len}`);
    }
    if (file.closed) throw new ErofsError('EINVAL', `fadvise on a closed file (${file.path})`);
    if (advice === 'willneed') return readaheadRange(this.kernel, file, offset, len === 0 ? Math.max(0, file.size - offset) : len);
    if (advice !== 'dontneed') return 0;
    if (file.size === 0) return 0;
    const lastPage = Math.floor((file.size - 1) / PAGE_SIZE);
    const start = Math.ceil(offset / PAGE_SIZE);
    let end: number;
    if (len === 0) {
      end = lastPage; // to the end of the file
    } else {
      const endbyte = offset + len - 1;
      end = Math.floor(endbyte / PAGE_SIZE);
      if ((endbyte + 1) % PAGE_SIZE !== 0) end--; // a partly covered last page stays
    }
    end = Math.min(end, lastPage);
    if (end < start) return 0;
    return file.mapping !== file.inode
      ? ishareFadviseDontneed(this.arena, file.mapping, start, end)
      : invalidateMappingPages(this.arena, file.mapping, start, end);
  }

  /** echo 3 > /proc/sys/vm/drop_caches: drop clean unpinned pages, then unused inodes. */
  dropCaches(): void {
    const a = this.arena;
    for (let round = 0; round < 3; round++) {
      shrinkPageLru(a, a.nframes);
      pruneIcache(a, a.ninodes, this.kernel.ops);
    }
  }

  /** Evict up to n unused inodes (and their pages) from the cold end of the inode LRU. */
  evictInodes(n: number): number {
    return pruneIcache(this.arena, n, this.kernel.ops);
  }

  /** Shrink (or restore) the frames the allocator may use: memory-pressure chaos. */
  setPoolLimit(frames: number): void {
    this.arena.frameLimit = frames;
  }

  /** Regular files of a mount (path, nid, size), from this thread's parsed image. */
  listFiles(m: number): { path: string; nid: number; size: number }[] {
    const sb = erofsSb(this.kernel, m);
    const out: { path: string; nid: number; size: number }[] = [];
    for (const { path, inode } of sb.image.walk()) if (inode.type === 'file') out.push({ path, nid: inode.nid, size: inode.size });
    return out;
  }

  mountInfo(m: number): MountParams {
    return mountParams(this.arena, m);
  }

  stats(): SystemStats {
    const a = this.arena;
    const mounts: MountReport[] = [];
    for (let m = 0; m < a.nmounts; m++) {
      if (mountState(a, m) !== MS_ACTIVE) continue;
      const p = mountParams(a, m);
      mounts.push({ mount: m, image: p.image, inodeShare: p.inodeShare, domainId: p.domainId, verify: p.verify ?? false, ...mountDeviceStats(a, m) });
    }
    const filePages = ctrReadSigned(a.i32, CTR.FILE_PAGES);
    return {
      pageSize: PAGE_SIZE,
      poolBytes: a.poolBytes,
      pageCacheBytes: filePages * PAGE_SIZE,
      sharedPageCacheBytes: ctrReadSigned(a.i32, CTR.SHARED_FILE_PAGES) * PAGE_SIZE,
      filePages,
      framesFree: framesFree(a),
      framesUsed: framesUsed(a),
      lruPages: lruCount(a),
      inodesInUse: inodesInUse(a),
      unusedInodes: inodeLruCount(a),
      counters: readCounters(a.i32),
      locks: readLockStats(a.i32),
      mounts,
    };
  }

  resetStats(): void {
    const a = this.arena;
    resetEventCounters(a.i32);
    resetLockStats(a.i32);
    for (let m = 0; m < a.nmounts; m++) resetMountDeviceStats(a, m);
  }

  /** Release this thread's private state (fds, parsed images). Shared state is untouched. */
  detach(): void {
    erofsSbReleaseAll(this.kernel);
  }

  /** i_count of an inode slot (tests and invariant checks). */
  inodeCount(slot: number): number {
    return inodeCount(this.arena, slot);
  }
}

export type { OpenFile };
