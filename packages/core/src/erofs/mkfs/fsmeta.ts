// The fsmeta image (containerd's fsmerge, as upstream's rebuild mode `mkfs.erofs --aufs fsmeta.erofs
// layer1.erofs ...` writes it): the merged metadata of an image's layer blobs — their trees stacked
// as overlayfs stacks them (whiteouts and opaque directories applied, their overlay xattrs dropped) —
// whose file data stays in the blobs: each blob is an extra device (tagged with its uuid, in layer
// order) and each file's chunk index names its layer's device and block. Mounted with the blobs as
// `device=`s, one superblock serves the whole container.
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { ErofsError } from '../errors.ts';
import { DATALAYOUT } from '../format.ts';
import { ErofsImage } from '../image.ts';
import type { ErofsInode } from '../types.ts';
import { uuidTag } from '../devices.ts';
import { buildImage, type MkfsReport } from './build.ts';
import { resolveOptions } from './options.ts';
import { nameKey, newNode, type TreeNode } from './tree.ts';

const OVERLAY_PREFIX = 'trusted.overlay.';

function isWhiteout(ino: ErofsInode): boolean {
  return ino.type === 'chardev' && ino.rdev === 0;
}

/** Attributes of a layer's inode onto a merged node (xattrs but the overlay's own and the fingerprint). */
function takeAttrs(node: TreeNode, img: ErofsImage, ino: ErofsInode): void {
  node.perm = ino.mode & 0o7777;
  node.uid = ino.uid;
  node.gid = ino.gid;
  node.mtime = { sec: ino.mtime, nsec: ino.mtimeNsec };
  const fp = img.fingerprintName();
  node.xattrs = new Map();
  for (const x of img.xattrs(ino)) {
    if (x.name.startsWith(OVERLAY_PREFIX) || x.name === fp) continue;
    node.xattrs.set(x.name, Buffer.from(x.value));
  }
}

/** Merge layer `img` (device `device`) into the merged directory `dst`. */
function applyDir(
  dst: TreeNode,
  img: ErofsImage,
  dir: ErofsInode,
  device: number,
  nodes: Map<number, TreeNode>,
  where: string,
): void {
  const opq = img.getXattr(dir, `${OVERLAY_PREFIX}opaque`);
  if (opq !== undefined && opq.length === 1 && opq[0] === 0x79) dst.children!.clear();
  takeAttrs(dst, img, dir);
  for (const e of img.readdir(dir)) {
    if (e.name === '.' || e.name === '..') continue;
    const ino = img.inode(e.nid);
    const key = nameKey(e.nameBytes);
    const name = Buffer.from(e.nameBytes);
    if (isWhiteout(ino)) {
      dst.children!.delete(key);
      continue;
    }
    if (ino.type === 'dir') {
      const have = dst.children!.get(key);
      const node = have?.node.kind === 'dir' ? have.node : newNode('dir');
      applyDir(node, img, ino, device, nodes, `${where}/${e.name}`);
      dst.children!.set(key, { name, node });
      continue;
    }
    let node = nodes.get(ino.nid); // a hard link within the layer: one inode
    if (!node) {
      node = leafNode(img, ino, device, `${where}/${e.name}`);
      nodes.set(ino.nid, node);
    }
    dst.children!.set(key, { name, node });
  }
}

function leafNode(img: ErofsImage, ino: ErofsInode, device: number, where: string): TreeNode {
  const node = newNode(ino.type);
  takeAttrs(node, img, ino);
  if (ino.type === 'symlink') node.target = Buffer.from(img.readlink(ino));
  else if (ino.type === 'chardev' || ino.type === 'blockdev') node.rdev = ino.rdev;
  else if (ino.type === 'file') {
    const bs = img.sb.blockSize;
    if (ino.size === 0) {
      node.data = { size: 0, blkaddr: 0, blocks: 0, tail: null };
    } else if (ino.compressed || (ino.layout !== DATALAYOUT.FLAT_PLAIN && ino.layout !== DATALAYOUT.FLAT_INLINE)) {
      throw new ErofsError(
        'EUNSUPPORTED',
        `${where}: data layout ${ino.layout} cannot be referenced from an fsmeta image`,
      );
    } else if (ino.layout === DATALAYOUT.FLAT_INLINE && ino.size % bs !== 0) {
      throw new ErofsError(
        'EUNSUPPORTED',
        `${where}: its tail is inline in the layer's metadata; fsmeta needs layers without inline data (mkfs --layers writes them so)`,
      );
    } else {
      node.data = { size: ino.size, blkaddr: ino.rawBlkaddr, blocks: Math.ceil(ino.size / bs), tail: null, device };
    }
    node.size = ino.size;
    const fp = img.fingerprintResult(ino);
    node.sha256 =
      fp.status === 'ok' ? Buffer.from(fp.hex, 'hex') : createHash('sha256').update(img.readFile(ino)).digest();
  }
  return node;
}

export interface FsmetaOptions {
  /** Image to write. */
  out: string;
  /** The layer blobs, bottom first: the devices, in table order. */
  layers: readonly string[];
  timestamp?: number;
  uuid?: string;
}

/** Write the fsmeta image of `layers` (see the module comment). */
export async function mkfsFsmeta(o: FsmetaOptions): Promise<MkfsReport> {
  if (o.layers.length === 0) throw new ErofsError('EINVAL', 'fsmeta: no layers');
  const root = newNode('dir');
  const devices: { tag: string; blocks: number }[] = [];
  let blockSize: number | undefined;
  for (const [i, path] of o.layers.entries()) {
    let img: ErofsImage;
    try {
      img = ErofsImage.open(path);
    } catch (e) {
      throw new ErofsError('EINVAL', `fsmeta: layer ${i + 1} ${path}: ${(e as Error).message}`);
    }
    try {
      const bs = img.sb.blockSize;
      if (blockSize !== undefined && bs !== blockSize)
        throw new ErofsError('EINVAL', `fsmeta: layer ${i + 1} ${path} has ${bs}-byte blocks, layer 1 ${blockSize}`);
      blockSize = bs;
      const size = statSync(path).size;
      if (size % bs !== 0) throw new ErofsError('ETRUNCATED', `fsmeta: layer ${i + 1} ${path} is not whole blocks`);
      devices.push({ tag: uuidTag(img.sb.uuid), blocks: size / bs });
      applyDir(root, img, img.root(), i + 1, new Map(), '');
    } finally {
      img.close();
    }
  }
  const cfg = resolveOptions({
    out: o.out,
    source: '(layers)',
    devices,
    blockSize,
    ...(o.timestamp !== undefined ? { timestamp: o.timestamp } : {}),
    ...(o.uuid !== undefined ? { uuid: o.uuid } : {}),
  });
  return await buildImage(cfg, () => Promise.resolve(root));
}
