// fs.Stats and fs.Dirent look-alikes for an EROFS inode, filled as the kernel's erofs_getattr would:
// st_ino is the nid (erofs_squash_ino on 64-bit), st_blksize the image's block size, st_blocks the
// size rounded up to blocks in 512-byte units, atime = ctime = mtime (EROFS stores one timestamp).
import { FT, S_IFMT } from '../erofs/format.ts';
import type { ErofsInode } from '../erofs/types.ts';

const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;
const S_IFSOCK = 0o140000;

/** The type tests of fs.Stats and fs.Dirent, from st_mode's S_IFMT bits. */
abstract class TypeTests {
  protected abstract typeBits(): number;
  isFile(): boolean {
    return this.typeBits() === S_IFREG;
  }
  isDirectory(): boolean {
    return this.typeBits() === S_IFDIR;
  }
  isSymbolicLink(): boolean {
    return this.typeBits() === S_IFLNK;
  }
  isCharacterDevice(): boolean {
    return this.typeBits() === S_IFCHR;
  }
  isBlockDevice(): boolean {
    return this.typeBits() === S_IFBLK;
  }
  isFIFO(): boolean {
    return this.typeBits() === S_IFIFO;
  }
  isSocket(): boolean {
    return this.typeBits() === S_IFSOCK;
  }
}

/** What stat(2) says of a file in the image, with fs.Stats' fields and methods. */
export class ImageStats extends TypeTests {
  readonly dev: number;
  readonly mode: number;
  readonly nlink: number;
  readonly uid: number;
  readonly gid: number;
  readonly rdev: number;
  readonly blksize: number;
  readonly ino: number;
  readonly size: number;
  readonly blocks: number;
  readonly atimeMs: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  readonly birthtimeMs: number;
  readonly atime: Date;
  readonly mtime: Date;
  readonly ctime: Date;
  readonly birthtime: Date;

  constructor(inode: ErofsInode, dev: number, blockSize: number) {
    super();
    this.dev = dev;
    this.mode = inode.mode;
    this.nlink = inode.nlink;
    this.uid = inode.uid;
    this.gid = inode.gid;
    this.rdev = inode.rdev;
    this.blksize = blockSize;
    this.ino = inode.nid;
    this.size = inode.size;
    this.blocks = (Math.ceil(inode.size / blockSize) * blockSize) / 512;
    const ms = inode.mtime * 1000 + inode.mtimeNsec / 1e6;
    this.atimeMs = this.mtimeMs = this.ctimeMs = this.birthtimeMs = ms;
    this.atime = new Date(ms);
    this.mtime = new Date(ms);
    this.ctime = new Date(ms);
    this.birthtime = new Date(ms);
  }

  protected typeBits(): number {
    return this.mode & S_IFMT;
  }
}

const FT_MODE: Record<number, number> = {
  [FT.REG_FILE]: S_IFREG,
  [FT.DIR]: S_IFDIR,
  [FT.CHRDEV]: S_IFCHR,
  [FT.BLKDEV]: S_IFBLK,
  [FT.FIFO]: S_IFIFO,
  [FT.SOCK]: S_IFSOCK,
  [FT.SYMLINK]: S_IFLNK,
};

/** A directory entry with fs.Dirent's shape: the type is the entry's own (a symlink is not followed). */
export class ImageDirent extends TypeTests {
  readonly name: string;
  readonly parentPath: string;
  /** Node 20's older name for parentPath. */
  readonly path: string;
  private readonly bits: number;

  constructor(name: string, parentPath: string, fileType: number) {
    super();
    this.name = name;
    this.parentPath = parentPath;
    this.path = parentPath;
    this.bits = FT_MODE[fileType] ?? 0;
  }

  protected typeBits(): number {
    return this.bits;
  }
}
