// The metadata box (INCOMPAT_METABOX, erofs-utils 1.9 lib/metabox.c; kernel erofs_read_metabuf with
// in_metabox). With it, inodes whose on-disk nid has bit 63 (EROFS_DIRENT_NID_METABOX_BIT) set live
// in the data of the metabox inode (superblock metabox_nid, itself an ordinary inode of the image,
// plain or compressed): the inode is at (nid & EROFS_DIRENT_NID_MASK) * 32 of that data, and so is
// everything that follows an inode in place (its xattr ibody, inline tail, chunk or compressed
// index). With COMPAT_SHARED_EA_IN_METABOX the shared xattr area (xattr_blkaddr) is in it too.
//
// Here the metabox is a second address range of the image's BlockSource: MetaSpace serves bytes
// below METABOX_POS_BASE from the image (or its DeviceSpace) and bytes from METABOX_POS_BASE on from
// the metabox inode's data. A metabox nid is carried in memory as METABOX_NID_FLAG + its slot, which
// fits the 32 bits the kernel model's inode records keep; inodeLocation maps it into that range.
import { DeviceSpace } from './devices.ts';
import { ErofsError } from './errors.ts';
import { FEATURE_INCOMPAT } from './format.ts';
import { u32 } from './source.ts';
import type { BlockSource, Superblock } from './types.ts';

/** In-memory nids at or above this name slot (nid - METABOX_NID_FLAG) of the metabox. */
export const METABOX_NID_FLAG = 0x80000000;
/** Unified byte address of metabox byte 0 (far past any image this reader serves: 1 PiB). */
export const METABOX_POS_BASE = 2 ** 50;

export function hasMetabox(sb: Pick<Superblock, 'featureIncompat'>): boolean {
  return (sb.featureIncompat & FEATURE_INCOMPAT.METABOX) !== 0;
}

/**
 * The nid an on-disk u64 (dirent nid, rootnid_8b) names, in memory form; -1 when this reader cannot
 * address it (callers report it out of range). Bit 63 means "in the metabox" only on metabox images.
 */
export function decodeNid(sb: Pick<Superblock, 'featureIncompat'>, b: Uint8Array, off: number): number {
  const lo = u32(b, off);
  const hi = u32(b, off + 4);
  if (!hasMetabox(sb)) return hi >= 0x200000 ? -1 : hi * 0x100000000 + lo;
  // Metabox images: both kinds of nid must fit below the flag so the two never collide.
  if (lo >= METABOX_NID_FLAG || (hi & 0x7fffffff) !== 0) return -1;
  return hi & 0x80000000 ? METABOX_NID_FLAG + lo : lo;
}

export function isMetaboxNid(sb: Pick<Superblock, 'featureIncompat'>, nid: number): boolean {
  return hasMetabox(sb) && nid >= METABOX_NID_FLAG;
}

/** The DeviceSpace a source reads through, when the image has extra devices. */
export function deviceSpaceOf(src: BlockSource): DeviceSpace | undefined {
  if (src instanceof DeviceSpace) return src;
  if (src instanceof MetaSpace && src.primary instanceof DeviceSpace) return src.primary;
  return undefined;
}

/** Bytes of metabox data kept per image (decoded blocks of a compressed metabox are reused). */
const CACHE_BLOCKS = 256;

/**
 * The image's address space with the metabox after it. `attach` gives it the metabox data once the
 * metabox inode is parsed (through this very space: that inode lives below METABOX_POS_BASE).
 */
export class MetaSpace implements BlockSource {
  readonly primary: BlockSource;
  private readonly blockSize: number;
  private boxSize = 0;
  private readBox: ((dst: Uint8Array, pos: number) => void) | undefined;
  private readonly cache = new Map<number, Uint8Array>();
  /** Metabox bytes read (decoded) from the metabox inode, for accounting. */
  boxReads = 0;

  constructor(primary: BlockSource, blockSize: number) {
    if (primary.size >= METABOX_POS_BASE) {
      throw new ErofsError('EUNSUPPORTED', `metabox image of ${primary.size} bytes is too large for this reader`);
    }
    this.primary = primary;
    this.blockSize = blockSize;
  }

  /** Bytes of the unified space: the metabox's end (the image's size until the metabox is attached). */
  get size(): number {
    return this.readBox === undefined ? this.primary.size : METABOX_POS_BASE + this.boxSize;
  }

  attach(boxSize: number, readBox: (dst: Uint8Array, pos: number) => void): void {
    this.boxSize = boxSize;
    this.readBox = readBox;
  }

  read(dst: Uint8Array, pos: number): void {
    if (pos < METABOX_POS_BASE) {
      if (pos + dst.length > METABOX_POS_BASE) {
        throw new ErofsError('ETRUNCATED', `read of ${dst.length} bytes past the end of the image`, pos);
      }
      this.primary.read(dst, pos);
      return;
    }
    const off = pos - METABOX_POS_BASE;
    const readBox = this.readBox;
    if (readBox === undefined || !Number.isSafeInteger(off) || off + dst.length > this.boxSize) {
      throw new ErofsError(
        'ETRUNCATED',
        `read of ${dst.length} bytes at metabox offset ${off} past the end of the metabox (${this.boxSize} bytes)`,
      );
    }
    const bs = this.blockSize;
    let done = 0;
    while (done < dst.length) {
      const at = off + done;
      const blk = Math.floor(at / bs);
      let block = this.cache.get(blk);
      if (block === undefined) {
        block = new Uint8Array(Math.min(bs, this.boxSize - blk * bs));
        readBox(block, blk * bs);
        this.boxReads += block.length;
        if (this.cache.size >= CACHE_BLOCKS) this.cache.clear();
        this.cache.set(blk, block);
      }
      const from = at - blk * bs;
      const n = Math.min(dst.length - done, block.length - from);
      dst.set(block.subarray(from, from + n), done);
      done += n;
    }
  }

  close(): void {
    this.cache.clear();
    this.primary.close();
  }
}
