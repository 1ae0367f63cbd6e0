// Path lookup in an EROFS image (fs/erofs/namei.c), from this thread's parsed copy of the mount's image.
import type { Kernel } from '../../vfs/kernel.ts';
import type { LookupResult, NameiOps } from '../../vfs/file.ts';
import type { ErofsImage } from '../../erofs/image.ts';
import { ErofsError } from '../../erofs/errors.ts';
import { erofsSb, erofsCountDentries } from './super.ts';
import { erofsAops } from './data.ts';
import { zErofsAops } from './zdata.ts';

/** The regular file at `path` in mount m, with the a_ops its data path needs. */
export function erofsLookup(k: Kernel, m: number, path: string): LookupResult {
  const sb = erofsSb(k, m);
  const ino = erofsCountDentries(k, sb, () => sb.image.resolve(path));
  if (ino.type !== 'file')
    throw new ErofsError(ino.type === 'dir' ? 'EISDIR' : 'EINVAL', `${path}: not a regular file`);
  return { nid: ino.nid, size: ino.size, compressed: ino.compressed, aops: ino.compressed ? zErofsAops : erofsAops };
}

/** Regular files of a mount (path, nid, size). */
export function erofsListFiles(k: Kernel, m: number): { path: string; nid: number; size: number }[] {
  const sb = erofsSb(k, m);
  const out: { path: string; nid: number; size: number }[] = [];
  for (const { path, inode } of sb.image.walk())
    if (inode.type === 'file') out.push({ path, nid: inode.nid, size: inode.size });
  return out;
}

/** Inode `nid` of mount m as open needs it (an overlay resolved its path): a regular file only. */
export function erofsInodeAt(k: Kernel, m: number, nid: number): LookupResult {
  const ino = erofsSb(k, m).image.inode(nid);
  if (ino.type !== 'file')
    throw new ErofsError(ino.type === 'dir' ? 'EISDIR' : 'EINVAL', `nid ${nid}: not a regular file`);
  return { nid: ino.nid, size: ino.size, compressed: ino.compressed, aops: ino.compressed ? zErofsAops : erofsAops };
}

/** An image's lookup side by inode, for an overlay of images (fs/overlay/) — this thread's parsed copy. */
export function erofsNameiOps(image: ErofsImage): NameiOps {
  return {
    root: () => image.root().nid,
    lookup: (dir, name) => image.lookup(image.inode(dir), name),
    entry: (nid) => {
      const ino = image.inode(nid);
      return { type: ino.type, rdev: ino.rdev, size: ino.size };
    },
    getxattr: (nid, name) => image.getXattr(image.inode(nid), name),
    readlink: (nid) => image.readlink(image.inode(nid)),
    readdir: (dir) =>
      image
        .readdir(image.inode(dir))
        .filter((e) => e.name !== '.' && e.name !== '..')
        .map((e) => ({ name: e.name, nid: e.nid })),
  };
}
