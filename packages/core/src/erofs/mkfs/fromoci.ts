// Source: a container image (oci/ resolves which one and checks its blobs), flattened into one tree
// the way an overlay of its layers looks, as the EROFS snapshotters do.
//
// Two passes over the layers. The first reads only tar headers and applies each layer, once its
// digests check, to the merged tree: its whiteouts first (`.wh.NAME` hides NAME, `.wh..wh..opq`
// hides a directory's lower contents — they only ever address the layers below), then its entries in
// order (a directory merges with a lower directory, anything else replaces what was there; a hard
// link may name a file of a lower layer, as containerd's applier links to the copied-up file). The
// second pass streams into the image the data of just the files that survived, so a file deleted or
// replaced by a later layer takes no space.
import { ErofsError, isErofsError } from '../errors.ts';
import { readLayer } from '../../oci/layer.ts';
import type { ContainerImage, LayerRef } from '../../oci/resolve.ts';
import { streamFileData } from './data.ts';
import { applyAttrs, entryNode, WHITEOUT } from './fromtar.ts';
import type { MkfsConfig } from './options.ts';
import type { ImageSink } from './sink.ts';
import { readTar, type TarEntry } from './tarread.ts';
import { nameKey, newNode, show, splitRelPath, type DirChild, type TreeNode } from './tree.ts';

const OPAQUE = Buffer.from('.wh..wh..opq');
/** `.wh..wh.*` other than the opaque marker: aufs bookkeeping, skipped as docker skips it. */
const META = Buffer.from('.wh..wh.');

function hasPrefix(name: Buffer, prefix: Buffer): boolean {
  return name.length >= prefix.length && name.subarray(0, prefix.length).equals(prefix);
}

/** Run `fn` for one layer; any error gets one line naming the image and the layer. */
async function inLayer<T>(img: ContainerImage, layer: LayerRef, fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const where = `image ${img.name}: layer ${layer.number}/${img.layers.length} (${layer.label})`;
    if (isErofsError(e)) throw new ErofsError(e.code, `${where}: ${e.message}`);
    const err = e as NodeJS.ErrnoException;
    throw new ErofsError('EIO', `${where}: ${err.code ?? err.message}`);
  }
}

/** Applies one layer's entries to the merged tree. */
class LayerApplier {
  /** Entries this layer has put in place (a path through one of them must be a directory here). */
  private readonly added = new Set<DirChild>();

  constructor(
    private readonly root: TreeNode,
    private readonly cfg: MkfsConfig,
    private readonly onFile: (seq: number, node: TreeNode) => void,
  ) {}

  /** The directory `name` in `d`, created when missing or when a lower layer had a non-directory there. */
  private childDir(d: TreeNode, name: Buffer, where: string): TreeNode {
    const k = nameKey(name);
    const c = d.children!.get(k);
    if (c?.node.kind === 'dir') return c.node;
    if (c && this.added.has(c))
      throw new ErofsError('ENOTDIR', `${where}: ${show(name)} is not a directory in this layer`);
    const nc: DirChild = { name, node: newNode('dir') };
    d.children!.set(k, nc);
    this.added.add(nc);
    return nc.node;
  }

  private dirAt(parts: Buffer[], where: string): TreeNode {
    let d = this.root;
    for (const p of parts) d = this.childDir(d, p, where);
    return d;
  }

  private put(dir: TreeNode, name: Buffer, node: TreeNode): void {
    const c: DirChild = { name, node };
    dir.children!.set(nameKey(name), c);
    this.added.add(c);
  }

  apply(entries: readonly TarEntry[]): void {
    const parsed = entries.map((e) => {
      const where = `entry ${show(e.path)}`;
      const parts = splitRelPath(e.path, where);
      for (const p of parts.slice(0, -1)) {
        if (hasPrefix(p, WHITEOUT)) throw new ErofsError('ECORRUPT', `${where}: a whiteout name used as a directory`);
      }
      const last = parts[parts.length - 1];
      return { e, where, parts, wh: last !== undefined && hasPrefix(last, WHITEOUT) };
    });
    // Whiteouts address the layers below, wherever they stand in the tar: apply them first, opaque
    // markers outermost first so one never hides a directory another has just made.
    const whiteouts = parsed.filter((p) => p.wh);
    const opaque = whiteouts
      .filter((p) => p.parts[p.parts.length - 1].equals(OPAQUE))
      .sort((a, b) => a.parts.length - b.parts.length);
    for (const { parts, where } of opaque) {
      const dir = this.dirAt(parts.slice(0, -1), where);
      for (const [k, c] of dir.children!) if (!this.added.has(c)) dir.children!.delete(k);
    }
    for (const { parts, where } of whiteouts) {
      const name = parts[parts.length - 1];
      if (hasPrefix(name, META)) continue;
      const target = name.subarray(WHITEOUT.length);
      const t = target.toString('latin1');
      if (t === '' || t === '.' || t === '..')
        throw new ErofsError('EINVAL', `${where}: whiteout aims outside its directory`);
      const dir = this.dirAt(parts.slice(0, -1), where);
      const c = dir.children!.get(nameKey(target));
      if (c && !this.added.has(c)) dir.children!.delete(nameKey(target));
    }
    for (const [seq, { e, where, parts, wh }] of parsed.entries()) {
      if (wh) continue;
      if (parts.length === 0) {
        if (e.type !== 'dir') throw new ErofsError('EINVAL', `${where}: the layer's root is not a directory`);
        applyAttrs(this.root, e, this.cfg, where);
        continue;
      }
      const parent = this.dirAt(parts.slice(0, -1), where);
      const name = parts[parts.length - 1];
      if (e.type === 'link') {
        const tparts = splitRelPath(e.linkpath, `${where}: hard link target`);
        let t: TreeNode | undefined = this.root;
        for (const p of tparts) t = t?.children?.get(nameKey(p))?.node;
        if (!t || tparts.length === 0)
          throw new ErofsError(
            'ECORRUPT',
            `${where}: hard link target ${show(e.linkpath)} is neither in a lower layer nor earlier in this one`,
          );
        if (t.kind === 'dir') throw new ErofsError('ECORRUPT', `${where}: hard link to directory ${show(e.linkpath)}`);
        this.put(parent, name, t);
        continue;
      }
      if (e.type === 'dir') {
        const existing = parent.children!.get(nameKey(name));
        const node = existing?.node.kind === 'dir' ? existing.node : newNode('dir');
        applyAttrs(node, e, this.cfg, where);
        this.put(parent, name, node);
        continue;
      }
      const node = entryNode(e, this.cfg, where);
      if (e.type === 'file') this.onFile(seq, node);
      this.put(parent, name, node);
    }
  }
}

/** Every regular file reachable from the root. */
function reachableFiles(root: TreeNode): Set<TreeNode> {
  const out = new Set<TreeNode>();
  const stack = [root];
  while (stack.length > 0) {
    for (const c of stack.pop()!.children!.values()) {
      if (c.node.kind === 'dir') stack.push(c.node);
      else if (c.node.kind === 'file') out.add(c.node);
    }
  }
  return out;
}

async function* nothing(): AsyncGenerator<Buffer> {
  /* a file of 0 bytes */
}

/** Flatten `img` into a tree, streaming the surviving files' data into `sink`. */
export async function readContainerSource(
  img: ContainerImage,
  sink: ImageSink,
  cfg: MkfsConfig,
  tailInline: (node: TreeNode, tailLen: number) => boolean,
): Promise<TreeNode> {
  let total = 0;
  for (const l of img.layers) total += 2 * (img.store.size(l.member) ?? 0);
  let done = 0;
  const onBytes = (n: number): void => {
    done += n;
    cfg.onProgress?.(Math.min(done, total), total);
  };
  cfg.onProgress?.(0, total);

  const root = newNode('dir');
  /** Per layer: the tar entry (by position) that supplies each file node's data. */
  const sources = img.layers.map(() => new Map<number, TreeNode>());
  for (const [i, layer] of img.layers.entries()) {
    const entries: TarEntry[] = [];
    await inLayer(img, layer, () =>
      readLayer(
        img,
        layer,
        async (tar) => {
          for await (const { entry } of readTar(tar)) entries.push(entry);
        },
        onBytes,
      ),
    );
    await inLayer(img, layer, () =>
      new LayerApplier(root, cfg, (seq, node) => sources[i].set(seq, node)).apply(entries),
    );
  }

  const live = reachableFiles(root);
  for (const [i, layer] of img.layers.entries()) {
    const wanted = new Map<number, TreeNode>();
    for (const [seq, node] of sources[i]) {
      if (!live.has(node)) continue;
      if (node.size > 0) wanted.set(seq, node);
      else {
        const r = await streamFileData(sink, nothing(), 0, () => false, 'empty file');
        node.data = r.placement;
        node.sha256 = r.sha256;
      }
    }
    if (wanted.size === 0) continue;
    await inLayer(img, layer, () =>
      readLayer(
        img,
        layer,
        async (tar) => {
          let seq = 0;
          for await (const { entry, data } of readTar(tar)) {
            const node = wanted.get(seq++);
            if (!node) continue;
            const where = `entry ${show(entry.path)}`;
            if (entry.type !== 'file' || entry.size !== node.size)
              throw new ErofsError('EIO', `${where}: the layer changed between two reads`);
            const r = await streamFileData(sink, data, entry.size, (n) => tailInline(node, n), where);
            node.data = r.placement;
            node.sha256 = r.sha256;
          }
        },
        onBytes,
      ),
    );
  }
  for (const f of live) {
    if (!f.data)
      throw new ErofsError(
        'EIO',
        `image ${img.name}: a file's data was not found on the second read (the image changed while being read?)`,
      );
  }
  cfg.onProgress?.(total, total);
  return root;
}
