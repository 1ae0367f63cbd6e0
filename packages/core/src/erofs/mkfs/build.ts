// The end of every mkfs: stream the source into a temp image, lay out and write the metadata, rename
// it into place — or remove it on any failure. index.ts (one image) and layers.ts (one per layer) share it.
import { resolve } from 'node:path';
import { ErofsError, isErofsError } from '../errors.ts';
import type { ContainerImage } from '../../oci/resolve.ts';
import { firstFreeBlock, hasFingerprint, planImage, tailFitsInline, type ImagePlan } from './layout.ts';
import type { MkfsConfig } from './options.ts';
import { ImageSink } from './sink.ts';
import type { TreeNode } from './tree.ts';
import { writeImage } from './writer.ts';
import { manifestOfTree, type SourceManifest } from './manifest.ts';

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

export function containerReport(c: ContainerImage): ContainerReport {
  return { name: c.name, format: c.format, key: c.key, platform: c.platform, layers: c.layers.length };
}

/**
 * Write `cfg.out` from the tree `readRoot` makes (streaming file data into the sink as it reads): the
 * image appears complete under its name or not at all.
 */
export async function buildImage(
  cfg: MkfsConfig,
  readRoot: (sink: ImageSink, tailInline: (node: TreeNode, n: number) => boolean) => Promise<TreeNode>,
): Promise<MkfsReport> {
  const tailInline = (node: TreeNode, n: number): boolean => tailFitsInline(node, n, cfg);
  let sink: ImageSink | undefined;
  try {
    sink = await ImageSink.create(resolve(cfg.out), cfg.blockSize, firstFreeBlock(cfg) * cfg.blockSize);
    const root = await readRoot(sink, tailInline);
    await sink.flush();
    const plan = planImage(root, cfg, sink.block);
    await writeImage(plan, cfg, sink);
    const manifest = manifestOfTree(root);
    await sink.commit(resolve(cfg.out), plan.blocks * cfg.blockSize);
    return report(plan, cfg, manifest);
  } catch (e) {
    await sink?.abort();
    if (isErofsError(e)) throw e;
    const err = e as NodeJS.ErrnoException;
    throw new ErofsError('EIO', `mkfs ${cfg.out}: ${err.code ?? err.message}`);
  }
}
