// Path lookup in an EROFS image (fs/erofs/namei.c), from this thread's parsed copy of the mount's image.
import type { Kernel } from '../../vfs/kernel.ts';
import type { LookupResult } from '../../vfs/file.ts';
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
