// The mount table: one record per mounted image, shared by all threads. The mount's parameters (image
// path, options) are stored as a small JSON blob in the record; the image itself is opened once, at
// mount, and its file descriptor (the mount's block device) is recorded here: worker threads share the
// process's descriptors, so every thread reads that one file — an image renamed over after mount changes
// nothing the mount reads. Each thread keeps only its parsed metadata (fs/erofs/super.ts).
//
// A record is a superblock (struct super_block): `superblock_share` lets several mounts use one record
// (sget_fc finding an existing superblock, s_active counting its users, deactivate_super tearing it down
// only at the last unmount), so the slot number a mount returns is its superblock's, as the device number
// in /proc/self/mountinfo is.
import { declareCount, declareRegion, type Arena } from '../mm/arena.ts';
import { spinLock, spinUnlock } from '../mm/spinlock.ts';
import { LOCK_CLASS } from './locks.ts';
import { VfsError } from './errno.ts';

const M_STATE = 0; // MS_FREE / MS_ACTIVE / MS_DYING
const M_GEN = 1; // bumped at every mount of the slot
// Word 2 is unused: open files are counted per thread slot (vfs.mountOpen below).
const M_DEV_READS = 3; // device reads served by this image (read calls)
const M_DEV_PAGES = 4; // pages filled from this image's device
const M_USERS = 5; // s_active: mounts using this superblock (1 unless superblock_share reused it)
const M_BLOB_LEN = 6;
const M_BDEV = 7; // the image's file descriptor, opened once at mount: every thread reads through it (s_bdev)
const M_THREADS = 8; // threads holding parsed state of this superblock (the filesystem's per-thread s_fs_info)
const M_DENTRIES = 9; // path-cache entries those threads hold for it (the dcache's share of this superblock)
const M_HDR_WORDS = 12;
const BLOB_BYTES = 4096;
/**
 * Devices a mount may have, its primary device (the image) included: a multi-device image's extra
 * devices each get a descriptor, opened once at mount like the image's, and their own I/O counters.
 */
export const MAX_MOUNT_DEVICES = 128;
const D_FD = 0; // the device's descriptor (device 0: mirrors M_BDEV), -1 when none
const D_READS = 1;
const D_PAGES = 2;
const D_WORDS = 3;
const M_DEVS = M_HDR_WORDS + BLOB_BYTES / 4;
export const MOUNT_WORDS = M_DEVS + MAX_MOUNT_DEVICES * D_WORDS;
export const MOUNT_TABLE_WORDS = 2; // lock, mounted count

// The mount table's arena regions, declared here (mm/ knows none of them): the mount slots (the
// `mountSlots` setting of the arena's configuration, 1..1024), their records and the table head.
declareCount('nmounts', (cfg) => {
  const n = cfg.mountSlots;
  if (!(n >= 1 && n <= 1024)) throw new RangeError('mount slots out of range (1..1024)');
  return n;
});
declareRegion('vfs.mounts', (c) => c.nmounts * MOUNT_WORDS);
declareRegion('vfs.mountTable', () => MOUNT_TABLE_WORDS);
/**
 * Open files per mount, as the kernel's mnt_pcp->mnt_count: one count per thread slot (a thread's slot is
 * its id modulo MOUNT_OPEN_SLOTS), summed when read. A shared count was written by every open and close
 * of every reader, bouncing its cache line (and the mount record's, which every open reads) between
 * their cores. Each slot's block of counts is padded to a cache line.
 */
export const MOUNT_OPEN_SLOTS = 16;
const openStride = (nmounts: number): number => (nmounts + 15) & ~15;
declareRegion('vfs.mountOpen', (c) => MOUNT_OPEN_SLOTS * openStride(c.nmounts));

/** Mount slots of the arena. */
export function mountSlots(a: Arena): number {
  return a.counts.nmounts;
}
function mountTable(a: Arena): number {
  return a.regions['vfs.mountTable'];
}

export const MS_FREE = 0;
export const MS_ACTIVE = 1;
export const MS_DYING = 2;

export interface MountParams {
  readonly image: string; // absolute path of the image file
  readonly inodeShare: boolean; // inode_share option
  readonly domainId: string; // domain_id option ('' = default domain)
  /** verify option: join a shared inode only after the content is proven to match the fingerprint. */
  readonly verify?: boolean;
  /** superblock_share option: another mount of the same backing file with the same options reuses this one. */
  readonly superblockShare?: boolean;
  /** The backing file's identity (device:inode:fsoffset), what superblock_share matches on. */
  readonly backing?: string;
  /**
   * Extra devices in table order (mainline's device=), as located at mount: absolute paths, '' for a
   * device the image itself holds. Absent for a single-device image.
   */
  readonly devices?: readonly string[];
}

function rec(a: Arena, m: number): number {
  return a.regions['vfs.mounts'] + m * MOUNT_WORDS;
}

export function mountState(a: Arena, m: number): number {
  return Atomics.load(a.i32, rec(a, m) + M_STATE);
}
export function mountGen(a: Arena, m: number): number {
  return Atomics.load(a.i32, rec(a, m) + M_GEN);
}
/** The open-count slot of thread `threadId` (an open file keeps its slot until its close). */
export function mountOpenSlot(threadId: number): number {
  return threadId % MOUNT_OPEN_SLOTS;
}
/** Open files of mount m: the sum of its slots (each never below zero: a file counts in one slot). */
export function mountOpenCount(a: Arena, m: number): number {
  const base = a.regions['vfs.mountOpen'] + m;
  const stride = openStride(a.counts.nmounts);
  let n = 0;
  for (let s = 0; s < MOUNT_OPEN_SLOTS; s++) n += Atomics.load(a.i32, base + s * stride);
  return n;
}
/** Count d opens (or closes, d < 0) of mount m in open-count slot `slot` (mountOpenSlot). */
export function mountOpenAdd(a: Arena, m: number, d: number, slot: number): void {
  Atomics.add(a.i32, a.regions['vfs.mountOpen'] + slot * openStride(a.counts.nmounts) + m, d);
}
/** One device read of `pages` pages served by device `dev` of mount m (0: the image itself). */
export function mountCountDeviceRead(a: Arena, m: number, pages: number, dev = 0): void {
  const r = rec(a, m);
  Atomics.add(a.i32, r + M_DEV_READS, 1);
  Atomics.add(a.i32, r + M_DEV_PAGES, pages);
  if (dev < MAX_MOUNT_DEVICES) {
    const d = r + M_DEVS + dev * D_WORDS;
    Atomics.add(a.i32, d + D_READS, 1);
    Atomics.add(a.i32, d + D_PAGES, pages);
  }
}

/** Device reads per device of mount m: index 0 the image, i its extra device i. */
export function mountPerDeviceStats(a: Arena, m: number, ndevs: number): MountDeviceStats[] {
  const r = rec(a, m);
  const out: MountDeviceStats[] = [];
  for (let i = 0; i < Math.min(ndevs, MAX_MOUNT_DEVICES); i++) {
    const d = r + M_DEVS + i * D_WORDS;
    out.push({ reads: Atomics.load(a.i32, d + D_READS) >>> 0, pages: Atomics.load(a.i32, d + D_PAGES) >>> 0 });
  }
  return out;
}

/** Descriptor of extra device `dev` (1-based) of mount m, -1 when the image itself serves it or it was taken. */
export function mountDeviceFd(a: Arena, m: number, dev: number): number {
  return Atomics.load(a.i32, rec(a, m) + M_DEVS + dev * D_WORDS + D_FD);
}

/** Take every extra device's descriptor out of the record (each is closed once, by whoever took it). */
export function mountTakeDeviceFds(a: Arena, m: number): number[] {
  const r = rec(a, m);
  const out: number[] = [];
  for (let i = 1; i < MAX_MOUNT_DEVICES; i++) {
    const fd = Atomics.exchange(a.i32, r + M_DEVS + i * D_WORDS + D_FD, -1);
    if (fd >= 0) out.push(fd);
  }
  return out;
}
export interface MountDeviceStats {
  reads: number;
  pages: number;
}
export function mountDeviceStats(a: Arena, m: number): MountDeviceStats {
  const r = rec(a, m);
  return {
    reads: Atomics.load(a.i32, r + M_DEV_READS) >>> 0,
    pages: Atomics.load(a.i32, r + M_DEV_PAGES) >>> 0,
  };
}
export function resetMountDeviceStats(a: Arena, m: number): void {
  const r = rec(a, m);
  Atomics.store(a.i32, r + M_DEV_READS, 0);
  Atomics.store(a.i32, r + M_DEV_PAGES, 0);
  for (let i = 0; i < MAX_MOUNT_DEVICES; i++) {
    const d = r + M_DEVS + i * D_WORDS;
    Atomics.store(a.i32, d + D_READS, 0);
    Atomics.store(a.i32, d + D_PAGES, 0);
  }
}

/** The mount's block device: the image's descriptor opened at mount, -1 once released. */
export function mountBdev(a: Arena, m: number): number {
  return Atomics.load(a.i32, rec(a, m) + M_BDEV);
}

/**
 * Take the block device's descriptor out of the record (so it is closed once, by whoever took it):
 * -1 when it was already taken.
 */
export function mountTakeBdev(a: Arena, m: number): number {
  return Atomics.exchange(a.i32, rec(a, m) + M_BDEV, -1);
}

export function mountParams(a: Arena, m: number): MountParams {
  const r = rec(a, m);
  const len = a.i32[r + M_BLOB_LEN];
  const bytes = new Uint8Array(a.i32.buffer, (r + M_HDR_WORDS) * 4, len).slice();
  return JSON.parse(new TextDecoder().decode(bytes)) as MountParams;
}

/** Mounts using superblock m (s_active). */
export function mountUsers(a: Arena, m: number): number {
  return Atomics.load(a.i32, rec(a, m) + M_USERS);
}

/** A thread parsed (+1) or dropped (-1) its state of superblock m, holding `dentries` path-cache entries. */
export function mountThreadStateAdd(a: Arena, m: number, threads: number, dentries: number): void {
  const r = rec(a, m);
  if (threads !== 0) Atomics.add(a.i32, r + M_THREADS, threads);
  if (dentries !== 0) Atomics.add(a.i32, r + M_DENTRIES, dentries);
}
export interface MountThreadState {
  /** Threads holding parsed state of this superblock. */
  readonly threads: number;
  /** Path-cache entries they hold for it. */
  readonly dentries: number;
}
export function mountThreadState(a: Arena, m: number): MountThreadState {
  const r = rec(a, m);
  return { threads: Atomics.load(a.i32, r + M_THREADS), dentries: Atomics.load(a.i32, r + M_DENTRIES) };
}

/** Bytes of one mount record (a superblock's share of the arena). */
export const MOUNT_RECORD_BYTES = MOUNT_WORDS * 4;

export interface MountAllocResult {
  readonly mount: number;
  /** An existing superblock was reused (superblock_share): `bdev` was not taken, the caller still owns it. */
  readonly reused: boolean;
}

/**
 * sget_fc: with `share`, find an active superblock whose parameters `share` accepts, still in use (s_active
 * above zero: one going away is never revived), and take a user on it. Otherwise claim a free slot and
 * publish the parameters and the block device `bdev` (a descriptor the mount now owns, published before
 * the slot turns active). One pass under the mount table's lock, so two mounts cannot both create.
 */
export function mountAllocOrShare(
  a: Arena,
  p: MountParams,
  bdev: number,
  extraFds: readonly number[],
  share?: (other: MountParams) => boolean,
): MountAllocResult {
  const i32 = a.i32;
  if (share) {
    spinLock(i32, mountTable(a), LOCK_CLASS.MOUNT);
    try {
      for (let m = 0; m < mountSlots(a); m++) {
        const r = rec(a, m);
        if (Atomics.load(i32, r + M_STATE) !== MS_ACTIVE || Atomics.load(i32, r + M_USERS) <= 0) continue;
        if (!share(mountParams(a, m))) continue;
        Atomics.add(i32, r + M_USERS, 1);
        return { mount: m, reused: true };
      }
    } finally {
      spinUnlock(i32, mountTable(a));
    }
  }
  return { mount: mountAlloc(a, p, bdev, extraFds), reused: false };
}

/**
 * deactivate_super's count: drop one user of superblock m. Returns the users left; at 0 the caller tears
 * the superblock down (and nothing can find it to share any more).
 */
export function mountPutUser(a: Arena, m: number): number {
  const i32 = a.i32;
  spinLock(i32, mountTable(a), LOCK_CLASS.MOUNT);
  try {
    const r = rec(a, m);
    if (Atomics.load(i32, r + M_STATE) !== MS_ACTIVE || Atomics.load(i32, r + M_USERS) <= 0)
      throw new VfsError('EINVAL', `mount ${m} is not mounted`);
    return Atomics.sub(i32, r + M_USERS, 1) - 1;
  } finally {
    spinUnlock(i32, mountTable(a));
  }
}

/**
 * Claim a free slot and publish the parameters and the block device `bdev` (a descriptor the mount now
 * owns, published before the slot turns active), with `extraFds[i]` the descriptor of extra device
 * i + 1 (-1: none of its own). Returns the mount slot.
 */
export function mountAlloc(a: Arena, p: MountParams, bdev: number, extraFds: readonly number[] = []): number {
  const blob = new TextEncoder().encode(JSON.stringify(p));
  if (blob.length > BLOB_BYTES)
    throw new VfsError('EINVAL', 'mount parameters too long (image path, device paths or domain id)');
  if (extraFds.length + 1 > MAX_MOUNT_DEVICES)
    throw new VfsError('EINVAL', `too many devices (${extraFds.length + 1}, at most ${MAX_MOUNT_DEVICES})`);
  const i32 = a.i32;
  spinLock(i32, mountTable(a), LOCK_CLASS.MOUNT);
  try {
    for (let m = 0; m < mountSlots(a); m++) {
      const r = rec(a, m);
      if (Atomics.load(i32, r + M_STATE) !== MS_FREE) continue;
      new Uint8Array(i32.buffer, (r + M_HDR_WORDS) * 4, BLOB_BYTES).set(blob);
      i32[r + M_BLOB_LEN] = blob.length;
      Atomics.store(i32, r + M_BDEV, bdev);
      for (let i = 0; i < MAX_MOUNT_DEVICES; i++) {
        const d = r + M_DEVS + i * D_WORDS;
        Atomics.store(i32, d + D_FD, i === 0 ? bdev : (extraFds[i - 1] ?? -1));
        Atomics.store(i32, d + D_READS, 0);
        Atomics.store(i32, d + D_PAGES, 0);
      }
      for (let s = 0; s < MOUNT_OPEN_SLOTS; s++)
        Atomics.store(i32, a.regions['vfs.mountOpen'] + s * openStride(a.counts.nmounts) + m, 0);
      Atomics.store(i32, r + M_DEV_READS, 0);
      Atomics.store(i32, r + M_DEV_PAGES, 0);
      Atomics.store(i32, r + M_USERS, 1);
      Atomics.store(i32, r + M_THREADS, 0);
      Atomics.store(i32, r + M_DENTRIES, 0);
      Atomics.add(i32, r + M_GEN, 1);
      Atomics.store(i32, r + M_STATE, MS_ACTIVE);
      i32[mountTable(a) + 1]++;
      return m;
    }
  } finally {
    spinUnlock(i32, mountTable(a));
  }
  throw new VfsError('EINVAL', `no free mount slot (${mountSlots(a)} in use)`);
}

/** Start unmounting: no new opens. */
export function mountSetDying(a: Arena, m: number): void {
  Atomics.store(a.i32, rec(a, m) + M_STATE, MS_DYING);
}

export function mountFree(a: Arena, m: number): void {
  const i32 = a.i32;
  spinLock(i32, mountTable(a), LOCK_CLASS.MOUNT);
  Atomics.store(i32, rec(a, m) + M_STATE, MS_FREE);
  i32[mountTable(a) + 1]--;
  spinUnlock(i32, mountTable(a));
}

export function activeMounts(a: Arena): number[] {
  const out: number[] = [];
  for (let m = 0; m < mountSlots(a); m++) if (mountState(a, m) === MS_ACTIVE) out.push(m);
  return out;
}
