// Source: one layer of a container image, on its own, as containerd's EROFS differ converts it
// (`mkfs.erofs --tar=f --aufs`): the layer's entries as they are, with its OCI (aufs-style) whiteouts
// turned into overlayfs's form — `.wh.NAME` becomes a character device 0:0 called NAME, and
// `.wh..wh..opq` the xattr `trusted.overlay.opaque=y` on its directory. Nothing of the layers below is
// known here: an overlay of the layer images (fs/overlay/) applies them when paths are looked up.
import { ErofsError } from '../errors.ts';
import { readLayer } from '../../oci/layer.ts';
import type { ContainerImage, LayerRef } from '../../oci/resolve.ts';
import { addTarEntry, applyAttrs, WHITEOUT, type EntryTarget } from './fromtar.ts';
import type { MkfsConfig } from './options.ts';
import type { ImageSink } from './sink.ts';
import { readTar } from './tarread.ts';
import { nameKey, newNode, show, splitRelPath, type TreeNode } from './tree.ts';

/** overlayfs's opaque-directory xattr and the value it sets. */
export const OVERLAY_OPAQUE_XATTR = 'trusted.overlay.opaque';
export const OVERLAY_OPAQUE_VALUE = Buffer.from('y');
/**
 * Set (empty) on a directory holding whiteouts, as mkfs.erofs --aufs sets it: overlayfs then never
 * iterates such a directory directly, so its whiteouts stay hidden (kernel b79e05aaa166).
 */
export const OVERLAY_ORIGIN_XATTR = 'trusted.overlay.origin';
const OPAQUE = Buffer.from('.wh..wh..opq');
/** `.wh..wh.*` other than the opaque marker: aufs bookkeeping (hard-link dirs), dropped as --aufs drops it. */
const META = Buffer.from('.wh..wh.');

function hasPrefix(name: Buffer, prefix: Buffer): boolean {
  return name.length >= prefix.length && name.subarray(0, prefix.length).equals(prefix);
}

/** Read `layer` of `img` into a tree in overlayfs form, streaming its files' data into `sink`. */
export async function readLayerSource(
  img: ContainerImage,
  layer: LayerRef,
  sink: ImageSink,
  cfg: MkfsConfig,
  tailInline: (node: TreeNode, tailLen: number) => boolean,
): Promise<TreeNode> {
  const root = newNode('dir');
  const total = img.store.size(layer.member) ?? 0;
  let done = 0;
  cfg.onProgress?.(0, total);
  const dirAt = (parts: Buffer[], where: string): TreeNode => {
    let d = root;
    for (const p of parts) {
      if (hasPrefix(p, WHITEOUT)) throw new ErofsError('ECORRUPT', `${where}: a whiteout name used as a directory`);
      const k = nameKey(p);
      let c = d.children!.get(k);
      if (!c) {
        c = { name: p, node: newNode('dir') };
        d.children!.set(k, c);
      }
      if (c.node.kind !== 'dir')
        throw new ErofsError('ENOTDIR', `${where}: ${show(p)} is not a directory in this layer`);
      d = c.node;
    }
    return d;
  };
  const target: EntryTarget = {
    root,
    sink,
    cfg,
    tailInline,
    linkMissing: 'is not earlier in this layer (a layer image holds only its own files)',
    // Markers may come before their directory's own entry: keep them.
    keepDirXattrs: [OVERLAY_OPAQUE_XATTR, OVERLAY_ORIGIN_XATTR],
  };
  await readLayer(
    img,
    layer,
    async (tar) => {
      for await (const { entry: e, data } of readTar(tar)) {
        const where = `entry ${show(e.path)}`;
        const parts = splitRelPath(e.path, where);
        if (parts.length === 0) {
          if (e.type !== 'dir') throw new ErofsError('EINVAL', `${where}: the layer's root is not a directory`);
          applyAttrs(root, e, cfg, where);
          continue;
        }
        const parent = dirAt(parts.slice(0, -1), where);
        const name = parts[parts.length - 1];
        if (name.equals(OPAQUE)) {
          parent.xattrs.set(OVERLAY_OPAQUE_XATTR, OVERLAY_OPAQUE_VALUE);
          continue;
        }
        if (hasPrefix(name, META)) continue;
        if (hasPrefix(name, WHITEOUT)) {
          const target = name.subarray(WHITEOUT.length);
          const t = target.toString('latin1');
          if (t === '' || t === '.' || t === '..' || t.includes('/'))
            throw new ErofsError('EINVAL', `${where}: whiteout aims outside its directory`);
          // overlayfs's whiteout: a character device 0:0 in the name's place.
          const wh = newNode('chardev', { perm: 0, uid: e.uid, gid: e.gid, mtime: e.mtime, rdev: 0 });
          parent.children!.set(nameKey(target), { name: Buffer.from(target), node: wh });
          parent.xattrs.set(OVERLAY_ORIGIN_XATTR, Buffer.alloc(0));
          continue;
        }
        await addTarEntry(target, parent, name, e, data, where);
      }
    },
    (n) => {
      done += n;
      cfg.onProgress?.(Math.min(done, total), total);
    },
  );
  cfg.onProgress?.(total, total);
  return root;
}
