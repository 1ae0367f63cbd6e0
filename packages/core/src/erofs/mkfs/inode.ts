// On-disk inode encoding. Compact (32 B) inodes carry no timestamp of their own beyond an offset from
// the superblock's build time, 16-bit ids and link count and a 32-bit size; anything else needs the
// extended (64 B) form.
import { I_DATALAYOUT_BIT, IC, IE, INODE_COMPACT_SIZE, INODE_EXTENDED_SIZE, I_VERSION_MASK } from '../format.ts';

export interface InodeFields {
  readonly compact: boolean;
  readonly layout: number; // DATALAYOUT.*
  readonly xattrIcount: number;
  readonly mode: number; // full st_mode
  readonly nlink: number;
  readonly size: number;
  /** i_u: raw block address for FLAT_* data, the encoded rdev for devices. */
  readonly u: number;
  readonly ino: number;
  readonly uid: number;
  readonly gid: number;
  readonly mtime: number;
  readonly mtimeNsec: number;
}

export interface InodeFit {
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly nlink: number;
  readonly mtime: number;
  readonly mtimeNsec: number;
}

/**
 * A compact inode says "mtime = build time" (its i_mtime offset is written as 0, and readers before
 * the relative-mtime format use the build time outright), so it fits only when that is the truth.
 */
export function fitsCompact(f: InodeFit, buildTime: number, buildNsec: number): boolean {
  return (
    f.uid < 0x10000 &&
    f.gid < 0x10000 &&
    f.nlink < 0x10000 &&
    f.size < 2 ** 32 &&
    f.mtime === buildTime &&
    f.mtimeNsec === buildNsec
  );
}

export function inodeSize(compact: boolean): number {
  return compact ? INODE_COMPACT_SIZE : INODE_EXTENDED_SIZE;
}

/** Write the inode at `pos` of a zero-filled `buf`. */
export function writeInode(buf: Buffer, pos: number, f: InodeFields): void {
  const format = (f.compact ? 0 : I_VERSION_MASK) | (f.layout << I_DATALAYOUT_BIT);
  if (f.compact) {
    buf.writeUInt16LE(format, pos + IC.format);
    buf.writeUInt16LE(f.xattrIcount, pos + IC.xattrIcount);
    buf.writeUInt16LE(f.mode, pos + IC.mode);
    buf.writeUInt16LE(f.nlink, pos + IC.nlink);
    buf.writeUInt32LE(f.size, pos + IC.size);
    buf.writeUInt32LE(0, pos + IC.mtime);
    buf.writeUInt32LE(f.u >>> 0, pos + IC.u);
    buf.writeUInt32LE(f.ino >>> 0, pos + IC.ino);
    buf.writeUInt16LE(f.uid, pos + IC.uid);
    buf.writeUInt16LE(f.gid, pos + IC.gid);
  } else {
    buf.writeUInt16LE(format, pos + IE.format);
    buf.writeUInt16LE(f.xattrIcount, pos + IE.xattrIcount);
    buf.writeUInt16LE(f.mode, pos + IE.mode);
    buf.writeBigUInt64LE(BigInt(f.size), pos + IE.size);
    buf.writeUInt32LE(f.u >>> 0, pos + IE.u);
    buf.writeUInt32LE(f.ino >>> 0, pos + IE.ino);
    buf.writeUInt32LE(f.uid >>> 0, pos + IE.uid);
    buf.writeUInt32LE(f.gid >>> 0, pos + IE.gid);
    buf.writeBigInt64LE(BigInt(f.mtime), pos + IE.mtime);
    buf.writeUInt32LE(f.mtimeNsec, pos + IE.mtimeNsec);
    buf.writeUInt32LE(f.nlink >>> 0, pos + IE.nlink);
  }
}
