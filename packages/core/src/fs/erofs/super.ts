// Mount-side state of an EROFS filesystem (fs/erofs/super.c): the shared mount record (vfs/mount.ts)
// with the image's descriptor, opened once at mount (the block device), plus, per thread, the parsed
// metadata cache read through that same descriptor. No thread opens the image by path after mount: a
// file renamed over the image then changes nothing the mount reads, verified or not.
// Mount options: inode_share and domain_id. Sharing needs both the option and the image's fingerprint
// feature; otherwise the mount warns once and falls back to private page caches, as the kernel does.
// superblock_share (mainline 7.4, "erofs: reuse superblock for file-backed mounts"): a mount of a backing
// file that a superblock_share mount already has up — the same file (device and inode number, not path)
// at the same fsoffset, with the same options — reuses that superblock, its inodes and so their page
// caches; options that differ get a superblock of their own, silently, as mainline falls back. The
// superblock lives while any of its mounts does (s_active, vfs/mount.ts).
import { openSync, closeSync, fstatSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import type { Kernel } from '../../vfs/kernel.ts';
import { ErofsImage } from '../../erofs/image.ts';
import { DeviceSpace, locateDevices, parseDeviceTable } from '../../erofs/devices.ts';
import { deviceSpaceOf } from '../../erofs/metabox.ts';
import { FileSource } from '../../erofs/source.ts';
import { parseSuperblock } from '../../erofs/super.ts';
import { ErofsError } from '../../erofs/errors.ts';
import {
  mountAllocOrShare,
  mountParams,
  mountThreadStateAdd,
  mountGen,
  mountState,
  mountBdev,
  mountDeviceFd,
  mountTakeBdev,
  mountTakeDeviceFds,
  MS_FREE,
  type MountParams,
  mountSlots,
} from '../../vfs/mount.ts';
import { genericShutdownSuper, deactivateSuper } from '../../vfs/super.ts';
import { IshareKeyTable } from './ishare_keys.ts';
import { ishareResetMount } from './ishare_stats.ts';

export interface ErofsSb {
  readonly m: number;
  readonly gen: number;
  readonly params: MountParams;
  readonly image: ErofsImage;
  /** The mount's descriptor of the image (vfs/mount.ts mountBdev): shared by every thread, not this one's. */
  readonly fd: number;
  /** inode_share requested and the image has fingerprints. */
  readonly shareActive: boolean;
  /** A multi-device image's unified address space (its devices read through the mount's descriptors). */
  readonly space: DeviceSpace | undefined;
  /**
   * Shared-inode keys by nid (or: no fingerprint, a malformed one), computed once per thread: an inode
   * evicted and read again (drop-caches, reclaim) would otherwise parse its xattrs and hash its key
   * again at each fill — most of what made a sharing mount's cache fill slower than a plain one's.
   */
  readonly ishareKeys: IshareKeyTable;
}

/**
 * This thread's state for mount `m`, parsed on first use (through the mount's descriptor) and again when
 * the slot was remounted.
 */
export function erofsSb(k: Kernel, m: number): ErofsSb {
  const cur = k.sbs[m] as ErofsSb | undefined; // s_fs_info
  const gen = mountGen(k.a, m);
  if (cur && cur.gen === gen) return cur;
  if (cur) closeSb(k, cur);
  if (mountState(k.a, m) === MS_FREE) throw new ErofsError('EINVAL', `mount ${m} is not mounted`);
  const params = mountParams(k.a, m);
  const fd = mountBdev(k.a, m);
  const devices = params.devices;
  const image = ErofsImage.open(
    params.image,
    fd,
    devices !== undefined ? { paths: devices, fds: devices.map((_, i) => mountDeviceFd(k.a, m, i + 1)) } : undefined,
  );
  // Unmounted (or remounted) while this thread read the record: what it parsed may be another file's.
  if (mountGen(k.a, m) !== gen || mountState(k.a, m) === MS_FREE) {
    image.close();
    throw new ErofsError('EINVAL', `mount ${m} is not mounted`);
  }
  const sb: ErofsSb = {
    m,
    gen,
    params,
    image,
    fd,
    shareActive: params.inodeShare && image.sb.hasFingerprints,
    space: deviceSpaceOf(image.source),
    ishareKeys: new IshareKeyTable(),
  };
  k.sbs[m] = sb;
  mountThreadStateAdd(k.a, m, 1, 0);
  return sb;
}

/**
 * Count path-cache entries this thread's state of `sb` gained (or lost, when the cache started over) in
 * `fn`, on the superblock's record: what the kernel holds in dentries for the mount, summed over threads.
 */
export function erofsCountDentries<T>(k: Kernel, sb: ErofsSb, fn: () => T): T {
  const before = sb.image.cachedPaths;
  const r = fn();
  const d = sb.image.cachedPaths - before;
  if (d !== 0 && mountGen(k.a, sb.m) === sb.gen) mountThreadStateAdd(k.a, sb.m, 0, d);
  return r;
}

/**
 * Drop this thread's parsed image (and its share of the superblock's thread-state counts, unless the
 * slot was freed and reused since); the descriptor is the mount's and stays open.
 */
function closeSb(k: Kernel, sb: ErofsSb): void {
  if (mountGen(k.a, sb.m) === sb.gen && mountState(k.a, sb.m) !== MS_FREE)
    mountThreadStateAdd(k.a, sb.m, -1, -sb.image.cachedPaths);
  sb.image.close();
}

/** Forget this thread's state for mount m (after unmount). */
export function erofsSbRelease(k: Kernel, m: number): void {
  const cur = k.sbs[m] as ErofsSb | undefined;
  if (cur) closeSb(k, cur);
  k.sbs[m] = undefined;
}

export function erofsSbReleaseAll(k: Kernel): void {
  for (let m = 0; m < k.sbs.length; m++) erofsSbRelease(k, m);
}

/**
 * The System's owner is going away with mounts still up: close their descriptors (each once, whoever
 * else tries). Worker threads must be done with the arena first.
 */
export function erofsReleaseBdevs(k: Kernel): void {
  for (let m = 0; m < mountSlots(k.a); m++) {
    if (mountState(k.a, m) === MS_FREE) continue;
    const fd = mountTakeBdev(k.a, m);
    if (fd >= 0) closeSync(fd);
    for (const d of mountTakeDeviceFds(k.a, m)) closeSync(d);
  }
}

/**
 * Validate an image before it is published in the mount table, reading it through `fd` (the descriptor
 * the mount will own); returns why sharing is off, if it is.
 */
export function erofsCheckImage(
  params: MountParams,
  fd: number,
  deviceFds: readonly number[] = [],
): { shareActive: boolean; warning?: string } {
  const image = ErofsImage.open(
    params.image,
    fd,
    params.devices !== undefined ? { paths: params.devices, fds: deviceFds } : undefined,
  );
  try {
    image.root();
    if (params.inodeShare && !image.sb.hasFingerprints) {
      return {
        shareActive: false,
        warning: `${params.image}: inode_share requested but the image has no fingerprints; mounted without sharing`,
      };
    }
    return { shareActive: params.inodeShare };
  } finally {
    image.close();
  }
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
  /**
   * -o superblock_share: another superblock_share mount of the same backing file with the same options
   * reuses this mount's superblock (and inodes, and page caches); the returned slot is then the same.
   */
  superblockShare?: boolean;
  /**
   * -o device=PATH (repeatable, in table order): the extra devices of a multi-device image. Without
   * them each is found by its tag beside the image, or in the image itself (devices.ts).
   */
  devices?: readonly string[];
}

/**
 * Where a multi-device image's extra devices are, decided once at mount: absolute paths in table
 * order, '' for one the image itself holds; undefined for a single-device image.
 */
function locateMountDevices(image: string, fd: number, given: readonly string[] | undefined): string[] | undefined {
  const src = new FileSource(image, fd);
  const sb = parseSuperblock(src);
  if (sb.extraDevices === 0) {
    if (given !== undefined && given.length > 0)
      throw new ErofsError('ENODEV', `${image}: ${given.length} device(s) given, the image has no extra devices`);
    return undefined;
  }
  const plan = locateDevices(
    image,
    parseDeviceTable(src, sb),
    sb.blockSize,
    src.size,
    given?.map((p) => resolvePath(p)),
  );
  return plan.map((p) => p.path ?? '');
}

/** Open every located device once (the mount's descriptors); closes what it opened when one fails. */
function openMountDevices(image: string, devices: readonly string[] | undefined): number[] {
  const fds: number[] = [];
  try {
    for (const [i, p] of (devices ?? []).entries()) {
      if (p === '') {
        fds.push(-1);
        continue;
      }
      try {
        fds.push(openSync(p, 'r'));
      } catch (e) {
        const reason = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
        throw new ErofsError('ENODEV', `${image}: device ${i + 1}: cannot open ${p}: ${reason}`);
      }
    }
    return fds;
  } catch (e) {
    for (const f of fds) if (f >= 0) closeSync(f);
    throw e;
  }
}

export interface MountResult {
  readonly mount: number;
  readonly shareActive: boolean;
  readonly warning?: string;
  /** superblock_share found the image's superblock already up: this mount reuses it. */
  readonly superblockReused: boolean;
}

/** What superblock_share compares besides the backing file: every option (mainline falls back when one differs). */
function sameSuperblock(a: MountParams, b: MountParams): boolean {
  if (!a.superblockShare || !b.superblockShare || a.backing !== b.backing) return false;
  // Mainline shares only file-backed superblocks without extra devices (device= mounts never reuse one).
  if (a.devices !== undefined || b.devices !== undefined) return false;
  const rest = (p: MountParams): string => JSON.stringify({ ...p, image: '' });
  return rest(a) === rest(b);
}

/** mount -t erofs -o ro[,inode_share,domain_id=ID][,verify] IMAGE: parse options, check, publish. */
export function erofsMount(k: Kernel, image: string, opts: MountOptions): MountResult {
  if (opts.inodeShare && !opts.domainId) {
    throw new ErofsError(
      'EINVAL',
      'inode_share needs a domain id (mount -o inode_share,domain_id=ID): sharing is scoped to one domain',
    );
  }
  const params: MountParams = {
    image: resolvePath(image),
    inodeShare: opts.inodeShare ?? false,
    domainId: opts.domainId ?? '',
    verify: opts.verify ?? false,
    superblockShare: opts.superblockShare ?? false,
  };
  // The image is opened here, once: every thread of every read of this mount goes through this file.
  let fd: number;
  try {
    fd = openSync(params.image, 'r');
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new ErofsError('ENOENT', `cannot open ${params.image}: ${reason}`);
  }
  let devFds: number[] = [];
  try {
    const devices = locateMountDevices(params.image, fd, opts.devices);
    devFds = openMountDevices(params.image, devices);
    const withDevs: MountParams = devices !== undefined ? { ...params, devices } : params;
    const check = erofsCheckImage(withDevs, fd, devFds);
    // The backing file as mainline identifies it: its inode (st_dev, st_ino) and the fsoffset (always 0).
    const st = fstatSync(fd, { bigint: true });
    const p: MountParams = { ...withDevs, inodeShare: check.shareActive, backing: `${st.dev}:${st.ino}:0` };
    const got = mountAllocOrShare(
      k.a,
      p,
      fd,
      devFds,
      p.superblockShare ? (other) => sameSuperblock(p, other) : undefined,
    );
    if (got.reused) {
      closeSync(fd);
      for (const f of devFds) if (f >= 0) closeSync(f);
    } else ishareResetMount(k.a, got.mount);
    if (check.warning) k.warnings.push(check.warning);
    return { mount: got.mount, shareActive: check.shareActive, warning: check.warning, superblockReused: got.reused };
  } catch (e) {
    closeSync(fd);
    for (const f of devFds) if (f >= 0) closeSync(f);
    throw e;
  }
}

/**
 * umount of one mount of superblock m: the superblock goes only with its last mount (deactivate_super);
 * then erofs_kill_sb — the generic teardown, then this thread's image for the slot and the mount's
 * descriptor, closed only once the teardown has evicted every inode of the mount, so no thread still
 * reads it.
 */
export function erofsKillSb(k: Kernel, m: number, timeoutMs: number): void {
  if (!deactivateSuper(k, m)) return;
  // Read before the teardown frees the slot (another mount may take it, with its own descriptor).
  const fd = mountBdev(k.a, m);
  const devFds: number[] = [];
  for (let i = 1; i <= (mountParams(k.a, m).devices?.length ?? 0); i++) devFds.push(mountDeviceFd(k.a, m, i));
  genericShutdownSuper(k, m, timeoutMs);
  erofsSbRelease(k, m);
  if (fd >= 0) closeSync(fd);
  for (const f of devFds) if (f >= 0) closeSync(f);
}
