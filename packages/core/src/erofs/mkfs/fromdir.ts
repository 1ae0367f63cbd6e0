// Source: a directory tree. An lstat walk builds the tree (names as bytes, hard links by dev+ino,
// xattrs from one getfattr run), then a second pass streams each regular file's data into the image
// in depth-first name order. The source is only ever read.
import { lstatSync, readdirSync, readlinkSync, type BigIntStats } from 'node:fs';
import { open } from 'node:fs/promises';
import { ErofsError } from '../errors.ts';
import { streamFileData } from './data.ts';
import { readXattrTree, type XattrTable } from './getfattr.ts';
import type { MkfsConfig } from './options.ts';
import type { ImageSink } from './sink.ts';
import { filesInOrder, nameKey, newNode, show, type NodeKind, type TreeNode } from './tree.ts';
import { encodeXattr } from './xattr.ts';

const READ_CHUNK = 1 << 20;
const SLASH = Buffer.from('/');

function fsError(what: string, e: unknown): ErofsError {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new ErofsError('ENOENT', `${what}: No such file or directory`);
  return new ErofsError('EIO', `${what}: ${code ?? (e as Error).message}`);
}

function kindOf(st: BigIntStats): NodeKind {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'chardev';
  if (st.isBlockDevice()) return 'blockdev';
  if (st.isFIFO()) return 'fifo';
  return 'socket';
}

/** glibc's dev_t → the kernel's 32-bit new_encode_dev form EROFS stores. */
export function encodeDev(major: number, minor: number): number {
  return ((minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12)) >>> 0;
}

function devOf(rdev: bigint): number {
  const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
  const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
  return encodeDev(major, minor);
}

function nodeFromStat(kind: NodeKind, st: BigIntStats, abs: Buffer): TreeNode {
  const ns = st.mtimeNs;
  const nsec = ((ns % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n;
  return newNode(kind, {
    perm: Number(st.mode & 0o7777n),
    uid: Number(st.uid),
    gid: Number(st.gid),
    mtime: { sec: Number((ns - nsec) / 1_000_000_000n), nsec: Number(nsec) },
    rdev: kind === 'chardev' || kind === 'blockdev' ? devOf(st.rdev) : 0,
    size: kind === 'file' ? Number(st.size) : 0,
    srcPath: kind === 'file' ? abs : undefined,
  });
}

function attachXattrs(node: TreeNode, abs: Buffer, table: XattrTable | undefined): void {
  const found = table?.get(abs.toString('latin1'));
  if (!found) return;
  for (const [name, value] of found) {
    encodeXattr(name, value, show(abs)); // refuse what EROFS cannot store now, naming the file
    node.xattrs.set(name, value);
  }
}

/** Build the tree under `root` (an existing directory, absolute path). */
export async function walkDirectory(root: string, cfg: MkfsConfig): Promise<TreeNode> {
  const table = cfg.xattrs ? await readXattrTree(root) : undefined;
  const rootAbs = Buffer.from(root);
  let st: BigIntStats;
  try {
    st = lstatSync(rootAbs, { bigint: true });
  } catch (e) {
    throw fsError(root, e);
  }
  const rootNode = nodeFromStat('dir', st, rootAbs);
  attachXattrs(rootNode, rootAbs, table);
  const hardlinks = new Map<string, TreeNode>();
  const stack: { node: TreeNode; abs: Buffer }[] = [{ node: rootNode, abs: rootAbs }];
  while (stack.length > 0) {
    const { node: dir, abs } = stack.pop()!;
    let names: Buffer[];
    try {
      names = readdirSync(abs, { encoding: 'buffer' });
    } catch (e) {
      throw fsError(`cannot list ${show(abs)}`, e);
    }
    for (const name of names) {
      const childAbs = Buffer.concat([abs, SLASH, name]);
      let cst: BigIntStats;
      try {
        cst = lstatSync(childAbs, { bigint: true });
      } catch (e) {
        throw fsError(`cannot stat ${show(childAbs)}`, e);
      }
      const kind = kindOf(cst);
      const linkKey = kind !== 'dir' && cst.nlink > 1n ? `${cst.dev}:${cst.ino}` : undefined;
      let child = linkKey ? hardlinks.get(linkKey) : undefined;
      if (!child) {
        child = nodeFromStat(kind, cst, childAbs);
        if (kind === 'symlink') {
          try {
            child.target = readlinkSync(childAbs, { encoding: 'buffer' });
          } catch (e) {
            throw fsError(`cannot read symlink ${show(childAbs)}`, e);
          }
        }
        attachXattrs(child, childAbs, table);
        if (linkKey) hardlinks.set(linkKey, child);
        if (kind === 'dir') stack.push({ node: child, abs: childAbs });
      }
      dir.children!.set(nameKey(name), { name, node: child });
    }
  }
  return rootNode;
}

async function* readChunks(path: Buffer, size: number): AsyncGenerator<Uint8Array> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    throw fsError(`cannot open ${show(path)}`, e);
  }
  try {
    const buf = Buffer.allocUnsafe(Math.min(READ_CHUNK, Math.max(size, 1)));
    let pos = 0;
    // Read one byte past the expected size so a file that grew is noticed, not silently cut.
    while (pos <= size) {
      let n: number;
      try {
        ({ bytesRead: n } = await fh.read(buf, 0, buf.length, pos));
      } catch (e) {
        throw fsError(`cannot read ${show(path)}`, e);
      }
      if (n === 0) break;
      pos += n;
      yield buf.subarray(0, n);
    }
  } finally {
    await fh.close();
  }
}

/** Stream every regular file's data into the image; returns nothing, fills each node's placement. */
export async function writeDirectoryData(
  root: TreeNode,
  sink: ImageSink,
  tailInline: (node: TreeNode, tailLen: number) => boolean,
  onProgress: ((done: number, total: number) => void) | undefined,
): Promise<void> {
  const files = filesInOrder(root);
  let total = 0;
  for (const f of files) total += f.size;
  let done = 0;
  onProgress?.(0, total);
  for (const f of files) {
    const path = f.srcPath!;
    const r = await streamFileData(sink, readChunks(path, f.size), f.size, (n) => tailInline(f, n), show(path));
    f.data = r.placement;
    f.sha256 = r.sha256;
    done += f.size;
    onProgress?.(done, total);
  }
}
