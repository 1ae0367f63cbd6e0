// An open file (struct file): private to the thread that opened it. It pins its inode (i_count) and,
// when the file reads through a shared inode, that inode too (the seed's ishare file: file_inode is the
// shared inode, private_data the original). Readahead state lives here, as file->f_ra does.
export interface OpenFile {
  /**
   * The opened inode (the backing inode for a shared file), or NIL for a mapping of a shared file that
   * outlived its file (mmap after close: the vma's file is the shared inode's, as the seed's mmap sets it).
   */
  readonly inode: number;
  /** The address space reads go through: the shared inode's slot, or `inode` itself. */
  readonly mapping: number;
  readonly mount: number;
  readonly nid: number;
  readonly size: number;
  readonly path: string;
  /** The file's data is compressed: reads go through the z_erofs path (fs/erofs/zdata.ts). */
  readonly compressed: boolean;
  /** file_ra_state: current window start/size (pages) and the last page index read. */
  raStart: number;
  raSize: number;
  prevIndex: number;
  closed: boolean;
}
