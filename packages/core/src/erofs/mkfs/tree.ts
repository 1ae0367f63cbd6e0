// The in-memory source tree mkfs builds from a directory or a tar before laying out the image.
// Names are raw bytes (Linux file names are bytes, not text); maps are keyed by their latin1 spelling,
// which is a lossless one-char-per-byte view of those bytes.
import { ErofsError } from '../errors.ts';

export type NodeKind = 'file' | 'dir' | 'symlink' | 'chardev' | 'blockdev' | 'fifo' | 'socket';

/** Where a regular file's data went when it was streamed into the image during the scan. */
export interface DataPlacement {
  readonly size: number;
  /** First block of the file's data in the image; meaningless when `blocks` is 0. */
  readonly blkaddr: number;
  /** Blocks written to the data area (the padded tail block included when the tail is not inline). */
  readonly blocks: number;
  /** The last partial block, to be packed right after the inode (FLAT_INLINE); null for FLAT_PLAIN. */
  readonly tail: Buffer | null;
  /**
   * Extra device (1-based id in the device table, MkfsOptions.devices) holding the data, which then
   * starts at block `blkaddr` of that device and runs on contiguously; the inode becomes CHUNK_BASED
   * with chunk indexes naming the device, as upstream's --blobdev and --tar=i write them. Absent or 0:
   * the data is in this image. `tail` must be null for device data.
   */
  readonly device?: number;
}

export interface Timestamp {
  readonly sec: number;
  readonly nsec: number;
}

export interface TreeNode {
  kind: NodeKind;
  /** Permission bits, setuid/setgid/sticky included (st_mode & 0o7777). */
  perm: number;
  uid: number;
  gid: number;
  /** Undefined: not known from the source (a directory implied by a tar path); the build time is used. */
  mtime: Timestamp | undefined;
  /** Device number in the kernel's new_encode_dev form (devices only). */
  rdev: number;
  /** Full xattr name → raw value, as found in the source. */
  xattrs: Map<string, Buffer>;
  /** Directory entries (name bytes and child), dirs only. */
  children: Map<string, DirChild> | undefined;
  /** Symlink target bytes. */
  target: Buffer | undefined;
  /** Regular file: where its data lives (set once its data has been streamed). */
  data: DataPlacement | undefined;
  /** Regular file: sha256 of its data, computed while streaming. */
  sha256: Buffer | undefined;
  /** Regular file size announced by the source (the data pass checks it). */
  size: number;
  /** Directory source: absolute path of the file to read the data from. */
  srcPath: Buffer | undefined;
}

export interface DirChild {
  readonly name: Buffer;
  node: TreeNode;
}

export function nameKey(name: Uint8Array): string {
  return Buffer.from(name.buffer, name.byteOffset, name.byteLength).toString('latin1');
}

export function newNode(kind: NodeKind, init: Partial<TreeNode> = {}): TreeNode {
  return {
    kind,
    perm: init.perm ?? (kind === 'dir' ? 0o755 : 0o644),
    uid: init.uid ?? 0,
    gid: init.gid ?? 0,
    mtime: init.mtime,
    rdev: init.rdev ?? 0,
    xattrs: init.xattrs ?? new Map<string, Buffer>(),
    children: kind === 'dir' ? (init.children ?? new Map()) : undefined,
    target: init.target,
    data: init.data,
    sha256: init.sha256,
    size: init.size ?? 0,
    srcPath: init.srcPath,
  };
}

/** Entries of a directory sorted by name bytes: the order EROFS requires (the kernel binary-searches). */
export function sortedChildren(dir: TreeNode): DirChild[] {
  if (!dir.children) return [];
  return [...dir.children.values()].sort((a, b) => Buffer.compare(a.name, b.name));
}

/**
 * Every distinct node once (hard links collapse), root first, then breadth first with each
 * directory's entries in name order: a deterministic order for inode numbers and metadata placement.
 */
export function collectNodes(root: TreeNode): TreeNode[] {
  const seen = new Set<TreeNode>([root]);
  const out: TreeNode[] = [root];
  for (let i = 0; i < out.length; i++) {
    for (const c of sortedChildren(out[i])) {
      if (!seen.has(c.node)) {
        seen.add(c.node);
        out.push(c.node);
      }
    }
  }
  return out;
}

/** Regular files in depth-first name order, each inode once: the order their data is written. */
export function filesInOrder(root: TreeNode): TreeNode[] {
  const seen = new Set<TreeNode>();
  const out: TreeNode[] = [];
  const stack: TreeNode[] = [root];
  while (stack.length > 0) {
    const d = stack.pop()!;
    const kids = sortedChildren(d);
    for (const c of kids) {
      if (c.node.kind === 'file' && !seen.has(c.node)) {
        seen.add(c.node);
        out.push(c.node);
      }
    }
    for (let i = kids.length - 1; i >= 0; i--) if (kids[i].node.kind === 'dir') stack.push(kids[i].node);
  }
  return out;
}

/** Link counts as a mounted filesystem reports them: entries naming a node; dirs 2 + subdirectories. */
export function linkCounts(root: TreeNode): Map<TreeNode, number> {
  const n = new Map<TreeNode, number>();
  n.set(root, 2);
  const stack: TreeNode[] = [root];
  while (stack.length > 0) {
    const d = stack.pop()!;
    for (const c of d.children!.values()) {
      if (c.node.kind === 'dir') {
        n.set(d, (n.get(d) ?? 2) + 1);
        n.set(c.node, n.get(c.node) ?? 2);
        stack.push(c.node);
      } else {
        n.set(c.node, (n.get(c.node) ?? 0) + 1);
      }
    }
  }
  return n;
}

/**
 * Split a source-relative path into components, refusing anything that could escape the root.
 * '.' components and repeated slashes vanish; '' or '.' is the root itself (no components).
 */
export function splitRelPath(path: Buffer, what: string): Buffer[] {
  const s = path.toString('latin1');
  if (s.startsWith('/')) throw new ErofsError('EINVAL', `${what}: absolute path ${show(path)} refused`);
  const parts: Buffer[] = [];
  for (const c of s.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') throw new ErofsError('EINVAL', `${what}: path ${show(path)} has a '..' component`);
    parts.push(Buffer.from(c, 'latin1'));
  }
  return parts;
}

/** A path for messages: UTF-8 when it is UTF-8, escaped otherwise. */
export function show(path: Uint8Array): string {
  const s = Buffer.from(path).toString('utf8');
  return s.includes('\ufffd') ? JSON.stringify(Buffer.from(path).toString('latin1')) : s;
}
