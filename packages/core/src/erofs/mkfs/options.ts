// mkfs options: checked once, up front, into the resolved configuration the rest of mkfs reads.
import { randomBytes } from 'node:crypto';
import { ErofsError } from '../errors.ts';
import { DEFAULT_FINGERPRINT_XATTR, EROFS_MAX_BLKSZBITS, EROFS_MIN_BLKSZBITS } from '../format.ts';
import { parseDigestName, type DigestName } from './xattr.ts';
import { parsePlatform } from '../../oci/resolve.ts';

export interface MkfsOptions {
  /** Image path to write (through a temp file beside it, renamed at the end). */
  out: string;
  /**
   * A directory, a .tar / .tar.gz / .tgz file (gzip is recognised by its magic bytes), or a container
   * image: an OCI image layout directory, an OCI archive, a `docker save` / `podman save` archive.
   */
  source: string;
  /** 512 | 1024 | 2048 | 4096 (default 4096). */
  blockSize?: number;
  /** "sha256:" + the digest of each non-empty regular file's data as its fingerprint xattr (default true). */
  fingerprint?: boolean;
  /**
   * Name of the fingerprint xattr, as mkfs.erofs --xattr-inode-digest=NAME takes it (default
   * 'erofs.fingerprint.v1', a hidden name; 'trusted.x' lives under the trusted. namespace).
   */
  xattrInodeDigest?: string;
  /** Copy xattrs from the source (default true). */
  xattrs?: boolean;
  /** Fixed UNIX time for every inode's mtime and the build time (reproducible images). */
  timestamp?: number;
  /** Fixed volume uuid (8-4-4-4-12 hex); random when absent. */
  uuid?: string;
  /** Pack file, symlink and directory tails behind their inode (FLAT_INLINE) (default true). */
  inline?: boolean;
  /** Container images: which image of a multi-platform index, "os/arch[/variant]". */
  platform?: string;
  /** Also write the source manifest (path, size, sha256 of every regular file, from the source) here. */
  manifest?: string;
  /**
   * Extra devices of a multi-device image, in table order (device ids 1, 2, ...): each slot's tag (up to
   * 63 bytes: a file name, or an image uuid in hex as upstream's rebuild mode writes) and size in
   * blocks. Files whose DataPlacement names a device read their data there (see mkfsFromTree).
   */
  devices?: readonly MkfsDevice[];
  /** Bytes processed so far and in all (source file bytes; for a tar, bytes of the tar file). */
  onProgress?: (done: number, total: number) => void;
}

export interface MkfsDevice {
  readonly tag: string;
  readonly blocks: number;
}

export interface MkfsConfig {
  readonly out: string;
  readonly source: string;
  readonly blockSize: number;
  readonly blkszbits: number;
  readonly fingerprint: boolean;
  /** The fingerprint xattr's name, split as its long-prefix record stores it. */
  readonly digestName: DigestName;
  readonly xattrs: boolean;
  readonly timestamp: number | undefined;
  readonly uuid: Buffer;
  readonly inline: boolean;
  readonly platform: string | undefined;
  readonly devices: readonly MkfsDevice[];
  readonly onProgress: ((done: number, total: number) => void) | undefined;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function resolveOptions(o: MkfsOptions): MkfsConfig {
  if (typeof o !== 'object' || o === null) throw new ErofsError('EINVAL', 'mkfs: options object required');
  if (typeof o.out !== 'string' || o.out === '') throw new ErofsError('EINVAL', 'mkfs: out must be a path');
  if (typeof o.source !== 'string' || o.source === '') throw new ErofsError('EINVAL', 'mkfs: source must be a path');
  const blockSize = o.blockSize ?? 4096;
  const blkszbits = Math.log2(blockSize);
  if (!Number.isInteger(blkszbits) || blkszbits < EROFS_MIN_BLKSZBITS || blkszbits > EROFS_MAX_BLKSZBITS) {
    throw new ErofsError('EINVAL', `block size ${String(o.blockSize)} is not one of 512, 1024, 2048, 4096`);
  }
  const timestamp = o.timestamp;
  if (timestamp !== undefined && (!Number.isSafeInteger(timestamp) || timestamp < 0)) {
    throw new ErofsError('EINVAL', `timestamp ${String(timestamp)} is not a non-negative whole number of seconds`);
  }
  let uuid: Buffer;
  if (o.uuid !== undefined) {
    if (typeof o.uuid !== 'string' || !UUID_RE.test(o.uuid))
      throw new ErofsError('EINVAL', `uuid ${o.uuid} is not 8-4-4-4-12 hex`);
    uuid = Buffer.from(o.uuid.replace(/-/g, ''), 'hex');
  } else {
    uuid = randomBytes(16);
    uuid[6] = (uuid[6] & 0x0f) | 0x40; // RFC 4122 version 4
    uuid[8] = (uuid[8] & 0x3f) | 0x80;
  }
  const fpName = o.xattrInodeDigest ?? DEFAULT_FINGERPRINT_XATTR;
  if (typeof fpName !== 'string') throw new ErofsError('EINVAL', 'xattrInodeDigest must be a string');
  for (const [k, v] of [
    ['fingerprint', o.fingerprint],
    ['xattrs', o.xattrs],
    ['inline', o.inline],
  ] as const) {
    if (v !== undefined && typeof v !== 'boolean') throw new ErofsError('EINVAL', `${k} must be true or false`);
  }
  if (o.platform !== undefined) {
    if (typeof o.platform !== 'string') throw new ErofsError('EINVAL', 'platform must be a string like linux/amd64');
    parsePlatform(o.platform);
  }
  if (o.manifest !== undefined && (typeof o.manifest !== 'string' || o.manifest === ''))
    throw new ErofsError('EINVAL', 'mkfs: manifest must be a path');
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function')
    throw new ErofsError('EINVAL', 'onProgress must be a function');
  const devices: readonly MkfsDevice[] = o.devices ?? [];
  if (!Array.isArray(o.devices ?? []) || devices.length > 0xfffe)
    throw new ErofsError('EINVAL', 'devices must be a list of at most 65534 devices');
  for (const d of devices) {
    if (typeof d.tag !== 'string' || Buffer.byteLength(d.tag, 'latin1') > 63 || d.tag.includes('\0'))
      throw new ErofsError('EINVAL', `device tag ${d.tag} must be a string of at most 63 bytes`);
    if (!Number.isSafeInteger(d.blocks) || d.blocks < 0 || d.blocks > 0xffffffff)
      throw new ErofsError('EINVAL', `device ${d.tag}: blocks must be a whole number below 2^32`);
  }
  return {
    devices,
    out: o.out,
    source: o.source,
    blockSize,
    blkszbits,
    fingerprint: o.fingerprint ?? true,
    digestName: parseDigestName(fpName),
    xattrs: o.xattrs ?? true,
    timestamp,
    uuid,
    inline: o.inline ?? true,
    platform: o.platform,
    onProgress: o.onProgress,
  };
}
