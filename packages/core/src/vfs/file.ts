// An open file (struct file): private to the thread that opened it. It pins its inode (i_count) and,
// when the file reads through a shared inode, that inode too (the seed's ishare file: file_inode is the
// shared inode, private_data the original). Readahead state lives here, as file->f_ra does.
import type { Kernel } from '../kernel.ts';

export interface OpenFile {
  /** The opened inode (the backing inode for a shared file). */
  readonly inode: number;
  /** The address space reads go through: the shared inode's slot, or `inode` itself. */
  readonly mapping: number;
  readonly mount: number;
  readonly nid: number;
  readonly size: number;
  readonly path: string;
  /** file_ra_state: current window start/size (pages) and the last page index read. */
  raStart: number;
  raSize: number;
  prevIndex: number;
  closed: boolean;
}

/**
 * address_space_operations: how the generic read path (vfs/filemap.ts) fills pages, given by the
 * filesystem (fs/erofs/data.ts) so that vfs/ never imports a filesystem.
 */
export interface AddressSpaceOps {
  /** Fill the locked, indexed frames k.raFrames[0, n) with pages index0.. and publish them. */
  readahead(k: Kernel, file: OpenFile, index0: number, n: number): void;
  /** (Re)read one locked page that is cached but not uptodate; unlocks it. */
  readFolio(k: Kernel, file: OpenFile, f: number, index: number): void;
}
