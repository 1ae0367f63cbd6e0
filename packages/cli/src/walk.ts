// Depth-first listing of a subtree in directory order, shared by ls, extract and inspect.
// Unlike ErofsImage.walk() it can start at any directory and gives relative paths too. The image is
// untrusted: a directory reached twice (corrupt image) must end in an error, not an endless walk.
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
    yield {
      path: join(dirPath, d.name),
      rel: relBase ? `${relBase}/${d.name}` : d.name,
      name: d.name,
      inode: img.inode(d.nid),
    };
  }
}

/** Every entry under `dir`, pre-order (a directory before its contents), not including `dir` itself. */
export function* subtree(img: ErofsImage, dirPath: string, dir: ErofsInode): Generator<TreeNode> {
  // Directories cannot be hard linked, so meeting one twice means the tree is corrupt.
  const seen = new Set<number>([dir.nid]);
  function* rec(path: string, inode: ErofsInode, rel: string): Generator<TreeNode> {
    for (const c of children(img, path, inode, rel)) {
      yield c;
      if (c.inode.type !== 'dir') continue;
      if (seen.has(c.inode.nid))
        throw new ErofsError(
          'ELOOP',
          `directory nid ${c.inode.nid} reached twice (at ${c.path}): directory cycle`,
          c.inode.iloc,
        );
      seen.add(c.inode.nid);
      yield* rec(c.path, c.inode, c.rel);
    }
  }
  yield* rec(dirPath, dir, '');
}
