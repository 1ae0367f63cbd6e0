// `ishare inspect IMG`: what is in an image — superblock, inode kinds, data layouts, fingerprints.
import { statSync } from 'node:fs';
import type { Command } from 'commander';
import { table } from '../table.ts';
import {
  availableAlgs,
  FEATURE_COMPAT_NAMES,
  FEATURE_INCOMPAT,
  FEATURE_INCOMPAT_NAMES,
  fullName,
  Z_ALG,
  Z_ALG_NAMES,
  type ErofsInode,
  type FileType,
  type Superblock,
} from '../core.ts';
import type { ErofsImage } from '../engine.ts';
import { imagePath, lookup, withImage } from '../image.ts';
import { subtree } from '../walk.ts';
import { humanBytes, layoutName, modeString, toHex } from '../format.ts';
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
  /**
   * The device table of a multi-device image (empty otherwise): each extra device's id, tag, size,
   * unified start block, and the file it was read from (null: the image itself holds it).
   */
  devices: { id: number; tag: string; blocks: number; uniaddr: number; path: string | null }[];
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
    const m = 2 ** b;
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
    if (seen.has(n.inode.nid)) {
      counts.hardlinks++;
      continue;
    }
    seen.add(n.inode.nid);
    const ino = n.inode;
    const layout = layoutOf(ino);
    layouts[layout] = (layouts[layout] ?? 0) + 1;
    if (ino.type === 'file') {
      counts.files++;
      dataBytes += ino.size;
      const fp = img.fingerprintResult(ino);
      if (fp.status === 'ok') {
        fingerprinted++;
        fingerprints.add(fp.hex);
      } else if (fp.status === 'bad') badFingerprints++;
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
      xattrPrefixes: img
        .longPrefixes()
        .map((p, id) => ({ id, baseIndex: p.baseIndex, name: fullName(p.baseIndex, p.infix) })),
      ishare: sb.hasFingerprints
        ? { prefixId: sb.ishareXattrPrefixId, fingerprintName: img.fingerprintName() ?? '' }
        : null,
      compression: compressionAlgorithms(sb, (layouts.COMPRESSED_FULL ?? 0) + (layouts.COMPRESSED_COMPACT ?? 0) > 0),
    },
    devices: img.devices.map((d) => ({
      id: d.id,
      tag: d.tag,
      blocks: d.blocks,
      uniaddr: d.uniaddr,
      path: img.devicePath(d.id) ?? null,
    })),
    counts,
    layouts,
    fingerprinted,
    distinctFingerprints: fingerprints.size,
    badFingerprints,
    dataBytes,
  };
}

function render(r: InspectReport): string {
  const sb = r.superblock;
  const t1 = table();
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
    {
      'ishare fingerprint': sb.ishare
        ? `${sb.ishare.fingerprintName} (prefix id ${sb.ishare.prefixId})`
        : '- (no ishare_xattrs)',
    },
    { compression: sb.compression.join(', ') || '-' },
  );
  const t2 = table(['files', 'dirs', 'symlinks', 'others', 'hard links', 'paths']);
  const c = r.counts;
  t2.push([c.files, c.dirs, c.symlinks, c.others, c.hardlinks, c.paths].map(String));
  const names = Object.keys(r.layouts).sort();
  const t3 = table(names);
  t3.push(names.map((n) => String(r.layouts[n])));
  const bad = r.badFingerprints > 0 ? `, malformed fingerprints (not shared): ${r.badFingerprints}` : '';
  const fp =
    `fingerprinted files: ${r.fingerprinted}, distinct fingerprints: ${r.distinctFingerprints}${bad}, ` +
    `file data: ${r.dataBytes} bytes (${humanBytes(r.dataBytes)})`;
  let devs = '';
  if (r.devices.length > 0) {
    const t4 = table(['device', 'tag', 'blocks', 'unified start', 'read from']);
    for (const d of r.devices)
      t4.push([String(d.id), d.tag || '-', String(d.blocks), String(d.uniaddr), d.path ?? '(the image itself)']);
    devs = `devices\n${t4.toString()}\n`;
  }
  return `${t1.toString()}\n${devs}inodes\n${t2.toString()}\nlayouts\n${t3.toString()}\n${fp}\n`;
}

/** One inode, as `dump.erofs --path P` shows it (with its extents, as `-e` adds). */
export interface InodeReport {
  path: string;
  nid: number;
  type: FileType;
  /** Full st_mode, and the permission bits as dump.erofs prints them (0644/rw-r--r--). */
  mode: number;
  access: string;
  size: number;
  nlink: number;
  uid: number;
  gid: number;
  /** Seconds and nanoseconds since the epoch; `time` is UTC, as dump.erofs prints it. */
  mtime: number;
  mtimeNsec: number;
  time: string;
  layout: number;
  layoutName: string;
  /** 32 (compact) or 64 (extended) bytes. */
  inodeSize: number;
  xattrSize: number;
  xattrs: Record<string, string>;
  fingerprint?: string;
  target?: string;
  /** Data extents: file offset and length → image offset (-1 for a hole). */
  extents: { kind: 'mapped' | 'hole' | 'inline'; logical: number; length: number; physical: number }[];
}

export function inspectPath(img: ErofsImage, path: string): InodeReport {
  const inode = img.resolve(path, { follow: false });
  const extents: InodeReport['extents'] = [];
  if (inode.type === 'file' || inode.type === 'dir' || inode.type === 'symlink') {
    for (let off = 0; off < inode.size;) {
      const m = img.mapBlocks(inode, off);
      if (m.length <= 0) break;
      // One row per mapping, as dump.erofs -e prints them (a chunk-based file: one per chunk).
      extents.push({ kind: m.kind, logical: m.logical, length: m.length, physical: m.physical });
      off = m.logical + m.length;
    }
  }
  const xattrs: Record<string, string> = {};
  for (const x of img.xattrs(inode)) xattrs[x.name] = toHex(x.value);
  const perm = inode.mode & 0o7777;
  const r: InodeReport = {
    path,
    nid: inode.nid,
    type: inode.type,
    mode: inode.mode,
    access: `${perm.toString(8).padStart(4, '0')}/${modeString(inode.type, inode.mode).slice(1)}`,
    size: inode.size,
    nlink: inode.nlink,
    uid: inode.uid,
    gid: inode.gid,
    mtime: inode.mtime,
    mtimeNsec: inode.mtimeNsec,
    time: `${new Date(inode.mtime * 1000).toISOString().slice(0, 19).replace('T', ' ')}.${String(inode.mtimeNsec).padStart(9, '0')}`,
    layout: inode.layout,
    layoutName: layoutName(inode.layout),
    inodeSize: inode.inodeSize,
    xattrSize: inode.xattrSize,
    xattrs,
    extents,
  };
  const fp = img.fingerprint(inode);
  if (fp !== undefined) r.fingerprint = fp;
  if (inode.type === 'symlink') r.target = img.readlink(inode);
  return r;
}

function renderInode(r: InodeReport): string {
  const t1 = table();
  t1.push(
    { path: r.path },
    { type: r.target !== undefined ? `${r.type} -> ${r.target}` : r.type },
    { nid: String(r.nid) },
    { size: `${r.size} (${humanBytes(r.size)})` },
    { links: String(r.nlink) },
    { layout: `${r.layout} (${r.layoutName})` },
    { 'inode size': `${r.inodeSize}, xattr size ${r.xattrSize}` },
    { 'uid / gid': `${r.uid} / ${r.gid}` },
    { access: r.access },
    { timestamp: `${r.time} UTC` },
    { fingerprint: r.fingerprint ?? '-' },
  );
  for (const [name, value] of Object.entries(r.xattrs)) t1.push({ [`xattr ${name}`]: value });
  let out = `${t1.toString()}\n`;
  if (r.extents.length > 0) {
    const t2 = table(['ext', 'logical offset', 'length', 'physical offset', 'kind']);
    r.extents.forEach((e, i) =>
      t2.push([
        String(i),
        `${e.logical}..${e.logical + e.length}`,
        String(e.length),
        e.physical < 0 ? '-' : `${e.physical}..${e.physical + e.length}`,
        e.kind,
      ]),
    );
    out += `${t2.toString()}\n${r.extents.length} extent${r.extents.length === 1 ? '' : 's'}\n`;
  }
  return out;
}

interface InspectOptions {
  json?: boolean;
  path?: string;
}

export async function runInspect(image: string, opts: InspectOptions): Promise<void> {
  if (opts.path !== undefined) {
    const path = imagePath(opts.path);
    const one = await withImage(image, (img) => {
      lookup(img, image, path, { follow: false }); // a path not in the image: one line naming both
      return inspectPath(img, path);
    });
    writeOut(opts.json ? `${JSON.stringify(one, null, 2)}\n` : renderInode(one));
    return;
  }
  const report = await withImage(image, (img) => inspectImage(img, image));
  writeOut(opts.json ? `${JSON.stringify(report, null, 2)}\n` : render(report));
}

export function register(program: Command): void {
  program
    .command('inspect')
    .summary('show the superblock and what an image contains')
    .description(
      'Show the superblock (block size, features, uuid, build time, root nid, inode and block counts, ' +
        'checksum), counts of files, directories and symlinks, data layouts, fingerprinted files and ' +
        'distinct fingerprints, and the total bytes of file data.',
    )
    .addHelpText('after', '\nExamples:\n  ishare inspect app.img\n  ishare inspect --path /etc/passwd --json app.img')
    .argument('<image>', 'EROFS image file')
    .option(
      '--path <path>',
      'show one inode instead: its fields, xattrs, fingerprint and data extents (like dump.erofs --path -e)',
    )
    .option('--json', 'print the report as one JSON object')
    .action(async (image: string, opts: InspectOptions) => runInspect(image, opts));
}
