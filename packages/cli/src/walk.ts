// Depth-first listing of a subtree in directory order, shared by ls, extract and inspect.
// The image is untrusted: a directory that contains itself (corrupt image) must end in an error,
// not an endless walk.
import { ErofsError, type ErofsInode } from './core.ts';
import type { ErofsImage } from './engine.ts';

export interface TreeNode {
  /** Absolute path inside the image ('/a/b'). */
  path: string;
  /** Path relative to the walked directory ('a/b'). */
  rel: string;
  name: string;
  inode: ErofsInode;
}

function join(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

/** Entries of `dir` (never '.' or '..'), each with its inode. */
export function* children(img: ErofsImage, dirPath: string, dir: ErofsInode, relBase = ''): Generator<TreeNode> {
  for (const d of img.readdir(dir)) {
    if (d.name === '.' || d.name === '..') continue;
    yield { path: join(dirPath, d.name), rel: relBase ? `${relBase}/${d.name}` : d.name, name: d.name, inode: img.inode(d.nid) };
  }
}

/** Every entry under `dir`, pre-order (a directory before its contents), not including `dir` itself. */
export function* subtree(img: ErofsImage, dirPath: string, dir: ErofsInode): Generator<TreeNode> {
  const open = new Set<number>([dir.nid]);
  function* rec(path: string, inode: ErofsInode, rel: string): Generator<TreeNode> {
    for (const c of children(img, path, inode, rel)) {
      yield c;
      if (c.inode.type !== 'dir') continue;
      if (open.has(c.inode.nid)) throw new ErofsError('ELOOP', `directory cycle at ${c.path} (nid ${c.inode.nid})`);
      open.add(c.inode.nid);
      yield* rec(c.path, c.inode, c.rel);
      open.delete(c.inode.nid);
    }
  }
  yield* rec(dirPath, dir, '');
}
