// `ishare mkfs OUT.img SOURCE`: build an EROFS image (with content fingerprints by default).
import { statSync } from 'node:fs';
import { basename } from 'node:path';
import type { Command } from 'commander';
import type { MkfsOptions, MkfsReport, MkfsLayersOptions, MkfsLayersReport } from '../writer.ts';
import { fileError, namingInput, UsageError } from '../errors.ts';
import { parseBlockSize, parsePlatform, parseTimestamp, parseUuid, parseDigestNameOption } from '../options.ts';
import { humanBytes } from '../format.ts';
import { writeOut } from '../output.ts';
import { checkOutputFile } from '../output-files.ts';
import { progressBar } from '../progress.ts';

interface MkfsCliOptions {
  platform?: string;
  blockSize?: number;
  fingerprint: boolean;
  xattrInodeDigest?: string;
  xattrs: boolean;
  inline: boolean;
  timestamp?: number;
  uuid?: string;
  manifest?: string;
  layers?: boolean;
  json?: boolean;
}

const TAR = /\.(tar|tar\.gz|tgz)$/i;

async function checkSource(source: string): Promise<void> {
  let st;
  try {
    st = statSync(source);
  } catch (e) {
    throw fileError(source, e);
  }
  if (st.isDirectory() || (st.isFile() && TAR.test(source))) return;
  // A container image archive need not be called .tar (skopeo's oci-archive, podman's -o NAME).
  const { detectContainer } = await import('@ishare/core/format');
  if (st.isFile() && (await detectContainer(source))) return;
  throw new UsageError(`${source}: not a directory, a .tar/.tar.gz/.tgz archive or a container image`);
}

export function summary(out: string, r: MkfsReport): string {
  const c = r.container;
  const from = c
    ? `flattened ${c.layers} layers of ${c.name} (${c.format}, ${c.platform ?? 'platform not stated'}, ${c.key})\n`
    : '';
  return (
    `${from}${out}: ${r.inodes} inodes (${r.files} files, ${r.dirs} dirs, ${r.symlinks} symlinks, ${r.others} others), ` +
    `${r.hardlinks} hard links, ${r.fingerprinted} fingerprinted\n` +
    `${r.blocks} blocks of ${r.blockSize} bytes, ${r.bytes} bytes (${humanBytes(r.bytes)})\n`
  );
}

export function layersSummary(outDir: string, r: MkfsLayersReport): string {
  const c = r.container;
  const lines = [
    `${c.layers} layers of ${c.name} (${c.format}, ${c.platform ?? 'platform not stated'}, ${c.key}) in ${outDir}:`,
  ];
  for (const l of r.layers)
    lines.push(`  ${l.number}  ${basename(l.file)}  ${humanBytes(l.bytes)}${l.built ? '' : '  (reused)'}`);
  lines.push(`  fsmeta  ${basename(r.fsmeta)}  (the layers are its devices, in this order)`);
  return `${lines.join('\n')}\n`;
}

/** `mkfs --layers OUTDIR IMAGE`: one blob per layer, as containerd's EROFS snapshotter keeps them. */
async function runMkfsLayers(outDir: string, source: string, o: MkfsCliOptions): Promise<void> {
  if (o.manifest !== undefined) throw new UsageError('--manifest: not with --layers (each layer is its own image)');
  let st;
  try {
    st = statSync(source);
  } catch (e) {
    throw fileError(source, e);
  }
  const { detectContainer } = await import('@ishare/core/format');
  if (!(st.isDirectory() || st.isFile()) || !(await detectContainer(source)))
    throw new UsageError(`${source}: --layers needs a container image (OCI layout or archive, docker save archive)`);
  const out = statSync(outDir, { throwIfNoEntry: false });
  if (out && !out.isDirectory()) throw new UsageError(`${outDir}: --layers writes into a directory; this is a file`);
  const { mkfsLayers } = await import('../writer.ts');
  const opts: MkfsLayersOptions = { outDir, source, fingerprint: o.fingerprint, xattrs: o.xattrs };
  if (o.blockSize !== undefined) opts.blockSize = o.blockSize;
  if (o.xattrInodeDigest !== undefined) opts.xattrInodeDigest = o.xattrInodeDigest;
  if (o.timestamp !== undefined) opts.timestamp = o.timestamp;
  if (o.uuid !== undefined) opts.uuid = o.uuid;
  if (o.platform !== undefined) opts.platform = o.platform;
  const bar = progressBar(!o.json, 'mkfs --layers', 'bytes');
  opts.onProgress = bar.update;
  let report: MkfsLayersReport;
  try {
    report = await mkfsLayers(opts);
  } catch (e) {
    throw namingInput(source, e);
  } finally {
    bar.stop();
  }
  writeOut(o.json ? `${JSON.stringify({ outDir, ...report }, null, 2)}\n` : layersSummary(outDir, report));
}

export async function runMkfs(out: string, source: string, o: MkfsCliOptions): Promise<void> {
  if (o.layers) return runMkfsLayers(out, source, o);
  await checkSource(source);
  checkOutputFile(out);
  const { mkfs } = await import('../writer.ts');
  const opts: MkfsOptions = { out, source, fingerprint: o.fingerprint, xattrs: o.xattrs, inline: o.inline };
  if (o.blockSize !== undefined) opts.blockSize = o.blockSize;
  if (o.xattrInodeDigest !== undefined) opts.xattrInodeDigest = o.xattrInodeDigest;
  if (o.timestamp !== undefined) opts.timestamp = o.timestamp;
  if (o.uuid !== undefined) opts.uuid = o.uuid;
  if (o.platform !== undefined) opts.platform = o.platform;
  if (o.manifest !== undefined) opts.manifest = o.manifest;
  // A bar only for a person watching: never in JSON mode, never into a pipe or a log file. The writer
  // reports bytes of source processed (for a tar: bytes of the tar file).
  const bar = progressBar(!o.json, 'mkfs', 'bytes');
  opts.onProgress = bar.update;
  let report: MkfsReport;
  try {
    report = await mkfs(opts);
  } catch (e) {
    throw namingInput(source, e);
  } finally {
    bar.stop();
  }
  // The manifest goes to its own file (--manifest); thousands of entries would drown the report.
  const { manifest: _manifest, ...shown } = report;
  writeOut(
    o.json
      ? `${JSON.stringify({ image: out, ...shown, ...(o.manifest !== undefined ? { manifest: o.manifest } : {}) }, null, 2)}\n`
      : summary(out, report),
  );
}

export function register(program: Command): void {
  program
    .command('mkfs')
    .summary('build an EROFS image from a directory, a tar archive or a container image')
    .description(
      'Build the EROFS image OUT from SOURCE: a directory, a .tar/.tar.gz/.tgz archive, or a container image — ' +
        'an OCI image layout directory, an OCI archive, or a `docker save` / `podman save` archive, whose layers are ' +
        'flattened into one tree (whiteouts applied, every blob checked against its digest).\n\n' +
        'Every non-empty regular file gets a content-fingerprint xattr unless --no-fingerprint: ' +
        "that is what inode page-cache sharing keys on. The format is upstream's (mkfs.erofs --xattr-inode-digest): " +
        "a long xattr name prefix (default erofs.fingerprint.v1, hidden from listxattr) named by the superblock's " +
        'ishare_xattr_prefix_id, value "sha256:" + the 32-byte digest of the file\'s data.',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  ishare mkfs app.img ./rootfs\n  docker save -o redis.tar redis:7.2.4 && ishare mkfs redis.img redis.tar\n  ishare mkfs --platform linux/arm64 app.img ./oci-layout-dir\n  ishare mkfs --layers ./layers redis.tar\n  ishare mkfs --timestamp 0 --uuid 00000000-0000-4000-8000-000000000000 \\\n      app.img rootfs.tar.gz',
    )
    .argument('<out>', 'image file to write')
    .argument('<source>', 'directory, tar archive or container image')
    .option('--block-size <bytes>', 'block size: 512, 1024, 2048 or 4096 (default 4096)', parseBlockSize)
    .option('--no-fingerprint', 'do not write content-fingerprint xattrs')
    .option(
      '--xattr-inode-digest <name>',
      'name of the fingerprint xattr, as mkfs.erofs --xattr-inode-digest[=NAME] takes it (default erofs.fingerprint.v1; e.g. --xattr-inode-digest=trusted.fp; a bare --xattr-inode-digest means the default)',
      parseDigestNameOption,
    )
    .option('--no-xattrs', 'do not copy extended attributes from SOURCE')
    .option('--no-inline', 'never inline file tails into the inode (FLAT_PLAIN only)')
    .option(
      '--timestamp <t>',
      'build time and fixed mtime (epoch seconds or ISO date), for reproducible images',
      parseTimestamp,
    )
    .option('--uuid <uuid>', 'filesystem UUID (default: random)', parseUuid)
    .option(
      '--platform <os/arch>',
      'container image inputs: which image of a multi-platform index (os/arch[/variant])',
      parsePlatform,
    )
    .option(
      '--manifest <file>',
      'also write the source manifest: path, size and sha256 of every regular file, as read from SOURCE (the stress oracle)',
    )
    .option(
      '--layers',
      "OUT is a directory: write one EROFS blob per layer of the container image SOURCE, as containerd's EROFS snapshotter does (whiteouts kept in overlayfs form), named by the layer's diff_id so images sharing a layer share the blob",
    )
    .option('--json', 'print the report as JSON')
    .action(async (out: string, source: string, opts: MkfsCliOptions) => runMkfs(out, source, opts));
}
