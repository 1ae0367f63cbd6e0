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
import { vfsOpen, vfsOpenInode, vfsClose, vfsMmap, vfsMunmap } from './vfs/open.ts';
import { vfsRead, vfsReadAll, vfsView, type FileView } from './vfs/read_write.ts';
import { vfsFadvise } from './vfs/fadvise.ts';
import { vfsFincore, type Residency } from './vfs/mincore.ts';
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
import { erofsListFiles, erofsNameiOps } from './fs/erofs/namei.ts';
import { erofsSb, type ErofsSb } from './fs/erofs/super.ts';
import { erofsReadSplits } from './fs/erofs/readsplit.ts';
import { Overlay } from './fs/overlay/namei.ts';
import { POLICY_ANY, realInodePolicy, setRealInodePolicy, type RealInodePolicy } from './fs/erofs/ishare.ts';
import {
  systemStats,
  resetStats,
  kernelMetadata,
  memcgStatAll,
  type SystemStats,
  type MountReport,
  type KernelMetadata,
  type MemcgStat,
} from './stats.ts';
import {
  memcgInit,
  memcgCreate,
  memcgOffline,
  memcgSetLimits,
  memcgGen,
  memcgReap,
  setCurrentMemcg,
  currentMemcg,
  chargePolicyName,
  setChargePolicy,
  MEMCG_UNLIMITED,
  ROOT_MEMCG,
  NR_MEMCG,
  type ChargePolicy,
} from './mm/memcontrol.ts';
import { PAGE_SIZE } from './mm/arena.ts';
import { hooksAttach, hooksRefresh, setInjectMask } from './debug/hooks.ts';

export interface SystemConfig {
  /** Page pool size in MiB (default 256). */
  poolMiB?: number;
  /** Or in bytes (wins over poolMiB). */
  poolBytes?: number;
  inodeSlots?: number; // default 65536
  mountSlots?: number; // default 64
  policy?: RealInodePolicy; // default 'processing' (the v7 seed)
  /** Who pays for a removed memory cgroup's pages (docs/memcg.md); default 'keep' (mainline). */
  charge?: ChargePolicy;
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
  /** Names of the memory cgroups this System created, by "id:generation". */
  private readonly memcgNames = new Map<string, string>();
  /** Created the arena (System.create): its detach also closes the descriptors of mounts left up. */
  private readonly owner: boolean;
  /** This thread's overlays, by their layers' mounts (top first), with the superblocks they were built on. */
  private readonly overlays = new Map<string, { sbs: ErofsSb[]; ovl: Overlay }>();
  private readonly overlaysByList = new WeakMap<readonly number[], { sbs: ErofsSb[]; ovl: Overlay }>();

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
    memcgInit(a);
    setChargePolicy(a, cfg.charge ?? 'keep');
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

  /** What happens to a removed memory cgroup's charges: keep, reparent or recharge (any thread may set it). */
  get chargePolicy(): ChargePolicy {
    return chargePolicyName(this.arena);
  }
  set chargePolicy(p: ChargePolicy) {
    setChargePolicy(this.arena, p);
  }

  /**
   * Create a memory cgroup (mkdir in cgroup v2) under `parent` (an id; the root by default) with
   * memory.max / memory.high in bytes (rounded down to pages; absent = no limit). Returns its id (1..31).
   * Throws a RangeError when the parent is not online, a limit is not a size, or every id is taken by
   * live or dying cgroups.
   */
  memcgCreate(name: string, opts: MemcgOptions = {}): number {
    const parent = opts.parent ?? ROOT_MEMCG;
    if (!Number.isInteger(parent) || parent < 0 || parent >= NR_MEMCG)
      throw new RangeError(`no memory cgroup ${parent}`);
    const id = memcgCreate(this.arena, parent, limitPages(opts.max, 'max'), limitPages(opts.high, 'high'));
    if (id < 0)
      throw new RangeError(`memory cgroup ${name}: all ${NR_MEMCG - 1} cgroup ids are in use (live or dying)`);
    this.memcgNames.set(`${id}:${memcgGen(this.arena, id)}`, name);
    return id;
  }

  /** Write memory.max / memory.high (bytes; null = no limit). A lower max reclaims down to it. */
  memcgSetLimits(id: number, limits: { max?: number | null; high?: number | null }): void {
    const cur = this.memcgStat(id);
    const max = limits.max === undefined ? cur.memoryMax : limits.max;
    const high = limits.high === undefined ? cur.memoryHigh : limits.high;
    memcgSetLimits(this.arena, id, limitPages(max, 'max'), limitPages(high, 'high'));
  }

  /**
   * Remove a memory cgroup (rmdir → css_offline): no reader may still run in it. Its charges follow the
   * charge policy; under `keep` it stays listed as dying while it pins pages. Throws a RangeError for
   * the root, a cgroup not online, or one with children online.
   */
  memcgRemove(id: number): void {
    memcgOffline(this.arena, id);
  }

  /** Figures of one memory cgroup (online or dying). */
  memcgStat(id: number): MemcgStat {
    const s = this.memcgList().find((m) => m.id === id);
    if (!s) throw new RangeError(`no memory cgroup ${id}`);
    return s;
  }

  /** Every memory cgroup that exists, the root first, dying ones included (freed ones are gone). */
  memcgList(): MemcgStat[] {
    return memcgStatAll(this.arena, this.memcgNames);
  }

  /** Free the dying cgroups that pin nothing any more (stat and create do it too). */
  memcgReap(): void {
    memcgReap(this.arena);
  }

  /**
   * Run this thread's reads in memory cgroup `id` (the task's cgroup): pages it brings into the page
   * cache are charged there. 0 = the root, where every thread starts.
   */
  setMemcg(id: number): void {
    setCurrentMemcg(this.arena, id);
  }
  get memcg(): number {
    return currentMemcg();
  }

  /** Re-read stress settings (inject mask, jitter) after the controller changed them. */
  refreshHooks(): void {
    hooksRefresh(this.arena);
  }

  /** mount -t erofs -o ro[,inode_share,domain_id=ID][,verify][,superblock_share] IMAGE */
  mount(image: string, opts: MountOptions = {}): MountResult {
    return erofsMount(this.kernel, image, opts);
  }

  /**
   * umount: with superblock_share and other mounts still on the superblock, only this mount goes.
   * Otherwise refuse new opens, wait (bounded) for open files to close, evict every inode of the mount —
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

  /**
   * The read-only overlay of mounts `layers` (top first), as containerd stacks an image's layer blobs:
   * this thread's, built on first use and again when one of the mounts changed.
   */
  overlay(layers: readonly number[]): Overlay {
    // Callers pass one array per container again and again: find it by identity first (no key to build).
    const known = this.overlaysByList.get(layers) ?? this.overlays.get(layers.join(','));
    if (known && known.sbs.every((sb, i) => erofsSb(this.kernel, layers[i]) === sb)) {
      this.overlaysByList.set(layers, known);
      return known.ovl;
    }
    const sbs = layers.map((m) => erofsSb(this.kernel, m));
    const entry = { sbs, ovl: new Overlay(sbs.map((sb) => erofsNameiOps(sb.image))) };
    this.overlays.set(layers.join(','), entry);
    this.overlaysByList.set(layers, entry);
    return entry.ovl;
  }

  /**
   * Open a regular file by its path in the overlay of mounts `layers` (top first): the path is resolved
   * through the layers (whiteouts, opaque directories), and the file opened is the layer's own inode.
   */
  openOverlay(layers: readonly number[], path: string, flags: OpenFlags = {}): OpenFile {
    const r = this.overlay(layers).resolve(path);
    return vfsOpenInode(this.kernel, erofsFileOps, layers[r.layer], r.nid, path, flags);
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

  /**
   * Where `file`'s read can be cut between reader threads: [0, ..., size], parts of about `stripe` bytes
   * (at most `maxParts`), a compressed file's only at extent ends (fs/erofs/readsplit.ts).
   */
  readSplits(file: OpenFile, stripe: number, maxParts = 1024): number[] {
    return erofsReadSplits(this.kernel, file, stripe, maxParts);
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

  /**
   * fincore(1) of an open file: the pages of its mapping in the page cache — for a shared file, the
   * shared inode's, so another file's fadvise(DONTNEED) on the same content empties it.
   */
  fincore(file: OpenFile): Residency {
    return vfsFincore(this.kernel, file);
  }

  /** fincore(1) PATH in mount m: open, read the residency, close (as the tool does). */
  residency(m: number, path: string): Residency {
    const f = this.open(m, path);
    try {
      return this.fincore(f);
    } finally {
      this.close(f);
    }
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

  /** What the kernel holds beside the page cache: superblocks, inode records, dentries, thread states. */
  metadata(): KernelMetadata {
    return kernelMetadata(this.arena);
  }

  resetStats(): void {
    resetStats(this.arena);
  }

  /**
   * Release this thread's private state (parsed images). Shared state is untouched, except that the
   * System's creator also closes the image descriptors of mounts still up (worker threads must be done).
   */
  detach(): void {
    this.overlays.clear();
    erofsSbReleaseAll(this.kernel);
    if (this.owner) erofsReleaseBdevs(this.kernel);
  }

  /** i_count of an inode slot (tests and invariant checks). */
  inodeCount(slot: number): number {
    return inodeCount(this.arena, slot);
  }
}

/** Options of System.memcgCreate: the parent's id and the limits in bytes (absent or null = no limit). */
export interface MemcgOptions {
  parent?: number;
  max?: number | null;
  high?: number | null;
}

function limitPages(bytes: number | null | undefined, what: string): number {
  if (bytes === undefined || bytes === null) return MEMCG_UNLIMITED;
  if (!Number.isFinite(bytes) || bytes < 0)
    throw new RangeError(`memory.${what} must be a size in bytes, not ${bytes}`);
  return Math.min(MEMCG_UNLIMITED - 1, Math.floor(bytes / PAGE_SIZE));
}

export type {
  OpenFile,
  OpenFlags,
  FadviseAdvice,
  FileView,
  MountOptions,
  MountResult,
  SystemStats,
  MountReport,
  KernelMetadata,
  Residency,
  MemcgStat,
  ChargePolicy,
};
