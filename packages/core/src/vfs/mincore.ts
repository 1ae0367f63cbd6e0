// What fincore(1) reads of a file (mm/filemap.c's cachestat, mm/mincore.c): the pages of the file's
// address space that are in the page cache. An open file of a shared inode reads through the shared
// inode's mapping (its f_mapping), so that is the mapping counted — which is how upstream's own test
// (erofs-utils tests/erofs/028) sees one file's residency emptied by fadvise(DONTNEED) on the other.
import type { Kernel } from './kernel.ts';
import { PAGE_SIZE } from '../mm/arena.ts';
import { inodeNrPages } from './inode.ts';
import type { OpenFile } from './file.ts';
import { VfsError } from './errno.ts';

export interface Residency {
  /** Pages of the file's mapping in the page cache (fincore's PAGES). */
  readonly pages: number;
  /** pages × page size (fincore's RES). */
  readonly bytes: number;
  /** The file's size (fincore's SIZE). */
  readonly size: number;
}

/** cachestat over the whole file: its mapping's cached pages. */
export function vfsFincore(k: Kernel, file: OpenFile): Residency {
  if (file.closed) throw new VfsError('EINVAL', `fincore on a closed file (${file.path})`);
  const pages = inodeNrPages(k.a, file.mapping);
  return { pages, bytes: pages * PAGE_SIZE, size: file.size };
}
