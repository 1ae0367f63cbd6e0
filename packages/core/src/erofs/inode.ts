// On-disk inode parsing (kernel: inode.c erofs_read_inode). Produces the immutable ErofsInode value;
// nothing here reads file data, so a compressed inode parses fine and only data access refuses it.
import { ErofsError } from './errors.ts';
import {
  CHUNK_FORMAT_48BIT,
  CHUNK_FORMAT_BLKBITS_MASK,
  CHUNK_FORMAT_INDEXES,
  DATALAYOUT,
  EROFS_ISLOT_SIZE,
  I_DATALAYOUT_BIT,
  I_DATALAYOUT_MASK,
  I_NLINK_1_BIT,
  I_VERSION_MASK,
  IC,
  IE,
  INODE_COMPACT_SIZE,
  INODE_EXTENDED_SIZE,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  S_IFSOCK,
  xattrIbodySize,
} from './format.ts';
import { isMetaboxNid, METABOX_NID_FLAG, METABOX_POS_BASE } from './metabox.ts';
import { i64, readAt, u16, u32, u64 } from './source.ts';
import type { BlockSource, ErofsInode, FileType, Superblock } from './types.ts';

/** i_format bits the kernel knows (version, layout, nlink-1 / dot-omitted). */
const I_ALL = (1 << (I_NLINK_1_BIT + 1)) - 1;
const CHUNK_FORMAT_ALL = (CHUNK_FORMAT_48BIT << 1) - 1;

/**
 * Byte position of inode `nid` in the image (erofs_iloc): a metabox nid's slot counts from the start
 * of the metabox data (its unified address METABOX_POS_BASE), any other from meta_blkaddr.
 */
export function inodeLocation(sb: Superblock, nid: number): number {
  if (isMetaboxNid(sb, nid)) return METABOX_POS_BASE + (nid - METABOX_NID_FLAG) * EROFS_ISLOT_SIZE;
  return sb.metaBlkaddr * sb.blockSize + nid * EROFS_ISLOT_SIZE;
}

/** True when `nid` names an inode slot that lies inside an image of `imageSize` bytes. */
export function nidInRange(sb: Superblock, nid: number, imageSize: number): boolean {
  if (!Number.isSafeInteger(nid) || nid < 0) return false;
  const iloc = inodeLocation(sb, nid);
  return Number.isSafeInteger(iloc) && iloc + INODE_COMPACT_SIZE <= imageSize;
}

export function fileTypeOf(mode: number): FileType | undefined {
  switch (mode & S_IFMT) {
    case S_IFREG:
      return 'file';
    case S_IFDIR:
      return 'dir';
    case S_IFLNK:
      return 'symlink';
    case S_IFCHR:
      return 'chardev';
    case S_IFBLK:
      return 'blockdev';
    case S_IFIFO:
      return 'fifo';
    case S_IFSOCK:
      return 'socket';
    default:
      return undefined;
  }
}

export function isCompressedLayout(layout: number): boolean {
  return layout === DATALAYOUT.COMPRESSED_FULL || layout === DATALAYOUT.COMPRESSED_COMPACT;
}

/** Chunk size in bytes of a CHUNK_BASED inode. */
export function chunkSize(sb: Superblock, inode: ErofsInode): number {
  return sb.blockSize * 2 ** (inode.chunkFormat & CHUNK_FORMAT_BLKBITS_MASK);
}

/** Bytes per chunk table entry: 8-byte chunk indexes or the 4-byte block map. */
export function chunkEntrySize(inode: ErofsInode): number {
  return inode.chunkFormat & CHUNK_FORMAT_INDEXES ? 8 : 4;
}

/** The parsed inode plus the format bits the public shape does not carry. */
export interface ParsedInode extends ErofsInode {
  /** Directory written without its '.' entry (EROFS_I_DOT_OMITTED_BIT). */
  readonly dotOmitted: boolean;
}

/** The fields of the compact or extended on-disk inode that differ between the two layouts. */
interface InodeCore {
  raw: Uint8Array;
  inodeSize: number;
  nlink: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  mtimeNsec: number;
  startHi: number;
}

/** The inode's i_format and i_mode: a version, layout and file type this reader knows. */
function parseFormat(
  head: Uint8Array,
  nid: number,
  iloc: number,
): { ifmt: number; layout: number; compact: boolean; mode: number; type: FileType } {
  const ifmt = u16(head, IC.format);
  if (ifmt & ~I_ALL) {
    throw new ErofsError('EUNSUPPORTED', `unsupported i_format 0x${ifmt.toString(16)} of nid ${nid}`, iloc);
  }
  const layout = (ifmt >> I_DATALAYOUT_BIT) & I_DATALAYOUT_MASK;
  if (layout > DATALAYOUT.CHUNK_BASED) {
    throw new ErofsError('EUNSUPPORTED', `unsupported data layout ${layout} of nid ${nid}`, iloc);
  }
  const compact = (ifmt & I_VERSION_MASK) === 0;
  const mode = u16(head, IC.mode);
  const type = fileTypeOf(mode);
  if (type === undefined) {
    throw new ErofsError('ECORRUPT', `bogus i_mode 0o${mode.toString(8)} of nid ${nid}`, iloc + IC.mode);
  }
  return { ifmt, layout, compact, mode, type };
}

/** A compact (32-byte) inode: 16-bit ids and links, 32-bit size, times from the superblock's epoch. */
function compactCore(head: Uint8Array, sb: Superblock, ifmt: number, type: FileType): InodeCore {
  let nlink: number;
  let startHi: number;
  // Bit 4 means "nlink is 1, i_nb holds the block address MSB" for non-directories only.
  if (type !== 'dir' && (ifmt >> I_NLINK_1_BIT) & 1) {
    nlink = 1;
    startHi = u16(head, IC.nlink);
  } else {
    nlink = u16(head, IC.nlink);
    startHi = 0;
  }
  return {
    raw: head,
    inodeSize: INODE_COMPACT_SIZE,
    nlink,
    uid: u16(head, IC.uid),
    gid: u16(head, IC.gid),
    size: u32(head, IC.size),
    // Compact inodes count seconds from the superblock's epoch (s64), all with its fixed nsec.
    mtime: sb.epoch + u32(head, IC.mtime),
    mtimeNsec: sb.fixedNsec,
    startHi,
  };
}

/** An extended (64-byte) inode: 32-bit ids and links, 64-bit size and signed mtime, each in range. */
function extendedCore(src: BlockSource, nid: number, iloc: number): InodeCore {
  if (iloc + INODE_EXTENDED_SIZE > src.size) {
    throw new ErofsError('ETRUNCATED', `extended inode of nid ${nid} runs past the end of the image`, iloc);
  }
  // An extended inode may straddle a block boundary; the source reads across it transparently.
  const raw = readAt(src, iloc, INODE_EXTENDED_SIZE);
  const uid = u32(raw, IE.uid);
  const gid = u32(raw, IE.gid);
  const nlink = u32(raw, IE.nlink);
  const startHi = u16(raw, IE.nb);
  const size = u64(raw, IE.size);
  if (size < 0) throw new ErofsError('ECORRUPT', `i_size of nid ${nid} too large`, iloc + IE.size);
  // i_mtime is signed (files dated before 1970 are negative), as the kernel and fsck.erofs read it.
  const mtime = i64(raw, IE.mtime);
  if (Number.isNaN(mtime)) throw new ErofsError('ECORRUPT', `i_mtime of nid ${nid} out of range`, iloc + IE.mtime);
  return {
    raw,
    inodeSize: INODE_EXTENDED_SIZE,
    nlink,
    uid,
    gid,
    size,
    mtime,
    mtimeNsec: u32(raw, IE.mtimeNsec),
    startHi,
  };
}

/** What i_u means for this type and layout: a block address, a chunk format, or a device number. */
function parseUnion(
  raw: Uint8Array,
  type: FileType,
  layout: number,
  startHi: number,
  nid: number,
  iloc: number,
): { rawBlkaddr: number; rdev: number; chunkFormat: number } {
  const iu = u32(raw, IC.u);
  let rawBlkaddr = 0;
  let rdev = 0;
  let chunkFormat = 0;
  if (type === 'file' || type === 'dir' || type === 'symlink') {
    rawBlkaddr = startHi * 0x100000000 + iu;
    if (layout === DATALAYOUT.CHUNK_BASED) {
      chunkFormat = iu & 0xffff;
      if (chunkFormat & ~CHUNK_FORMAT_ALL) {
        throw new ErofsError(
          'EUNSUPPORTED',
          `unsupported chunk format 0x${chunkFormat.toString(16)} of nid ${nid}`,
          iloc + IC.u,
        );
      }
      rawBlkaddr = 0;
    }
  } else if (type === 'chardev' || type === 'blockdev') {
    rdev = iu;
  }
  return { rawBlkaddr, rdev, chunkFormat };
}

export function parseInode(src: BlockSource, sb: Superblock, nid: number): ParsedInode {
  if (!nidInRange(sb, nid, src.size)) {
    const iloc = Number.isSafeInteger(nid) && nid >= 0 ? inodeLocation(sb, nid) : undefined;
    throw new ErofsError('ECORRUPT', `nid ${nid} out of range (image is ${src.size} bytes)`, iloc);
  }
  const iloc = inodeLocation(sb, nid);
  const head = readAt(src, iloc, INODE_COMPACT_SIZE);
  const { ifmt, layout, compact, mode, type } = parseFormat(head, nid, iloc);
  const core = compact ? compactCore(head, sb, ifmt, type) : extendedCore(src, nid, iloc);
  const { raw, inodeSize } = core;
  const xattrSize = xattrIbodySize(u16(raw, IC.xattrIcount));
  const { rawBlkaddr, rdev, chunkFormat } = parseUnion(raw, type, layout, core.startHi, nid, iloc);

  const end = iloc + inodeSize + xattrSize;
  if (end > src.size) {
    throw new ErofsError('ETRUNCATED', `inode ${nid} and its xattrs run past the end of the image`, iloc);
  }

  return {
    nid,
    compact,
    layout,
    type,
    mode,
    nlink: core.nlink,
    uid: core.uid,
    gid: core.gid,
    size: core.size,
    mtime: core.mtime,
    mtimeNsec: core.mtimeNsec,
    ino: u32(raw, IC.ino),
    rdev,
    iloc,
    inodeSize,
    xattrSize,
    rawBlkaddr,
    chunkFormat,
    compressed: isCompressedLayout(layout),
    dotOmitted: type === 'dir' && ((ifmt >> I_NLINK_1_BIT) & 1) === 1,
  };
}
