// The System: the embeddable entry point. `System.create` (main thread) allocates and initialises the
// arena; `System.attach` (a worker) joins it with the handle. Both run the same kernel code on the same
// shared state: mounts, inodes, shared inodes, page cache, counters.
//
// This is a facade: each method hands over to the module that owns its concern, laid out as in Linux —
// fs/erofs/super.ts (mount, kill_sb), vfs/super.ts (generic umount), vfs/open.ts (open/close/mmap),
// fs/erofs/ishare.ts (what opening and advising a shared file mean), vfs/read_write.ts and
// vfs/filemap.ts (reads), vfs/fadvise.ts, vfs/drop_caches.ts, and stats.ts.
import { Arena, CHECK_LOCKS, CHECK_RACES, CHECK_INVARIANTS, type ArenaConfig, type ArenaHandle } from './mm/arena.ts';
import { pagePoolInit, pagePoolRegions } from './mm/pagepool.ts';
import { setCountAcquisitions } from './mm/lockstat.ts';
import { Kernel } from './vfs/kernel.ts';
import { inodeTableInit, inodeCount } from './vfs/inode.ts';
import { pageCacheInit } from './vfs/pagecache.ts';
import { mountParams, type MountParams } from './vfs/mount.ts';
import { readaheadRange } from './vfs/filemap.ts';
import type { OpenFile, OpenFlags, FadviseAdvice } from './vfs/file.ts';
import { vfsOpen, vfsClose, vfsMmap, vfsMunmap } from './vfs/open.ts';
import { vfsRead, vfsReadAll, vfsView, type FileView } from './vfs/read_write.ts';
import { vfsFadvise } from './vfs/fadvise.ts';
import { dropCaches, evictInodes, setPoolLimit } from './vfs/drop_caches.ts';
import {
  erofsMount,
  erofsKillSb,
  erofsSbReleaseAll,
  erofsReleaseBdevs,
  type MountOptions,
  type MountResult,
} from './fs/erofs/super.ts';
import { erofsInodeOps, erofsFileOps } from './fs/erofs/inode.ts';
import { erofsListFiles } from './fs/erofs/namei.ts';
import { POLICY_ANY, realInodePolicy, setRealInodePolicy, type RealInodePolicy } from './fs/erofs/ishare.ts';
import { systemStats, resetStats, type SystemStats, type MountReport } from './stats.ts';
import { hooksAttach, hooksRefresh, setInjectMask } from './debug/hooks.ts';

export interface SystemConfig {
  /** Page pool size in MiB (default 256). */
  poolMiB?: number;
  /** Or in bytes (wins over poolMiB). */
  poolBytes?: number;
  inodeSlots?: number; // default 65536
  mountSlots?: number; // default 64
  policy?: RealInodePolicy; // default 'processing' (the v7 seed)
  /** Stress only: planted-bug mask (debug/bugs/ BUG) and jitter probability (0..1). */
  inject?: number;
  jitter?: number;
  seed?: number;
  /** Count every lock acquisition per lock class (costs a shared atomic per lock; stress turns it on). */
  lockStats?: boolean;
  /** Stress only: check at every use site that the structure's declared lock is held (mm/lockdep.ts). */
  lockChecks?: boolean;
  /**
   * Stress only: the in-core invariant checks (DBG_BUGON sites: references, live mappings, busy inodes at
   * unmount, bad pages). Independent of `inject`.
   */
  invariants?: boolean;
  /** Stress only: the watchpoint data-race detector (mm/kcsan.ts), its sampling and stall. */
  raceDetector?: boolean;
  raceSample?: number;
  raceStallUs?: number;
}

export class System {
  readonly arena: Arena;
  readonly kernel: Kernel;
  /** Created the arena (System.create): its detach also closes the descriptors of mounts left up. */
  private readonly owner: boolean;

  private constructor(arena: Arena, threadId: number, owner: boolean) {
    this.arena = arena;
    this.owner = owner;
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
    // The page pool sizes mm's own sections; the inode and mount tables and the page index declared theirs
    // (vfs/inode.ts, vfs/mount.ts, vfs/pagecache.ts), sized by the slots given here.
    const a = Arena.create(arenaCfg, pagePoolRegions);
    pagePoolInit(a);
    pageCacheInit(a);
    inodeTableInit(a);
    setRealInodePolicy(a, cfg.policy ?? 'processing');
    setInjectMask(a, cfg.inject ?? 0);
    a.jitter = Math.round(Math.max(0, Math.min(1, cfg.jitter ?? 0)) * 65536);
    a.seed = cfg.seed ?? 1;
    a.countLockAcquisitions = cfg.lockStats ?? false;
    a.checks =
      (cfg.lockChecks ? CHECK_LOCKS : 0) |
      (cfg.raceDetector ? CHECK_RACES : 0) |
      (cfg.invariants ? CHECK_INVARIANTS : 0);
    a.raceSample = cfg.raceSample ?? 0;
    a.raceStallUs = cfg.raceStallUs ?? 0;
    return new System(a, a.nextThreadId(), true);
  }

  /** Join an existing kernel from another thread. */
  static attach(handle: ArenaHandle): System {
    const a = Arena.attach(handle);
    return new System(a, a.nextThreadId(), false);
  }

  get handle(): ArenaHandle {
    return this.arena.handle;
  }

  get policy(): RealInodePolicy {
    return realInodePolicy(this.arena) === POLICY_ANY ? 'any' : 'processing';
  }
  set policy(p: RealInodePolicy) {
    setRealInodePolicy(this.arena, p);
  }

  /** Re-read stress settings (inject mask, jitter) after the controller changed them. */
  refreshHooks(): void {
    hooksRefresh(this.arena);
  }

  /** mount -t erofs -o ro[,inode_share,domain_id=ID][,verify] IMAGE */
  mount(image: string, opts: MountOptions = {}): MountResult {
    return erofsMount(this.kernel, image, opts);
  }

  /**
   * umount: refuse new opens, wait (bounded) for open files to close, evict every inode of the mount —
   * detaching them from shared inodes, whose cached pages stay valid for the other images — and free the
   * slot.
   */
  unmount(m: number, timeoutMs = 30_000): void {
    erofsKillSb(this.kernel, m, timeoutMs);
  }

  /** Open a regular file by path inside mount m. */
  open(m: number, path: string, flags: OpenFlags = {}): OpenFile {
    return vfsOpen(this.kernel, erofsFileOps, m, path, flags);
  }

  close(file: OpenFile): void {
    vfsClose(this.kernel, file);
  }

  /**
   * mmap, as the seed's ishare mmap does it (vfs/open.ts): a shared file's mapping pins the shared inode
   * only, so it outlives close. Returns an OpenFile to read with `read`; release it with `munmap`.
   */
  mmap(file: OpenFile): OpenFile {
    return vfsMmap(this.kernel, file);
  }

  munmap(map: OpenFile): void {
    vfsMunmap(this.kernel, map);
  }

  /** pread: copy [pos, pos+len) into dst (allocated if not given). Returns bytes read. */
  read(file: OpenFile, pos: number, len: number, dst?: Uint8Array, dstOff = 0): number {
    return vfsRead(this.kernel, file, pos, len, dst, dstOff);
  }

  /** Zero-copy read of [pos, pos + len): views into the cached page frames, pinned until release. */
  view(file: OpenFile, pos: number, len: number): FileView {
    return vfsView(this.kernel, file, pos, len);
  }

  /** Read a whole file into a new buffer. */
  readAll(file: OpenFile): Buffer {
    return vfsReadAll(this.kernel, file);
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
    return vfsFadvise(this.kernel, erofsFileOps, file, offset, len, advice);
  }

  /** echo 3 > /proc/sys/vm/drop_caches: drop clean unpinned pages, then unused inodes. */
  dropCaches(): void {
    dropCaches(this.kernel);
  }

  /** Evict up to n unused inodes (and their pages) from the cold end of the inode LRU. */
  evictInodes(n: number): number {
    return evictInodes(this.kernel, n);
  }

  /** Shrink (or restore) the frames the allocator may use: memory-pressure chaos. */
  setPoolLimit(frames: number): void {
    setPoolLimit(this.arena, frames);
  }

  /** Regular files of a mount (path, nid, size), from this thread's parsed image. */
  listFiles(m: number): { path: string; nid: number; size: number }[] {
    return erofsListFiles(this.kernel, m);
  }

  mountInfo(m: number): MountParams {
    return mountParams(this.arena, m);
  }

  stats(): SystemStats {
    return systemStats(this.arena);
  }

  resetStats(): void {
    resetStats(this.arena);
  }

  /**
   * Release this thread's private state (parsed images). Shared state is untouched, except that the
   * System's creator also closes the image descriptors of mounts still up (worker threads must be done).
   */
  detach(): void {
    erofsSbReleaseAll(this.kernel);
    if (this.owner) erofsReleaseBdevs(this.kernel);
  }

  /** i_count of an inode slot (tests and invariant checks). */
  inodeCount(slot: number): number {
    return inodeCount(this.arena, slot);
  }
}

export type { OpenFile, OpenFlags, FadviseAdvice, FileView, MountOptions, MountResult, SystemStats, MountReport };
