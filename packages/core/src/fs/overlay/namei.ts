// A read-only overlay of filesystem layers (fs/overlayfs/namei.c's ovl_lookup, readdir.c's merge), as
// containerd's EROFS snapshotter stacks one EROFS blob per image layer. It sits above vfs like overlayfs:
// each layer is reached through its filesystem's NameiOps (vfs/file.ts), never by importing it.
//
// Lookup walks the path one name at a time, carrying the stack of layer directories that make the
// current merged directory (top first). A name is looked up in each of them, top down: a whiteout (a
// character device 0:0) ends the search — it hides that name in every layer below; a non-directory
// found first is the result; a directory found first starts the next stack, to which lower directories
// of that name are added until a non-directory, a whiteout, or an opaque directory
// (`trusted.overlay.opaque=y`) stops the descent. Symbolic links are followed in the merged tree.
//
// An Overlay is private to one thread (it caches resolved paths, as the dcache would), built over that
// thread's parsed copies of the layers; nothing here is shared state.
import { VfsError } from '../../vfs/errno.ts';
import type { LowerEntry, NameiOps } from '../../vfs/file.ts';

export const OVL_OPAQUE_XATTR = 'trusted.overlay.opaque';
const MAX_SYMLINKS = 40;
const RESOLVED_MAX = 1 << 16;

/** A layer's inode: which layer (index into the overlay's layers, top first) and its number there. */
export interface OvlInode {
  readonly layer: number;
  readonly nid: number;
}

export interface OvlResolved extends OvlInode {
  readonly entry: LowerEntry;
}

type Stack = readonly OvlInode[];

function splitPath(path: string): string[] {
  return path.split('/').filter((c) => c !== '');
}

export class Overlay {
  /** Layers, top first (the reverse of an image's layer list). */
  readonly layers: readonly NameiOps[];
  private readonly rootStack: Stack;
  private readonly resolved = new Map<string, OvlResolved>();
  /** Per layer: which directories are opaque (an xattr lookup each, done once). */
  private readonly opaque: Map<number, boolean>[];

  constructor(layers: readonly NameiOps[]) {
    if (layers.length === 0) throw new VfsError('EINVAL', 'an overlay needs at least one layer');
    this.layers = layers;
    this.opaque = layers.map(() => new Map<number, boolean>());
    const roots: OvlInode[] = [];
    for (const [layer, l] of layers.entries()) {
      const nid = l.root();
      roots.push({ layer, nid });
      if (this.isOpaque({ layer, nid })) break;
    }
    this.rootStack = roots;
  }

  private isOpaque(i: OvlInode): boolean {
    const known = this.opaque[i.layer].get(i.nid);
    if (known !== undefined) return known;
    const v = this.layers[i.layer].getxattr(i.nid, OVL_OPAQUE_XATTR);
    const opaque = v !== undefined && v.length === 1 && v[0] === 0x79; // 'y'
    this.opaque[i.layer].set(i.nid, opaque);
    return opaque;
  }

  private static isWhiteout(e: LowerEntry): boolean {
    return e.type === 'chardev' && e.rdev === 0;
  }

  /**
   * ovl_lookup of `name` in the merged directory `dir`: the stack of the merged child (one inode for a
   * non-directory), or undefined when no layer has it or a whiteout hides it.
   */
  lookupIn(dir: Stack, name: string): { stack: OvlInode[]; entry: LowerEntry } | undefined {
    const stack: OvlInode[] = [];
    let first: LowerEntry | undefined;
    for (const d of dir) {
      const l = this.layers[d.layer];
      const nid = l.lookup(d.nid, name);
      if (nid === undefined) continue;
      const e = l.entry(nid);
      if (Overlay.isWhiteout(e)) break;
      if (first === undefined) {
        first = e;
        stack.push({ layer: d.layer, nid });
        if (e.type !== 'dir') break;
      } else {
        if (e.type !== 'dir') break;
        stack.push({ layer: d.layer, nid });
      }
      if (this.isOpaque({ layer: d.layer, nid })) break;
    }
    return first === undefined ? undefined : { stack, entry: first };
  }

  /** The merged inode at `path` (symlinks followed, the last one too unless `follow` is false). */
  resolve(path: string, follow = true): OvlResolved {
    if (follow) {
      const hit = this.resolved.get(path);
      if (hit !== undefined) return hit;
    }
    const r = this.walk(path, follow);
    if (follow) {
      if (this.resolved.size >= RESOLVED_MAX) this.resolved.clear();
      this.resolved.set(path, r);
    }
    return r;
  }

  private walk(path: string, follow: boolean): OvlResolved {
    const root = this.rootStack;
    const rootTop = this.layers[root[0].layer].entry(root[0].nid);
    // The directories walked through, for '..'.
    const dirs: Stack[] = [root];
    let cur: { stack: Stack; entry: LowerEntry } = { stack: root, entry: rootTop };
    let queue = splitPath(path);
    let idx = 0;
    let links = 0;
    const walked: string[] = [];
    while (idx < queue.length) {
      const comp = queue[idx++];
      if (cur.entry.type !== 'dir')
        throw new VfsError('ENOTDIR', `/${walked.join('/')}: Not a directory (resolving ${path})`);
      if (comp === '.') continue;
      if (comp === '..') {
        if (dirs.length > 1) dirs.pop();
        const s = dirs[dirs.length - 1];
        cur = { stack: s, entry: this.layers[s[0].layer].entry(s[0].nid) };
        walked.pop();
        continue;
      }
      const child = this.lookupIn(cur.stack, comp);
      if (!child) throw new VfsError('ENOENT', `/${[...walked, comp].join('/')}: No such file or directory`);
      const last = idx >= queue.length;
      if (child.entry.type === 'symlink' && (!last || follow)) {
        if (++links > MAX_SYMLINKS) throw new VfsError('ELOOP', `${path}: Too many levels of symbolic links`);
        const top = child.stack[0];
        const target = this.layers[top.layer].readlink(top.nid);
        if (target.startsWith('/')) {
          dirs.length = 1;
          cur = { stack: root, entry: rootTop };
          walked.length = 0;
        }
        queue = [...splitPath(target), ...queue.slice(idx)];
        idx = 0;
        continue;
      }
      cur = child;
      if (child.entry.type === 'dir') dirs.push(child.stack);
      walked.push(comp);
    }
    const top = cur.stack[0];
    return { layer: top.layer, nid: top.nid, entry: cur.entry };
  }

  /**
   * Every entry of the merged tree, depth first in name order, as readdir of the overlay lists it (the
   * names of all layers' directories, each once, whiteouts and what they hide left out).
   */
  *entries(): Generator<{ path: string } & OvlResolved> {
    const stack: { path: string; dir: Stack }[] = [{ path: '', dir: this.rootStack }];
    while (stack.length > 0) {
      const { path, dir } = stack.pop()!;
      const names = new Set<string>();
      for (const d of dir) for (const e of this.layers[d.layer].readdir(d.nid)) names.add(e.name);
      const subdirs: { path: string; dir: Stack }[] = [];
      for (const name of [...names].sort()) {
        const child = this.lookupIn(dir, name);
        if (!child) continue;
        const p = `${path}/${name}`;
        const top = child.stack[0];
        yield { path: p, layer: top.layer, nid: top.nid, entry: child.entry };
        if (child.entry.type === 'dir') subdirs.push({ path: p, dir: child.stack });
      }
      for (const s of subdirs.reverse()) stack.push(s);
    }
  }

  /** Regular files of the merged tree (path, layer, nid, size). */
  regularFiles(): { path: string; layer: number; nid: number; size: number }[] {
    const out: { path: string; layer: number; nid: number; size: number }[] = [];
    for (const e of this.entries())
      if (e.entry.type === 'file') out.push({ path: e.path, layer: e.layer, nid: e.nid, size: e.entry.size });
    return out;
  }
}
