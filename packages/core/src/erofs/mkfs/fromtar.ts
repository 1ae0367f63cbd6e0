// Source: a tar or gzipped tar, read once front to back. Entries become tree nodes (directories
// implied by paths are created on the way), regular files' data goes straight into the image.
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { ErofsError, isErofsError } from '../errors.ts';
import { streamFileData } from './data.ts';
import { encodeDev } from './fromdir.ts';
import type { MkfsConfig } from './options.ts';
import type { ImageSink } from './sink.ts';
import { nameKey, newNode, show, splitRelPath, type NodeKind, type TreeNode } from './tree.ts';
import { readTar, type TarEntry } from './tarread.ts';
import { encodeXattr } from './xattr.ts';

const MAX_SYMLINK = 4095;
/** Name prefix of an OCI layer's deletions (fromoci.ts applies them; a plain tar may not hold them). */
export const WHITEOUT = Buffer.from('.wh.');

const OTHER_COMPRESSORS: [string, Buffer][] = [
  ['xz', Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])],
  ['zstd', Buffer.from([0x28, 0xb5, 0x2f, 0xfd])],
  ['bzip2', Buffer.from('BZh')],
];

/** Gzip is recognised by its magic (whatever the file is called); other compressors are named and refused. */
async function isGzip(path: string): Promise<boolean> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    throw new ErofsError('EIO', `cannot open ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    const b = Buffer.alloc(6);
    const { bytesRead } = await fh.read(b, 0, 6, 0);
    for (const [name, magic] of OTHER_COMPRESSORS) {
      if (bytesRead >= magic.length && b.subarray(0, magic.length).equals(magic)) {
        throw new ErofsError('EUNSUPPORTED', `${path} is ${name}-compressed: give a plain tar or a tar.gz`);
      }
    }
    return bytesRead >= 2 && b[0] === 0x1f && b[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

/** The chunks of the tar, gunzipped when needed; `progress` sees bytes of the file on disk. */
async function* tarChunks(path: string, onBytes: (n: number) => void): AsyncGenerator<Buffer> {
  const gz = await isGzip(path);
  const raw = createReadStream(path, { highWaterMark: 1 << 20 });
  raw.on('data', (c: Buffer | string) => onBytes(c.length));
  const stream = gz ? raw.pipe(createGunzip()) : raw;
  if (gz) raw.on('error', (e) => stream.destroy(e));
  try {
    for await (const c of stream) yield c as Buffer;
  } catch (e) {
    if (isErofsError(e)) throw e;
    const err = e as NodeJS.ErrnoException;
    if (err.code?.startsWith('Z_')) throw new ErofsError('ECORRUPT', `${path}: bad gzip data (${err.message})`);
    throw new ErofsError('EIO', `cannot read ${path}: ${err.code ?? err.message}`);
  } finally {
    raw.destroy();
    stream.destroy();
  }
}

export function applyAttrs(node: TreeNode, e: TarEntry, cfg: MkfsConfig, where: string): void {
  node.perm = e.mode;
  node.uid = e.uid;
  node.gid = e.gid;
  node.mtime = e.mtime;
  node.xattrs = new Map();
  if (!cfg.xattrs) return;
  for (const [name, value] of e.xattrs) {
    encodeXattr(name, value, where);
    node.xattrs.set(name, value);
  }
}

/** The node an entry other than a directory or a hard link makes; a file's data is the caller's to stream. */
export function entryNode(e: TarEntry, cfg: MkfsConfig, where: string): TreeNode {
  const node = newNode(e.type as NodeKind);
  applyAttrs(node, e, cfg, where);
  if (e.type === 'symlink') {
    if (e.linkpath.length === 0 || e.linkpath.length > MAX_SYMLINK)
      throw new ErofsError('EINVAL', `${where}: symlink target of ${e.linkpath.length} bytes`);
    node.target = e.linkpath;
  } else if (e.type === 'chardev' || e.type === 'blockdev') {
    node.rdev = encodeDev(e.devmajor, e.devminor);
  } else if (e.type === 'file') {
    node.size = e.size;
  }
  return node;
}

/** What placing a tar entry needs besides the entry: the tree, where file data goes, the config. */
export interface EntryTarget {
  readonly root: TreeNode;
  readonly sink: ImageSink;
  readonly cfg: MkfsConfig;
  readonly tailInline: (node: TreeNode, tailLen: number) => boolean;
  /** End of the message for a hard link whose target is not an earlier entry. */
  readonly linkMissing: string;
  /** xattrs a directory met again keeps over its new attributes (markers set before its entry). */
  readonly keepDirXattrs?: readonly string[];
}

/**
 * Put entry `e` (not the root) into `parent` as `name`: a hard link shares the earlier entry's node; a
 * directory met again (or implied earlier) keeps its entries and takes the new attributes; anything
 * else is a new node, a regular file's data streamed into the sink.
 */
export async function addTarEntry(
  to: EntryTarget,
  parent: TreeNode,
  name: Buffer,
  e: TarEntry,
  data: AsyncIterable<Uint8Array>,
  where: string,
): Promise<void> {
  const key = nameKey(name);
  if (e.type === 'link') {
    const tparts = splitRelPath(e.linkpath, `${where}: hard link target`);
    let t: TreeNode | undefined = to.root;
    for (const p of tparts) t = t?.children?.get(nameKey(p))?.node;
    if (!t || tparts.length === 0)
      throw new ErofsError('ECORRUPT', `${where}: hard link target ${show(e.linkpath)} ${to.linkMissing}`);
    if (t.kind === 'dir') throw new ErofsError('ECORRUPT', `${where}: hard link to directory ${show(e.linkpath)}`);
    parent.children!.set(key, { name, node: t });
    return;
  }
  if (e.type === 'dir') {
    const existing = parent.children!.get(key);
    const node = existing?.node.kind === 'dir' ? existing.node : newNode('dir');
    const kept = (to.keepDirXattrs ?? []).flatMap((n) => {
      const v = node.xattrs.get(n);
      return v ? [[n, v] as const] : [];
    });
    applyAttrs(node, e, to.cfg, where);
    for (const [n, v] of kept) node.xattrs.set(n, v);
    parent.children!.set(key, { name, node });
    return;
  }
  const node = entryNode(e, to.cfg, where);
  if (e.type === 'file') {
    const r = await streamFileData(to.sink, data, e.size, (n) => to.tailInline(node, n), where);
    node.data = r.placement;
    node.sha256 = r.sha256;
  }
  parent.children!.set(key, { name, node });
}

/** Read the tar at `path` into a tree, streaming file data into `sink`. */
export async function readTarSource(
  path: string,
  sink: ImageSink,
  cfg: MkfsConfig,
  total: number,
  tailInline: (node: TreeNode, tailLen: number) => boolean,
): Promise<TreeNode> {
  const root = newNode('dir');
  let done = 0;
  cfg.onProgress?.(0, total);
  const onBytes = (n: number): void => {
    done += n;
    cfg.onProgress?.(Math.min(done, total), total);
  };

  /** The directory `parts` names, creating implied ones; ENOTDIR if a component is something else. */
  const dirAt = (parts: Buffer[], full: Buffer): TreeNode => {
    let d = root;
    for (const p of parts) {
      const k = nameKey(p);
      let c = d.children!.get(k);
      if (!c) {
        c = { name: p, node: newNode('dir') };
        d.children!.set(k, c);
      }
      if (c.node.kind !== 'dir')
        throw new ErofsError('ENOTDIR', `tar entry ${show(full)}: ${show(p)} is not a directory in the archive`);
      d = c.node;
    }
    return d;
  };

  const target: EntryTarget = { root, sink, cfg, tailInline, linkMissing: 'is not an earlier entry' };
  for await (const { entry: e, data } of readTar(tarChunks(path, onBytes))) {
    const where = `tar entry ${show(e.path)}`;
    const parts = splitRelPath(e.path, where);
    for (const p of parts) {
      if (p.subarray(0, WHITEOUT.length).equals(WHITEOUT)) {
        throw new ErofsError(
          'EUNSUPPORTED',
          `whiteout ${show(e.path)} not supported (an OCI layer's deletions need the layers merged first)`,
        );
      }
    }
    if (parts.length === 0) {
      if (e.type !== 'dir') throw new ErofsError('EINVAL', `${where}: the archive root is not a directory`);
      applyAttrs(root, e, cfg, where);
      continue;
    }
    await addTarEntry(target, dirAt(parts.slice(0, -1), e.path), parts[parts.length - 1], e, data, where);
  }
  cfg.onProgress?.(total, total);
  return root;
}
