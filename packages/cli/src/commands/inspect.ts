// `ishare inspect IMG`: what is in an image — superblock, inode kinds, data layouts, fingerprints.
import { statSync } from 'node:fs';
import type { Command } from 'commander';
import Table from 'cli-table3';
import { availableAlgs, FEATURE_COMPAT, FEATURE_COMPAT_NAMES, FEATURE_INCOMPAT, FEATURE_INCOMPAT_NAMES, fullName, Z_ALG, Z_ALG_NAMES, type ErofsInode, type Superblock } from '../core.ts';
import type { ErofsImage } from '../engine.ts';
import { withImage } from '../image.ts';
import { subtree } from '../walk.ts';
import { humanBytes, layoutName } from '../format.ts';
import { writeOut } from '../output.ts';

export interface InspectReport {
  image: string;
  imageBytes: number;
  superblock: {
    blockSize: number;
    featureCompat: string[];
    featureIncompat: string[];
    uuid: string;
    volumeName: string;
    /** ISO 8601, UTC: epoch + build_time (what dump.erofs prints as "created"). */
    buildTime: string;
    /** Base seconds of compact inodes' mtimes (s64). */
    epoch: number;
    /** Superblock size in bytes (128 + 16 per extension slot). */
    sbSize: number;
    /** available_compr_algs (compr_cfgs) or lz4_max_distance: the u16 they share. */
    lz4MaxDistance: number;
    rootNid: number;
    inodes: number;
    blocks: number;
    metaBlkaddr: number;
    xattrBlkaddr: number;
    checksum: string;
    /** true: SB_CHKSUM set and matched; false: no checksum in this image (a mismatch fails to open). */
    checksumVerified: boolean;
    /** The long xattr name prefix table: id, short-prefix index, full name as erofs-utils prints it. */
    xattrPrefixes: { id: number; baseIndex: number; name: string }[];
    /** ishare_xattr_prefix_id and the fingerprint xattr it names (COMPAT_ISHARE_XATTRS), or null. */
    ishare: { prefixId: number; fingerprintName: string } | null;
    /** Algorithms compressed files may use (lz4, lzma, deflate, zstd); empty without compression. */
    compression: string[];
  };
  /** Distinct inodes by kind (a hard-linked file counts once). */
  counts: { files: number; dirs: number; symlinks: number; others: number; hardlinks: number; paths: number };
  /** Distinct inodes by data layout name. */
  layouts: Record<string, number>;
  fingerprinted: number;
  distinctFingerprints: number;
  /** Files whose fingerprint xattr is malformed (wrong length or not "sha256:"): never shared. */
  badFingerprints: number;
  /** Sum of the sizes of distinct regular files. */
  dataBytes: number;
}

// Compat bits carry dump.erofs's names, so the two tools' lists read the same.
const COMPAT_NAMES = FEATURE_COMPAT_NAMES;

export function featureNames(bits: number, names: Record<number, string>): string[] {
  const out: string[] = [];
  for (let b = 0; b < 32; b++) {
    const m = (2 ** b);
    if ((bits & m) !== 0) out.push(names[m] ?? `unknown(0x${m.toString(16)})`);
  }
  return out;
}

function layoutOf(ino: ErofsInode): string {
  return layoutName(ino.layout);
}

/** Compression algorithms the image announces (none when nothing is compressed). */
function compressionAlgorithms(sb: Superblock, anyCompressed: boolean): string[] {
  if (!anyCompressed && !(sb.featureIncompat & FEATURE_INCOMPAT.COMPR_CFGS)) return [];
  const mask = availableAlgs(sb);
  return Z_ALG_NAMES.slice(0, Z_ALG.SHIFTED).filter((_, i) => mask & (1 << i));
}

export function inspectImage(img: ErofsImage, image: string): InspectReport {
  const sb: Superblock = img.sb;
  const counts = { files: 0, dirs: 1, symlinks: 0, others: 0, hardlinks: 0, paths: 1 };
  const layouts: Record<string, number> = {};
  const seen = new Set<number>();
  const fingerprints = new Set<string>();
  let fingerprinted = 0;
  let badFingerprints = 0;
  let dataBytes = 0;
  const root = img.root();
  seen.add(root.nid);
  layouts[layoutOf(root)] = 1;
  for (const n of subtree(img, '/', root)) {
    counts.paths++;
    if (seen.has(n.inode.nid)) { counts.hardlinks++; continue; }
    seen.add(n.inode.nid);
    const ino = n.inode;
    const layout = layoutOf(ino);
    layouts[layout] = (layouts[layout] ?? 0) + 1;
    if (ino.type === 'file') {
      counts.files++;
      dataBytes += ino.size;
      const fp = img.fingerprintResult(ino);
      if (fp.status === 'ok') { fingerprinted++; fingerprints.add(fp.hex); }
      else if (fp.status === 'bad') badFingerprints++;
    } else if (ino.type === 'dir') counts.dirs++;
    else if (ino.type === 'symlink') counts.symlinks++;
    else counts.others++;
  }
  return {
    image,
    imageBytes: statSync(image).size,
    superblock: {
      blockSize: sb.blockSize,
      featureCompat: featureNames(sb.featureCompat, COMPAT_NAMES),
      featureIncompat: featureNames(sb.featureIncompat, FEATURE_INCOMPAT_NAMES),
      uuid: sb.uuid,
      volumeName: sb.volumeName,
      buildTime: new Date((sb.epoch + sb.buildTime) * 1000 + Math.floor(sb.fixedNsec / 1e6)).toISOString(),
      epoch: sb.epoch,
      sbSize: sb.sbSize,
      lz4MaxDistance: sb.u1,
      rootNid: sb.rootNid,
      inodes: sb.inos,
      blocks: sb.blocks,
      metaBlkaddr: sb.metaBlkaddr,
      xattrBlkaddr: sb.xattrBlkaddr,
      checksum: `0x${(sb.checksum >>> 0).toString(16).padStart(8, '0')}`,
      checksumVerified: sb.checksumVerified,
      xattrPrefixes: img.longPrefixes().map((p, id) => ({ id, baseIndex: p.baseIndex, name: fullName(p.baseIndex, p.infix) })),
      ishare: sb.hasFingerprints ? { prefixId: sb.ishareXattrPrefixId, fingerprintName: img.fingerprintName() ?? '' } : null,
      compression: compressionAlgorithms(sb, (layouts.COMPRESSED_FULL ?? 0) + (layouts.COMPRESSED_COMPACT ?? 0) > 0),
    },
    counts,
    layouts,
    fingerprinted,
    distinctFingerprints: fingerprints.size,
    badFingerprints,
    dataBytes,
  };
}

// No rule between rows: a key/value list reads better without one.
const COMPACT = { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' };

function render(r: InspectReport): string {
  const sb = r.superblock;
  const t1 = new Table({ style: { head: [], border: [] }, chars: COMPACT });
  t1.push(
    { image: `${r.image} (${humanBytes(r.imageBytes)})` },
    { 'block size': String(sb.blockSize) },
    { blocks: `${sb.blocks} (${humanBytes(sb.blocks * sb.blockSize)})` },
    { 'compat features': sb.featureCompat.join(', ') || '-' },
    { 'incompat features': sb.featureIncompat.join(', ') || '-' },
    { uuid: sb.uuid },
    { 'volume name': sb.volumeName || '-' },
    { 'build time': sb.buildTime },
    { 'root nid': String(sb.rootNid) },
    { inodes: String(sb.inodes) },
    { 'meta / xattr blkaddr': `${sb.metaBlkaddr} / ${sb.xattrBlkaddr}` },
    { checksum: `${sb.checksum} ${sb.checksumVerified ? '(verified)' : '(not present)'}` },
    { 'xattr prefixes': sb.xattrPrefixes.map((p) => `${p.id}: ${p.name}`).join(', ') || '-' },
    { 'ishare fingerprint': sb.ishare ? `${sb.ishare.fingerprintName} (prefix id ${sb.ishare.prefixId})` : '- (no ishare_xattrs)' },
    { compression: sb.compression.join(', ') || '-' },
  );
  const t2 = new Table({ head: ['files', 'dirs', 'symlinks', 'others', 'hard links', 'paths'], style: { head: [], border: [] } });
  const c = r.counts;
  t2.push([c.files, c.dirs, c.symlinks, c.others, c.hardlinks, c.paths].map(String));
  const names = Object.keys(r.layouts).sort();
  const t3 = new Table({ head: names, style: { head: [], border: [] } });
  t3.push(names.map((n) => String(r.layouts[n])));
  const bad = r.badFingerprints > 0 ? `, malformed fingerprints (not shared): ${r.badFingerprints}` : '';
  const fp = `fingerprinted files: ${r.fingerprinted}, distinct fingerprints: ${r.distinctFingerprints}${bad}, `
    + `file data: ${r.dataBytes} bytes (${humanBytes(r.dataBytes)})`;
  return `${t1.toString()}\ninodes\n${t2.toString()}\nlayouts\n${t3.toString()}\n${fp}\n`;
}

interface InspectOptions { json?: boolean }

export async function runInspect(image: string, opts: InspectOptions): Promise<void> {
  const report = await withImage(image, (img) => inspectImage(img, image));
  writeOut(opts.json ? `${JSON.stringify(report, null, 2)}\n` : render(report));
}

export function register(program: Command): void {
  program
    .command('inspect')
    .summary('show the superblock and what an image contains')
    .description('Show the superblock (block size, features, uuid, build time, root nid, inode and block counts, '
      + 'checksum), counts of files, directories and symlinks, data layouts, fingerprinted files and '
      + 'distinct fingerprints, and the total bytes of file data.')
    .argument('<image>', 'EROFS image file')
    .option('--json', 'print the report as one JSON object')
    .action(async (image: string, opts: InspectOptions) => runInspect(image, opts));
}
