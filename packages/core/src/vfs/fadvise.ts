// posix_fadvise (mm/fadvise.c): vfs_fadvise hands the advice to the filesystem's fadvise when it has
// one (erofs: erofs_ishare_fadvise, fs/erofs/ishare.ts), else generic_fadvise acts on the file's mapping.
import type { Kernel } from './kernel.ts';
import { PAGE_SIZE } from '../mm/arena.ts';
import { invalidateMappingPages } from './pagecache.ts';
import { readaheadRange } from './filemap.ts';
import type { OpenFile, FadviseAdvice, FileOps } from './file.ts';
import { VfsError } from './errno.ts';

/** posix_fadvise(fd, offset, len, advice) after the syscall's checks (EINVAL range, closed file). */
export function vfsFadvise(
  k: Kernel,
  fops: FileOps,
  file: OpenFile,
  offset: number,
  len: number,
  advice: FadviseAdvice,
): number {
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(len) || len < 0) {
    throw new VfsError('EINVAL', `fadvise: bad range offset ${offset} length ${len}`);
  }
  if (file.closed) throw new VfsError('EINVAL', `fadvise on a closed file (${file.path})`);
  return fops.fadvise ? fops.fadvise(k, file, offset, len, advice) : genericFadvise(k, file, offset, len, advice);
}

/**
 * generic_fadvise on file.mapping; len 0 means to the end of the file. DONTNEED drops the unused cached
 * pages wholly inside the range (partly covered pages at either end stay) and returns how many;
 * WILLNEED reads ahead; the rest only tune readahead in Linux and do nothing here.
 */
export function genericFadvise(k: Kernel, file: OpenFile, offset: number, len: number, advice: FadviseAdvice): number {
  if (advice === 'willneed') return readaheadRange(k, file, offset, len === 0 ? Math.max(0, file.size - offset) : len);
  if (advice !== 'dontneed') return 0;
  if (file.size === 0) return 0;
  const lastPage = Math.floor((file.size - 1) / PAGE_SIZE);
  const start = Math.ceil(offset / PAGE_SIZE);
  let end: number;
  if (len === 0) {
    end = lastPage; // to the end of the file
  } else {
    const endbyte = offset + len - 1;
    end = Math.floor(endbyte / PAGE_SIZE);
    if ((endbyte + 1) % PAGE_SIZE !== 0) end--; // a partly covered last page stays
  }
  end = Math.min(end, lastPage);
  if (end < start) return 0;
  return invalidateMappingPages(k.a, file.mapping, start, end);
}
