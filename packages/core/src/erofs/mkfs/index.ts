// mkfs: build an uncompressed EROFS image from a directory or a tar, with a sha256 fingerprint xattr
// on every regular file for inode page-cache sharing. The image is written to a temp file beside
// `out` and renamed into place only when complete; on any failure the temp file is removed.
import { realpathSync, statSync, type Stats } from 'node:fs';
import { basename, dirname, relative, resolve, isAbsolute } from 'node:path';
import { ErofsError } from '../errors.ts';
import { walkDirectory, writeDirectoryData } from './fromdir.ts';
import { readTarSource } from './fromtar.ts';
import { readContainerSource } from './fromoci.ts';
import { detectContainer } from '../../oci/store.ts';
import { resolveContainerImage } from '../../oci/resolve.ts';
import { resolveOptions, type MkfsConfig, type MkfsOptions } from './options.ts';
import { writeManifest } from './manifest.ts';
import { buildImage, containerReport, type MkfsReport } from './build.ts';
import { collectNodes, type TreeNode } from './tree.ts';

export type { MkfsOptions, MkfsDevice } from './options.ts';
export type { MkfsReport, ContainerReport } from './build.ts';
export { mkfsLayers, layerBlobName } from './layers.ts';
export type { MkfsLayersOptions, MkfsLayersReport, LayerBlobReport } from './layers.ts';
export { newNode, type TreeNode, type DataPlacement, type DirChild, type NodeKind } from './tree.ts';
export { uuidTag } from '../devices.ts';
export { readManifest, writeManifest, MANIFEST_FORMAT } from './manifest.ts';
export type { SourceManifest, ManifestEntry } from './manifest.ts';
export { DEFAULT_FINGERPRINT_XATTR } from '../format.ts';

function isInside(child: string, parent: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/** Where `p` really is, following symlinks of the part that exists. */
function realish(p: string): string {
  const abs = resolve(p);
  try {
    return realpathSync(abs);
  } catch {
    const dir = dirname(abs);
    return dir === abs ? abs : resolve(realish(dir), basename(abs));
  }
}

function checkPaths(cfg: MkfsConfig): { kind: 'dir' | 'tar'; source: string; size: number } {
  let st: Stats;
  try {
    st = statSync(cfg.source);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new ErofsError('ENOENT', `source ${cfg.source} does not exist`);
    throw new ErofsError('EIO', `cannot stat source ${cfg.source}: ${code ?? (e as Error).message}`);
  }
  if (!st.isDirectory() && !st.isFile())
    throw new ErofsError('EINVAL', `source ${cfg.source} is neither a directory nor a tar file`);
  const source = realpathSync(cfg.source);
  const out = realish(cfg.out);
  if (out === source) throw new ErofsError('EINVAL', `output ${cfg.out} is the source itself`);
  if (st.isDirectory() && isInside(out, source)) {
    throw new ErofsError(
      'EINVAL',
      `output ${cfg.out} is inside the source directory ${cfg.source}; write it elsewhere`,
    );
  }
  let outSt: Stats | undefined;
  try {
    outSt = statSync(cfg.out);
  } catch {
    outSt = undefined;
  }
  if (outSt?.isDirectory()) throw new ErofsError('EINVAL', `output ${cfg.out} is a directory`);
  try {
    if (!statSync(dirname(resolve(cfg.out))).isDirectory()) throw new Error('ENOTDIR');
  } catch {
    throw new ErofsError('ENOENT', `output directory ${dirname(resolve(cfg.out))} does not exist`);
  }
  return { kind: st.isDirectory() ? 'dir' : 'tar', source, size: st.size };
}

export async function mkfs(opts: MkfsOptions): Promise<MkfsReport> {
  const cfg = resolveOptions(opts);
  const src = checkPaths(cfg);
  const format = await detectContainer(src.source);
  if (!format && cfg.platform !== undefined)
    throw new ErofsError('EINVAL', `a platform was given but ${cfg.source} is not a container image`);
  const container = format
    ? await resolveContainerImage(cfg.source, cfg.platform !== undefined ? { platform: cfg.platform } : {})
    : undefined;
  const r = await buildImage(cfg, async (sink, tailInline) => {
    if (container) return await readContainerSource(container, sink, cfg, tailInline);
    if (src.kind === 'dir') {
      const root = await walkDirectory(src.source, cfg);
      await writeDirectoryData(root, sink, tailInline, cfg.onProgress);
      return root;
    }
    return await readTarSource(src.source, sink, cfg, src.size, tailInline);
  });
  if (opts.manifest !== undefined) writeManifest(opts.manifest, r.manifest);
  if (container) r.container = containerReport(container);
  return r;
}

/**
 * Write an image from a tree the caller built (newNode), for images whose file data lives on extra
 * devices: `opts.devices` is the device table, and every non-empty regular file's `data` names its
 * device and start block there (DataPlacement.device, blkaddr), its `sha256` its content hash (the
 * fingerprint). Empty files take `{ size: 0, blkaddr: 0, blocks: 0, tail: null }`. `opts.source` is
 * not read. The image is written as mkfs writes any image: through a temp file renamed at the end.
 */
export async function mkfsFromTree(root: TreeNode, opts: Omit<MkfsOptions, 'source'>): Promise<MkfsReport> {
  const cfg = resolveOptions({ ...opts, source: '(tree)' });
  if (root.kind !== 'dir') throw new ErofsError('EINVAL', 'mkfsFromTree: the root must be a directory');
  for (const n of collectNodes(root)) {
    if (n.kind !== 'file') continue;
    const d = n.data;
    if (d === undefined || (d.size > 0 && !(d.device !== undefined && d.device > 0)))
      throw new ErofsError('EINVAL', 'mkfsFromTree: every non-empty file must name its device (DataPlacement.device)');
    if (n.sha256 === undefined) throw new ErofsError('EINVAL', 'mkfsFromTree: every file needs its sha256');
    n.size = d.size;
  }
  const r = await buildImage(cfg, () => Promise.resolve(root));
  if (opts.manifest !== undefined) writeManifest(opts.manifest, r.manifest);
  return r;
}
