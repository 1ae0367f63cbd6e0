// The mount table: one record per mounted image, shared by all threads. The mount's parameters (image
// path, options) are stored as a small JSON blob in the record; the image itself is opened once, at
// mount, and its file descriptor (the mount's block device) is recorded here: worker threads share the
// process's descriptors, so every thread reads that one file — an image renamed over after mount changes
// nothing the mount reads. Each thread keeps only its parsed metadata (fs/erofs/super.ts).
import { declareCount, declareRegion, type Arena } from '../mm/arena.ts';
import { spinLock, spinUnlock } from '../mm/spinlock.ts';
import { LOCK_CLASS } from '../mm/lockstat.ts';
import { VfsError } from './errno.ts';

const M_STATE = 0; // MS_FREE / MS_ACTIVE / MS_DYING
const M_GEN = 1; // bumped at every mount of the slot
const M_OPEN = 2; // open files
const M_DEV_READS = 3; // device reads served by this image (read calls)
const M_DEV_PAGES = 4; // pages filled from this image's device
const M_BLOB_LEN = 6;
const M_BDEV = 7; // the image's file descriptor, opened once at mount: every thread reads through it (s_bdev)
const M_HDR_WORDS = 8;
const BLOB_BYTES = 4096;
export const MOUNT_WORDS = M_HDR_WORDS + BLOB_BYTES / 4;
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
export function mountOpenCount(a: Arena, m: number): number {
  return Atomics.load(a.i32, rec(a, m) + M_OPEN);
}
export function mountOpenAdd(a: Arena, m: number, d: number): void {
  Atomics.add(a.i32, rec(a, m) + M_OPEN, d);
}
export function mountCountDeviceRead(a: Arena, m: number, pages: number): void {
  const r = rec(a, m);
  Atomics.add(a.i32, r + M_DEV_READS, 1);
  Atomics.add(a.i32, r + M_DEV_PAGES, pages);
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

/**
 * Claim a free slot and publish the parameters and the block device `bdev` (a descriptor the mount now
 * owns, published before the slot turns active). Returns the mount slot.
 */
export function mountAlloc(a: Arena, p: MountParams, bdev: number): number {
  const blob = new TextEncoder().encode(JSON.stringify(p));
  if (blob.length > BLOB_BYTES) throw new VfsError('EINVAL', 'mount parameters too long (image path or domain id)');
  const i32 = a.i32;
  spinLock(i32, mountTable(a), LOCK_CLASS.MOUNT);
  try {
    for (let m = 0; m < mountSlots(a); m++) {
      const r = rec(a, m);
      if (Atomics.load(i32, r + M_STATE) !== MS_FREE) continue;
      new Uint8Array(i32.buffer, (r + M_HDR_WORDS) * 4, BLOB_BYTES).set(blob);
      i32[r + M_BLOB_LEN] = blob.length;
      Atomics.store(i32, r + M_BDEV, bdev);
      Atomics.store(i32, r + M_OPEN, 0);
      Atomics.store(i32, r + M_DEV_READS, 0);
      Atomics.store(i32, r + M_DEV_PAGES, 0);
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
