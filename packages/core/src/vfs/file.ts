// An open file (struct file): private to the thread that opened it. It pins its inode (i_count) and,
// when the file reads through a shared inode, that inode too (the seed's ishare file: file_inode is the
// shared inode, private_data the original). Readahead state lives here, as file->f_ra does.
import type { Kernel } from './kernel.ts';

export interface OpenFile {
  /**
   * The opened inode (the backing inode for a shared file), or NIL for a mapping of a shared file that
   * outlived its file (mmap after close: the vma's file is the shared inode's, as the seed's mmap sets it).
   */
  readonly inode: number;
  /** The address space reads go through: the shared inode's slot, or `inode` itself. */
  readonly mapping: number;
  /** The mapping inode's slot generation when the file pinned it (a freed and reused slot has another). */
  readonly mappingGen: number;
  readonly mount: number;
  readonly nid: number;
  readonly size: number;
  readonly path: string;
  /** The file's data is compressed: reads go through the z_erofs path (fs/erofs/zdata.ts). */
  readonly compressed: boolean;
  /** a_ops of the file's mapping, from its filesystem (erofs_aops, or z_erofs_aops for compressed data). */
  readonly aops: AddressSpaceOps;
  /** file_ra_state: current window start/size (pages) and the last page index read. */
  raStart: number;
  raSize: number;
  prevIndex: number;
  closed: boolean;
  /** The mount open-count slot this file counts in (vfs/mount.ts mountOpenSlot): its close uncounts it there. */
  readonly openSlot: number;
}

/**
 * address_space_operations: how the generic read path (vfs/filemap.ts) fills pages, given by the
 * filesystem (fs/erofs/data.ts, fs/erofs/zdata.ts) so that vfs/ never imports a filesystem. Either the
 * generic path allocates a window's pages and `readahead` fills them, or — for a filesystem that reads
 * in units larger than the window (compressed pclusters) — `readaheadOwn` grabs its own pages.
 */
export type AddressSpaceOps = BlockReadaheadOps | OwnReadaheadOps;

interface BaseOps {
  /** (Re)read one locked page that is cached but not uptodate; unlocks it. */
  readFolio(k: Kernel, file: OpenFile, f: number, index: number): void;
}
export interface BlockReadaheadOps extends BaseOps {
  /** Fill the locked, indexed frames k.raFrames[0, n) with pages index0.. and publish them. */
  readahead(k: Kernel, file: OpenFile, index0: number, n: number): void;
  readonly readaheadOwn?: undefined;
}
export interface OwnReadaheadOps extends BaseOps {
  /** Read pages [index, index + nr) and whatever else its units cover, allocating them; pages filled. */
  readaheadOwn(k: Kernel, file: OpenFile, index: number, nr: number): number;
  readonly readahead?: undefined;
}

/** open(2) flags the core distinguishes. */
export interface OpenFlags {
  /** O_DIRECT: refused (EINVAL) on a shared file; on a private one reads still go through the cache. */
  direct?: boolean;
}

/** posix_fadvise advice. */
export type FadviseAdvice = 'normal' | 'random' | 'sequential' | 'willneed' | 'dontneed' | 'noreuse';

/** What open needs of the inode a path names: its identity, size and its mapping's a_ops. */
export interface LookupResult {
  readonly nid: number;
  readonly size: number;
  readonly compressed: boolean;
  readonly aops: AddressSpaceOps;
}

/**
 * The filesystem's side of open and fadvise (i_op->lookup plus file_operations), so that vfs/open.ts
 * and vfs/fadvise.ts stay filesystem-independent.
 */
export interface FileOps {
  /** The regular file at `path` in mount m; throws (ENOENT, EISDIR, EINVAL) for anything else. */
  lookup(k: Kernel, m: number, path: string): LookupResult;
  /** The inode `nid` of mount m as open needs it (a stacking filesystem resolved the path itself). */
  readonly inode?: (k: Kernel, m: number, nid: number) => LookupResult;
  /** f_op->open on the opened inode `slot`: the slot reads go through (pinned by the file), or throws. */
  open(k: Kernel, slot: number, flags: OpenFlags, path: string): number;
  /** f_op->fadvise; without it vfs_fadvise uses generic_fadvise. */
  readonly fadvise?: (k: Kernel, file: OpenFile, offset: number, len: number, advice: FadviseAdvice) => number;
}

/** A directory entry's inode as path walking needs it (type, device number for whiteouts, size). */
export interface LowerEntry {
  readonly type: 'file' | 'dir' | 'symlink' | 'chardev' | 'blockdev' | 'fifo' | 'socket';
  /** Device number (devices only): overlayfs's whiteout is a character device 0:0. */
  readonly rdev: number;
  readonly size: number;
}

/**
 * A filesystem's lookup side by inode (inode_operations: lookup, get_link, getxattr, and iterate for
 * directories), for a stacking filesystem above it (fs/overlay/) that walks its own paths through
 * several of them. Inodes are named by their number in the filesystem (nid).
 */
export interface NameiOps {
  root(): number;
  /** The child `name` of directory `dir`, or undefined. */
  lookup(dir: number, name: string): number | undefined;
  entry(nid: number): LowerEntry;
  /** Value of xattr `name`, or undefined. */
  getxattr(nid: number, name: string): Uint8Array | undefined;
  readlink(nid: number): string;
  /** Names and inodes of a directory, `.` and `..` left out. */
  readdir(dir: number): { readonly name: string; readonly nid: number }[];
}
