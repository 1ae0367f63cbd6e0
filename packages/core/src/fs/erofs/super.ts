// Mount-side state of an EROFS filesystem (fs/erofs/super.c): the shared mount record (vfs/mount.ts)
// with the image's descriptor, opened once at mount (the block device), plus, per thread, the parsed
// metadata cache read through that same descriptor. No thread opens the image by path after mount: a
// file renamed over the image then changes nothing the mount reads, verified or not.
// Mount options: inode_share and domain_id. Sharing needs both the option and the image's fingerprint
// feature; otherwise the mount warns once and falls back to private page caches, as the kernel does.
import { openSync, closeSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import type { Kernel } from '../../vfs/kernel.ts';
import { ErofsImage } from '../../erofs/image.ts';
import { ErofsError } from '../../erofs/errors.ts';
import {
  mountAlloc,
  mountParams,
  mountGen,
  mountState,
  mountBdev,
  mountTakeBdev,
  MS_FREE,
  type MountParams,
  mountSlots,
} from '../../vfs/mount.ts';
import { genericShutdownSuper } from '../../vfs/super.ts';
import type { IshareKey } from './ishare.ts';
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
  /**
   * Shared-inode keys by nid (null: the file has no fingerprint), computed once per thread: an inode
   * evicted and read again (drop-caches, reclaim) would otherwise parse its xattrs and hash its key
   * again at each fill — most of what made a sharing mount's cache fill slower than a plain one's.
   */
  /** Per nid: the shared-inode key and fingerprint, 'bad' for a malformed value, null for none. */
  readonly ishareKeys: Map<number, { key: IshareKey; hex: string } | 'bad' | null>;
}

/**
 * This thread's state for mount `m`, parsed on first use (through the mount's descriptor) and again when
 * the slot was remounted.
 */
export function erofsSb(k: Kernel, m: number): ErofsSb {
  const cur = k.sbs[m] as ErofsSb | undefined; // s_fs_info
  const gen = mountGen(k.a, m);
  if (cur && cur.gen === gen) return cur;
  if (cur) closeSb(cur);
  if (mountState(k.a, m) === MS_FREE) throw new ErofsError('EINVAL', `mount ${m} is not mounted`);
  const params = mountParams(k.a, m);
  const fd = mountBdev(k.a, m);
  const image = ErofsImage.open(params.image, fd);
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
    ishareKeys: new Map(),
  };
  k.sbs[m] = sb;
  return sb;
}

/** Drop this thread's parsed image; the descriptor is the mount's and stays open. */
function closeSb(sb: ErofsSb): void {
  sb.image.close();
}

/** Forget this thread's state for mount m (after unmount). */
export function erofsSbRelease(k: Kernel, m: number): void {
  const cur = k.sbs[m] as ErofsSb | undefined;
  if (cur) closeSb(cur);
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
  }
}

/**
 * Validate an image before it is published in the mount table, reading it through `fd` (the descriptor
 * the mount will own); returns why sharing is off, if it is.
 */
export function erofsCheckImage(params: MountParams, fd: number): { shareActive: boolean; warning?: string } {
  const image = ErofsImage.open(params.image, fd);
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
}

export interface MountResult {
  readonly mount: number;
  readonly shareActive: boolean;
  readonly warning?: string;
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
  };
  // The image is opened here, once: every thread of every read of this mount goes through this file.
  let fd: number;
  try {
    fd = openSync(params.image, 'r');
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new ErofsError('ENOENT', `cannot open ${params.image}: ${reason}`);
  }
  try {
    const check = erofsCheckImage(params, fd);
    const m = mountAlloc(k.a, { ...params, inodeShare: check.shareActive }, fd);
    ishareResetMount(k.a, m);
    if (check.warning) k.warnings.push(check.warning);
    return { mount: m, shareActive: check.shareActive, warning: check.warning };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/**
 * erofs_kill_sb: the generic teardown, then this thread's image for the slot and the mount's descriptor
 * — closed only once the teardown has evicted every inode of the mount, so no thread still reads it.
 */
export function erofsKillSb(k: Kernel, m: number, timeoutMs: number): void {
  // Read before the teardown frees the slot (another mount may take it, with its own descriptor).
  const fd = mountBdev(k.a, m);
  genericShutdownSuper(k, m, timeoutMs);
  erofsSbRelease(k, m);
  if (fd >= 0) closeSync(fd);
}
