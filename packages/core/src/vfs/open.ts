// open/close and mmap/munmap of a file (fs/open.c, fs/file_table.c's fput, mm/mmap.c), independent of
// the filesystem: name lookup and what opening a file of that filesystem means (an ishare file pins its
// shared inode and refuses O_DIRECT) come from its FileOps (fs/erofs/inode.ts's erofsFileOps).
//
// A file whose `mapping` is not its own inode reads through another inode's address space (a shared
// inode) and holds a reference on it; that is all this module needs to know about sharing.
import type { Kernel } from './kernel.ts';
import { iput, ihold, inodeOpenAdd, inodeGen, iget } from './inode.ts';
import { mountState, mountOpenAdd, mountOpenSlot, MS_ACTIVE } from './mount.ts';
import { MAX_FILE_BYTES } from './filemap.ts';
import type { OpenFile, OpenFlags, FileOps, LookupResult } from './file.ts';
import { VfsError } from './errno.ts';
import { NIL } from '../mm/list.ts';

/** Open a regular file by path inside mount m. */
export function vfsOpen(k: Kernel, fops: FileOps, m: number, path: string, flags: OpenFlags): OpenFile {
  return openWith(k, fops, m, path, flags, () => fops.lookup(k, m, path));
}

/**
 * Open inode `nid` of mount m, a regular file whose path (`path`, for messages) a stacking filesystem
 * resolved through its layers (fs/overlay/): the file is the layer's, as overlayfs opens the real file.
 */
export function vfsOpenInode(
  k: Kernel,
  fops: FileOps,
  m: number,
  nid: number,
  path: string,
  flags: OpenFlags,
): OpenFile {
  const inode = fops.inode;
  if (!inode) throw new VfsError('EINVAL', `${path}: the filesystem cannot open an inode by number`);
  return openWith(k, fops, m, path, flags, () => inode(k, m, nid));
}

function openWith(
  k: Kernel,
  fops: FileOps,
  m: number,
  path: string,
  flags: OpenFlags,
  lookup: () => LookupResult,
): OpenFile {
  const a = k.a;
  if (mountState(a, m) !== MS_ACTIVE) throw new VfsError('ENOENT', `mount ${m} is not mounted`);
  const openSlot = mountOpenSlot(k.threadId);
  mountOpenAdd(a, m, 1, openSlot);
  try {
    // Re-check after announcing the open, so unmount's wait for zero cannot miss us.
    if (mountState(a, m) !== MS_ACTIVE) throw new VfsError('ENOENT', `mount ${m} is being unmounted`);
    const ino = lookup();
    if (ino.size > MAX_FILE_BYTES)
      throw new VfsError(
        'EINVAL',
        `${path}: ${ino.size} bytes is larger than the page cache can index (${MAX_FILE_BYTES})`,
      );
    const slot = iget(a, m, ino.nid, k.ops);
    inodeOpenAdd(a, slot, 1);
    let mapping: number;
    try {
      mapping = fops.open(k, slot, flags, path);
    } catch (e) {
      // The filesystem refused the open: undo the inode's references as close would.
      inodeOpenAdd(a, slot, -1);
      iput(a, slot, k.ops);
      throw e;
    }
    return {
      inode: slot,
      mapping,
      mappingGen: inodeGen(a, mapping),
      mount: m,
      nid: ino.nid,
      size: ino.size,
      path,
      compressed: ino.compressed,
      aops: ino.aops,
      raStart: 0,
      raSize: 0,
      prevIndex: -2,
      closed: false,
      openSlot,
    };
  } catch (e) {
    mountOpenAdd(a, m, -1, openSlot);
    throw e;
  }
}

export function vfsClose(k: Kernel, file: OpenFile): void {
  if (file.closed) return;
  file.closed = true;
  const a = k.a;
  if (file.mapping !== file.inode) iput(a, file.mapping, k.ops);
  inodeOpenAdd(a, file.inode, -1);
  iput(a, file.inode, k.ops);
  mountOpenAdd(a, file.mount, -1, file.openSlot);
}

/**
 * mmap, as the seed's ishare mmap does it: the mapping's file is the *shared* inode's (vma_set_file to
 * the shared file), so it pins the shared inode only — the file may be closed afterwards and its own
 * inode evicted, and reads through the mapping (page faults) then map blocks through whichever backing
 * inode is still there. A file that is not shared keeps its own inode and mount, as an open file does.
 */
export function vfsMmap(k: Kernel, file: OpenFile): OpenFile {
  if (file.closed) throw new VfsError('EINVAL', `mmap of closed file ${file.path}`);
  const a = k.a;
  if (file.mapping !== file.inode) {
    ihold(a, file.mapping);
    return { ...file, inode: NIL, raStart: 0, raSize: 0, prevIndex: -2, closed: false };
  }
  ihold(a, file.inode);
  inodeOpenAdd(a, file.inode, 1);
  mountOpenAdd(a, file.mount, 1, file.openSlot);
  return { ...file, raStart: 0, raSize: 0, prevIndex: -2, closed: false };
}

export function vfsMunmap(k: Kernel, map: OpenFile): void {
  if (map.inode === NIL) {
    if (map.closed) return;
    map.closed = true;
    iput(k.a, map.mapping, k.ops);
    return;
  }
  vfsClose(k, map);
}
