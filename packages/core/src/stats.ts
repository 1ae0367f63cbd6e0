// What the kernel reports about itself (the /proc/meminfo, fincore, lock_stat and per-device I/O
// figures experiments read): gathered from the shared state so any thread sees the same numbers.
import { PAGE_SIZE, type Arena } from './mm/arena.ts';
import { framesFree, framesUsed, lruCount } from './mm/pagepool.ts';
import { readCounters, resetEventCounters, ctrReadSigned } from './mm/counters.ts';
import { CTR, type CounterName } from './fs/erofs/counters.ts';
import { memcgStats, memcgResetEvents, MEMCG_UNLIMITED, MEMCG_DYING } from './mm/memcontrol.ts';
import { readLockStats, resetLockStats, type LockClassStats } from './mm/lockstat.ts';
import { inodesInUse, inodeLruCount, forEachInode, I_ANON, INODE_WORDS } from './vfs/inode.ts';
import {
  mountState,
  mountParams,
  mountDeviceStats,
  mountPerDeviceStats,
  resetMountDeviceStats,
  mountUsers,
  mountThreadState,
  MOUNT_RECORD_BYTES,
  MS_ACTIVE,
  type MountDeviceStats,
  mountSlots,
} from './vfs/mount.ts';
import { ishareMountSharedPages, ishareResetMount, ishareSharedFilePages } from './fs/erofs/ishare_stats.ts';

export interface MountReport extends MountDeviceStats {
  /** Of the device pages, those that filled a shared inode's mapping. */
  readonly sharedPages: number;
  readonly mount: number;
  readonly image: string;
  readonly inodeShare: boolean;
  readonly domainId: string;
  readonly verify: boolean;
  readonly superblockShare: boolean;
  /** Mounts using this superblock (more than 1 only with superblock_share). */
  readonly users: number;
  /** Threads holding parsed state of this superblock, and the path-cache entries they hold for it. */
  readonly threadStates: number;
  readonly dentries: number;
  /** Extra devices of a multi-device image in table order ('' for one the image itself holds). */
  readonly devices?: readonly string[];
  /** Device reads per device: [0] the image, [i] extra device i (multi-device images only). */
  readonly perDevice?: MountDeviceStats[];
}

/**
 * What the kernel model holds beside the page cache (the slab side of the superblock_share patch's
 * measurement): superblocks, inode records, dentries, per-thread parsed state.
 */
export interface KernelMetadata {
  /** Superblocks up (mount records in use): one per mount, or per distinct image with superblock_share. */
  readonly superblocks: number;
  /** Mounts (a superblock counts once per mount using it). */
  readonly mounts: number;
  /** Inode records in use: the mounted images' inodes plus the shared (anonymous) inodes. */
  readonly inodes: number;
  /** Of which shared inodes on the anonymous superblock (inode_share). */
  readonly sharedInodes: number;
  /** Bytes of arena control records in use: inode records + superblock (mount) records. */
  readonly arenaControlBytes: number;
  readonly inodeRecordBytes: number;
  readonly superblockRecordBytes: number;
  /** Path-cache entries (dentries) every thread holds, summed over superblocks. */
  readonly dentries: number;
  /** Per-thread parsed superblock states (a thread's s_fs_info copy), summed over superblocks. */
  readonly threadStates: number;
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
  readonly metadata: KernelMetadata;
}

/** The kernel model's metadata beside the page cache, counted from the shared state. */
export function kernelMetadata(a: Arena): KernelMetadata {
  let superblocks = 0;
  let mounts = 0;
  let dentries = 0;
  let threadStates = 0;
  for (let m = 0; m < mountSlots(a); m++) {
    if (mountState(a, m) !== MS_ACTIVE) continue;
    superblocks++;
    mounts += mountUsers(a, m);
    const t = mountThreadState(a, m);
    dentries += t.dentries;
    threadStates += t.threads;
  }
  let sharedInodes = 0;
  forEachInode(a, (_slot, st) => {
    if (st & I_ANON) sharedInodes++;
  });
  const inodes = inodesInUse(a);
  const inodeRecordBytes = inodes * INODE_WORDS * 4;
  const superblockRecordBytes = superblocks * MOUNT_RECORD_BYTES;
  return {
    superblocks,
    mounts,
    inodes,
    sharedInodes,
    arenaControlBytes: inodeRecordBytes + superblockRecordBytes,
    inodeRecordBytes,
    superblockRecordBytes,
    dentries,
    threadStates,
  };
}

export function systemStats(a: Arena): SystemStats {
  const mounts: MountReport[] = [];
  for (let m = 0; m < mountSlots(a); m++) {
    if (mountState(a, m) !== MS_ACTIVE) continue;
    const p = mountParams(a, m);
    mounts.push({
      mount: m,
      image: p.image,
      inodeShare: p.inodeShare,
      domainId: p.domainId,
      verify: p.verify ?? false,
      superblockShare: p.superblockShare ?? false,
      users: mountUsers(a, m),
      threadStates: mountThreadState(a, m).threads,
      dentries: mountThreadState(a, m).dentries,
      ...mountDeviceStats(a, m),
      ...(p.devices !== undefined
        ? { devices: p.devices, perDevice: mountPerDeviceStats(a, m, p.devices.length + 1) }
        : {}),
      sharedPages: ishareMountSharedPages(a, m),
    });
  }
  const filePages = ctrReadSigned(a.i32, CTR.FILE_PAGES);
  return {
    pageSize: PAGE_SIZE,
    poolBytes: a.poolBytes,
    pageCacheBytes: filePages * PAGE_SIZE,
    sharedPageCacheBytes: ishareSharedFilePages(a) * PAGE_SIZE,
    filePages,
    framesFree: framesFree(a),
    framesUsed: framesUsed(a),
    lruPages: lruCount(a),
    inodesInUse: inodesInUse(a),
    unusedInodes: inodeLruCount(a),
    counters: readCounters(a.i32),
    locks: readLockStats(a.i32),
    mounts,
    metadata: kernelMetadata(a),
  };
}

/** Zero the event counters, lock statistics and per-mount device I/O (levels such as FILE_PAGES stay). */
export function resetStats(a: Arena): void {
  resetEventCounters(a.i32);
  resetLockStats(a.i32);
  memcgResetEvents(a);
  for (let m = 0; m < mountSlots(a); m++) {
    resetMountDeviceStats(a, m);
    ishareResetMount(a, m);
  }
}

/** One memory cgroup as cgroup v2 shows it (bytes, except event and page counts), plus the split account. */
export interface MemcgStat {
  readonly id: number;
  /** The name it was created with (System.memcgCreate), `root` for the root. */
  readonly name: string;
  /** Parent id; null for the root. */
  readonly parent: number | null;
  /** Removed (rmdir) but still pinned by charges or pages on its LRU — a zombie under `keep`. */
  readonly dying: boolean;
  /** memory.current: bytes charged to it and its descendants. */
  readonly memoryCurrent: number;
  /** Bytes charged to it directly (what a dying cgroup pins). */
  readonly localBytes: number;
  /** memory.max / memory.high in bytes; null = "max" (no limit). */
  readonly memoryMax: number | null;
  readonly memoryHigh: number | null;
  /** memory.stat (hierarchical): bytes for file / active_file / inactive_file, counts for the rest. */
  readonly stat: {
    readonly file: number;
    readonly active_file: number;
    readonly inactive_file: number;
    readonly workingset_refault_file: number;
    readonly workingset_activate_file: number;
    readonly pgscan: number;
    readonly pgsteal: number;
  };
  /** memory.events (hierarchical). */
  readonly events: { readonly high: number; readonly max: number; readonly oom: number };
  /**
   * The split account (not the kernel's): each cached page's bytes divided equally among the cgroups that
   * read it while it stayed resident; this cgroup's share, in bytes (fractional).
   */
  readonly splitBytes: number;
  /** Bytes of cached pages it read; of those charged to it, read by others too; read by it, charged elsewhere. */
  readonly readBytes: number;
  readonly paidSharedBytes: number;
  readonly freeReadBytes: number;
}

/** Every memory cgroup that exists (online or dying); `names` maps "id:gen" to the name it was created with. */
export function memcgStatAll(a: Arena, names: ReadonlyMap<string, string>): MemcgStat[] {
  const limit = (p: number): number | null => (p === MEMCG_UNLIMITED ? null : p * PAGE_SIZE);
  return memcgStats(a).map((m) => ({
    id: m.id,
    name: m.id === 0 ? 'root' : (names.get(`${m.id}:${m.gen}`) ?? `memcg${m.id}`),
    parent: m.parent < 0 ? null : m.parent,
    dying: m.state === MEMCG_DYING,
    memoryCurrent: m.current * PAGE_SIZE,
    localBytes: m.local * PAGE_SIZE,
    memoryMax: limit(m.max),
    memoryHigh: limit(m.high),
    stat: {
      file: m.current * PAGE_SIZE,
      active_file: Math.min(m.activeFile, m.current) * PAGE_SIZE,
      inactive_file: Math.max(0, m.current - m.activeFile) * PAGE_SIZE,
      workingset_refault_file: m.refault,
      workingset_activate_file: m.activate,
      pgscan: m.pgscan,
      pgsteal: m.pgsteal,
    },
    events: { high: m.evHigh, max: m.evMax, oom: m.evOom },
    splitBytes: m.splitBytes,
    readBytes: m.readPages * PAGE_SIZE,
    paidSharedBytes: m.paidShared * PAGE_SIZE,
    freeReadBytes: m.freeRead * PAGE_SIZE,
  }));
}
