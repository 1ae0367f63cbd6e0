// mkfs: build an uncompressed EROFS image from a directory or a tar, with a sha256 fingerprint xattr
// on every regular file for inode page-cache sharing. The image is written to a temp file beside
// `out` and renamed into place only when complete; on any failure the temp file is removed.
import { realpathSync, statSync, type Stats } from 'node:fs';
import { basename, dirname, relative, resolve, isAbsolute } from 'node:path';
import { ErofsError, isErofsError } from '../errors.ts';
import { walkDirectory, writeDirectoryData } from './fromdir.ts';
import { readTarSource } from './fromtar.ts';
import { readContainerSource } from './fromoci.ts';
import { detectContainer } from '../../oci/store.ts';
import { resolveContainerImage } from '../../oci/resolve.ts';
import { firstFreeBlock, hasFingerprint, planImage, tailFitsInline, type ImagePlan } from './layout.ts';
import { resolveOptions, type MkfsConfig, type MkfsOptions } from './options.ts';
import { ImageSink } from './sink.ts';
import { collectNodes, type TreeNode } from './tree.ts';
import { writeImage } from './writer.ts';
import { manifestOfTree, writeManifest, type SourceManifest } from './manifest.ts';

export type { MkfsOptions, MkfsDevice } from './options.ts';
export { newNode, type TreeNode, type DataPlacement, type DirChild, type NodeKind } from './tree.ts';
export { uuidTag } from '../devices.ts';
export { readManifest, writeManifest, MANIFEST_FORMAT } from './manifest.ts';
export type { SourceManifest, ManifestEntry } from './manifest.ts';
export { DEFAULT_FINGERPRINT_XATTR } from '../format.ts';

export interface MkfsReport {
  inodes: number;
  files: number;
  dirs: number;
  symlinks: number;
  /** Devices, fifos and sockets. */
  others: number;
  /** Directory entries beyond the first that name an already counted non-directory inode. */
  hardlinks: number;
  /** Non-empty regular files given a fingerprint xattr. */
  fingerprinted: number;
  blocks: number;
  bytes: number;
  blockSize: number;
  /** Every regular file's path, size and sha256 as read from the source (see manifest.ts). */
  manifest: SourceManifest;
  /** Set when the source was a container image. */
  container?: ContainerReport;
}

export interface ContainerReport {
  /** The input, with the picked reference or tag. */
  name: string;
  format: 'oci-layout' | 'oci-archive' | 'docker-archive';
  /** The manifest digest (for a legacy docker archive, which has none: "docker-config:" + the config digest). */
  key: string;
  platform: string | undefined;
  layers: number;
}

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

function report(plan: ImagePlan, cfg: MkfsConfig, manifest: SourceManifest): MkfsReport {
  const r: MkfsReport = {
    manifest,
    inodes: plan.inodes.length,
    files: 0,
    dirs: 0,
    symlinks: 0,
    others: 0,
    hardlinks: 0,
    fingerprinted: 0,
    blocks: plan.blocks,
    bytes: plan.blocks * plan.blockSize,
    blockSize: plan.blockSize,
  };
  for (const p of plan.inodes) {
    const k = p.node.kind;
    if (k === 'file') r.files++;
    else if (k === 'dir') r.dirs++;
    else if (k === 'symlink') r.symlinks++;
    else r.others++;
    if (k !== 'dir' && p.nlink > 1) r.hardlinks += p.nlink - 1;
    if (hasFingerprint(p.node, cfg)) r.fingerprinted++;
  }
  return r;
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
  const tailInline = (node: TreeNode, n: number): boolean => tailFitsInline(node, n, cfg);
  let sink: ImageSink | undefined;
  try {
    sink = await ImageSink.create(resolve(cfg.out), cfg.blockSize, firstFreeBlock(cfg) * cfg.blockSize);
    let root: TreeNode;
    if (container) {
      root = await readContainerSource(container, sink, cfg, tailInline);
    } else if (src.kind === 'dir') {
      root = await walkDirectory(src.source, cfg);
      await writeDirectoryData(root, sink, tailInline, cfg.onProgress);
    } else {
      root = await readTarSource(src.source, sink, cfg, src.size, tailInline);
    }
    await sink.flush();
    const plan = planImage(root, cfg, sink.block);
    await writeImage(plan, cfg, sink);
    const manifest = manifestOfTree(root);
    await sink.commit(resolve(cfg.out), plan.blocks * cfg.blockSize);
    if (opts.manifest !== undefined) writeManifest(opts.manifest, manifest);
    const r = report(plan, cfg, manifest);
    if (container)
      r.container = {
        name: container.name,
        format: container.format,
        key: container.key,
        platform: container.platform,
        layers: container.layers.length,
      };
    return r;
  } catch (e) {
    await sink?.abort();
    if (isErofsError(e)) throw e;
    const err = e as NodeJS.ErrnoException;
    throw new ErofsError('EIO', `mkfs ${cfg.out}: ${err.code ?? err.message}`);
  }
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
  let sink: ImageSink | undefined;
  try {
    sink = await ImageSink.create(resolve(cfg.out), cfg.blockSize, firstFreeBlock(cfg) * cfg.blockSize);
    await sink.flush();
    const plan = planImage(root, cfg, sink.block);
    await writeImage(plan, cfg, sink);
    const manifest = manifestOfTree(root);
    await sink.commit(resolve(cfg.out), plan.blocks * cfg.blockSize);
    if (opts.manifest !== undefined) writeManifest(opts.manifest, manifest);
    return report(plan, cfg, manifest);
  } catch (e) {
    await sink?.abort();
    if (isErofsError(e)) throw e;
    const err = e as NodeJS.ErrnoException;
    throw new ErofsError('EIO', `mkfs ${cfg.out}: ${err.code ?? err.message}`);
  }
}
