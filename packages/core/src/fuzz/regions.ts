// Where the structures of a valid image live, found with the reader itself: the superblock, every
// inode's on-disk record, xattr bodies and shared xattr entries, directory blocks and each dirent,
// chunk tables, inline tails and data extents. The mutators aim at these regions (a random byte of a
// 100 KiB image is almost always file data, which exercises nothing), and the checker uses a file's
// dependency ranges to decide which files a mutation cannot have touched.
import { ErofsImage } from '../erofs/image.ts';
import { chunkTablePosition } from '../erofs/data.ts';
import { chunkEntrySize, chunkSize } from '../erofs/inode.ts';
import { u16, u32, u8 } from '../erofs/source.ts';
import {
  CHUNK_INDEX_SIZE,
  CI,
  DE,
  DIRENT_SIZE,
  EROFS_SUPER_OFFSET,
  EROFS_SUPER_SIZE,
  FEATURE_COMPAT,
  FEATURE_INCOMPAT,
  IC,
  IE,
  SB,
  XATTR_ENTRY_SIZE,
  XATTR_IBODY_HEADER_SIZE,
  XATTR_LONG_PREFIX_FLAG,
  XE,
  XH,
  DATALAYOUT,
  ZMH,
} from '../erofs/format.ts';
import { newZMapOut, ZF_FRAGMENT, type ZMapOut } from '../erofs/zmap.ts';
import type { ErofsInode, FileType } from '../erofs/types.ts';

export type RegionKind =
  | 'superblock'
  | 'inode'
  | 'xattr-ibody'
  | 'shared-xattr'
  | 'prefix-table'
  | 'dir-block'
  | 'chunk-table'
  | 'inline-tail'
  | 'data'
  | 'z-index'
  | 'z-pcluster';

export const REGION_KINDS: readonly RegionKind[] = [
  'superblock',
  'inode',
  'xattr-ibody',
  'shared-xattr',
  'prefix-table',
  'dir-block',
  'chunk-table',
  'inline-tail',
  'data',
  'z-index',
  'z-pcluster',
];

/** A known on-disk field: absolute byte offset and width. */
export interface Field {
  readonly at: number;
  readonly width: 1 | 2 | 4 | 8;
  readonly name: string;
}

export interface Region {
  readonly kind: RegionKind;
  readonly start: number;
  readonly end: number; // exclusive
  /** What it is, for the mutation log: "inode nid 38 /sizes/f100". */
  readonly label: string;
  readonly fields: readonly Field[];
}

/** One on-disk dirent. */
export interface DirentLoc {
  readonly at: number; // byte position of the 12-byte record
  readonly dirNid: number;
  readonly blockStart: number;
  readonly index: number; // within its block
  readonly count: number; // dirents in its block
}

export interface InodeLoc {
  readonly nid: number;
  readonly type: FileType;
  readonly path: string;
  readonly parentNid: number;
  readonly iloc: number;
  readonly compact: boolean;
  readonly layout: number;
  readonly chunkFormat: number;
  readonly size: number;
}

/** One fingerprint xattr entry: its 4-byte header at `at`, the value at `valueAt`. */
export interface FingerprintLoc {
  readonly at: number;
  readonly valueAt: number;
  readonly valueSize: number;
  readonly label: string;
}

export interface ImageMap {
  readonly size: number;
  readonly blockSize: number;
  readonly metaBase: number; // byte position of nid 0
  readonly rootNid: number;
  readonly hasChecksum: boolean;
  readonly regions: readonly Region[];
  readonly dirents: readonly DirentLoc[];
  readonly inodes: readonly InodeLoc[];
  /** ishare fingerprint xattr entries (e_name_index 0x80 | ishare_xattr_prefix_id), inline or shared. */
  readonly fingerprints: readonly FingerprintLoc[];
  /** The prefix table's records (COMPAT_PLAIN_XATTR_PFX or no packed inode: on the device). */
  readonly prefixRecords: readonly { at: number; len: number }[];
  /** Offsets where a structure starts or ends (truncation points). */
  readonly boundaries: readonly number[];
}

function superblockFields(): Field[] {
  const w: Record<string, 1 | 2 | 4 | 8> = {
    magic: 4,
    checksum: 4,
    featureCompat: 4,
    blkszbits: 1,
    sbExtslots: 1,
    rootnid2b: 2,
    inos: 8,
    epoch: 8,
    fixedNsec: 4,
    blocksLo: 4,
    metaBlkaddr: 4,
    xattrBlkaddr: 4,
    featureIncompat: 4,
    availableComprAlgs: 2,
    extraDevices: 2,
    devtSlotoff: 2,
    dirblkbits: 1,
    xattrPrefixCount: 1,
    xattrPrefixStart: 4,
    packedNid: 8,
    xattrFilterReserved: 1,
    ishareXattrPrefixId: 1,
    buildTime: 4,
    rootnid8b: 8,
  };
  return Object.entries(w).map(([name, width]) => ({
    at: EROFS_SUPER_OFFSET + SB[name as keyof typeof SB],
    width,
    name: `sb.${name}`,
  }));
}

function inodeFields(ino: ErofsInode): Field[] {
  const base = ino.iloc;
  if (ino.compact) {
    const w: Record<keyof typeof IC, 1 | 2 | 4 | 8> = {
      format: 2,
      xattrIcount: 2,
      mode: 2,
      nlink: 2,
      size: 4,
      mtime: 4,
      u: 4,
      ino: 4,
      uid: 2,
      gid: 2,
      reserved: 4,
    };
    return (Object.keys(IC) as (keyof typeof IC)[]).map((k) => ({ at: base + IC[k], width: w[k], name: `i.${k}` }));
  }
  const w: Record<keyof typeof IE, 1 | 2 | 4 | 8> = {
    format: 2,
    xattrIcount: 2,
    mode: 2,
    nb: 2,
    size: 8,
    u: 4,
    ino: 4,
    uid: 4,
    gid: 4,
    mtime: 8,
    mtimeNsec: 4,
    nlink: 4,
  };
  return (Object.keys(IE) as (keyof typeof IE)[]).map((k) => ({ at: base + IE[k], width: w[k], name: `i.${k}` }));
}

/**
 * A compressed inode's map header and lcluster index: an upper bound of their extent (full indexes take
 * 8 B per lcluster after 16 B; compact ones at most 4 B per block plus a pack's slack).
 */
export function zIndexRange(img: ErofsImage, ino: ErofsInode): [number, number] {
  const start = Math.ceil((ino.iloc + ino.inodeSize + ino.xattrSize) / 8) * 8;
  const n = Math.ceil(ino.size / img.blockSize);
  const len = ino.layout === DATALAYOUT.COMPRESSED_FULL ? 16 + n * 8 : 8 + n * 4 + 32;
  return [start, Math.min(img.source.size, start + len)];
}

/** Every extent of a compressed inode, whole (pcluster address and length, flags). */
export function zExtents(img: ErofsImage, ino: ErofsInode): ZMapOut[] {
  const out: ZMapOut[] = [];
  const z = img.zmapper(ino);
  for (let off = 0; off < ino.size;) {
    const m = newZMapOut();
    z.mapFull(off, m);
    out.push(m);
    off = m.la + m.llen;
  }
  return out;
}

/** Byte ranges a regular file's content depends on: its inode (with xattr body), chunk table, extents. */
export function fileDependencies(img: ErofsImage, ino: ErofsInode, depth = 0): [number, number][] {
  const deps: [number, number][] = [[ino.iloc, ino.iloc + ino.inodeSize + ino.xattrSize]];
  if (ino.compressed) {
    deps.push(zIndexRange(img, ino));
    let fragment = false;
    for (const m of zExtents(img, ino)) {
      if (m.flags & ZF_FRAGMENT) fragment = true;
      else deps.push([m.pa, m.pa + m.plen]);
    }
    // Fragments live in the packed inode: the file depends on all of it.
    if (fragment && depth === 0) deps.push(...fileDependencies(img, img.inode(img.sb.packedNid), 1));
    return deps;
  }
  if (ino.layout === DATALAYOUT.CHUNK_BASED) {
    const pos = chunkTablePosition(ino);
    const count = Math.ceil(ino.size / chunkSize(img.sb, ino));
    deps.push([pos, pos + count * chunkEntrySize(ino)]);
  }
  for (let off = 0; off < ino.size;) {
    const m = img.mapBlocks(ino, off);
    if (m.kind !== 'hole') deps.push([m.physical, m.physical + m.length]);
    off = m.logical + m.length;
  }
  return deps;
}

/** Locate every structure of a valid image. Throws (an ErofsError) when the image is not readable. */
/** The map being built: the image, the regions found so far and the boundaries they mark. */
interface Locator {
  readonly buf: Uint8Array;
  readonly img: ErofsImage;
  readonly regions: Region[];
  readonly bounds: Set<number>;
  readonly dirents: DirentLoc[];
  readonly inodes: InodeLoc[];
  readonly fingerprints: FingerprintLoc[];
  readonly sharedSeen: Set<number>;
  readonly add: (r: Region) => void;
  /** An xattr entry at `pos`: a fingerprint when it names the ishare prefix (each position once). */
  readonly noteEntry: (pos: number, label: string) => void;
}

function newLocator(buf: Uint8Array): Locator {
  const img = ErofsImage.fromBuffer(buf);
  const sb = img.sb;
  const regions: Region[] = [];
  const bounds = new Set<number>([
    0,
    EROFS_SUPER_OFFSET,
    EROFS_SUPER_OFFSET + EROFS_SUPER_SIZE,
    img.blockSize,
    buf.length,
  ]);
  const add = (r: Region): void => {
    if (r.end <= r.start) return;
    regions.push(r);
    bounds.add(r.start);
    bounds.add(r.end);
  };
  const fingerprints: FingerprintLoc[] = [];
  const fpIndex = sb.hasFingerprints ? XATTR_LONG_PREFIX_FLAG | sb.ishareXattrPrefixId : -1;
  const fpSeen = new Set<number>();
  const noteEntry = (pos: number, label: string): void => {
    if (
      fpIndex < 0 ||
      fpSeen.has(pos) ||
      pos + XATTR_ENTRY_SIZE > buf.length ||
      u8(buf, pos + XE.nameIndex) !== fpIndex
    )
      return;
    fpSeen.add(pos);
    fingerprints.push({
      at: pos,
      valueAt: pos + XATTR_ENTRY_SIZE + u8(buf, pos + XE.nameLen),
      valueSize: u16(buf, pos + XE.valueSize),
      label,
    });
  };
  return {
    buf,
    img,
    regions,
    bounds,
    dirents: [],
    inodes: [],
    fingerprints,
    sharedSeen: new Set<number>(),
    add,
    noteEntry,
  };
}

/** A compressed inode's lcluster index and the pclusters it maps (fragments live elsewhere). */
function zRegions(loc: Locator, inode: ErofsInode, name: string): void {
  const [s, e] = zIndexRange(loc.img, inode);
  const fields: Field[] = [
    { at: s + ZMH.fragmentOff, width: 4, name: 'zh.fragmentOff' },
    { at: s + ZMH.advise, width: 2, name: 'zh.advise' },
    { at: s + ZMH.algorithmType, width: 1, name: 'zh.algorithmType' },
    { at: s + ZMH.clusterBits, width: 1, name: 'zh.clusterBits' },
  ];
  for (let at = s + 8; at + 4 <= e && fields.length < 64; at += 4)
    fields.push({ at, width: 4, name: `zindex+${at - s}` });
  loc.add({ kind: 'z-index', start: s, end: e, label: `lcluster index of ${name}`, fields });
  for (const m of zExtents(loc.img, inode)) {
    if (m.flags & ZF_FRAGMENT || m.plen === 0) continue;
    loc.add({
      kind: 'z-pcluster',
      start: m.pa,
      end: m.pa + m.plen,
      label: `pcluster at ${m.pa} of ${name}`,
      fields: [],
    });
  }
}

/** The packed inode (fragments), which no directory names. */
function packedInodeRegions(loc: Locator): void {
  const sb = loc.img.sb;
  if (!(sb.featureIncompat & FEATURE_INCOMPAT.FRAGMENTS && sb.packedNid !== 0)) return;
  const packed = loc.img.inode(sb.packedNid);
  loc.add({
    kind: 'inode',
    start: packed.iloc,
    end: packed.iloc + packed.inodeSize,
    label: `packed inode nid ${packed.nid}`,
    fields: inodeFields(packed),
  });
  if (packed.compressed && packed.size > 0) zRegions(loc, packed, `packed inode nid ${packed.nid}`);
}

function chunkTableRegion(loc: Locator, inode: ErofsInode, name: string): void {
  const pos = chunkTablePosition(inode);
  const unit = chunkEntrySize(inode);
  const count = Math.ceil(inode.size / chunkSize(loc.img.sb, inode));
  const fields: Field[] = [];
  for (let i = 0; i < count; i++) {
    const at = pos + i * unit;
    if (unit === CHUNK_INDEX_SIZE) {
      fields.push({ at: at + CI.startblkHi, width: 2, name: `chunk${i}.startblkHi` });
      fields.push({ at: at + CI.deviceId, width: 2, name: `chunk${i}.deviceId` });
      fields.push({ at: at + CI.blkaddr, width: 4, name: `chunk${i}.blkaddr` });
    } else {
      fields.push({ at, width: 4, name: `chunk${i}.blkaddr` });
    }
  }
  loc.add({ kind: 'chunk-table', start: pos, end: pos + count * unit, label: `chunk table of ${name}`, fields });
}

/** An uncompressed inode's inline tail and (except directories, mapped separately) its data blocks. */
function dataRegions(loc: Locator, inode: ErofsInode, name: string): void {
  for (let off = 0; off < inode.size;) {
    const m = loc.img.mapBlocks(inode, off);
    if (m.kind === 'inline')
      loc.add({
        kind: 'inline-tail',
        start: m.physical,
        end: m.physical + m.length,
        label: `inline tail of ${name}`,
        fields: [],
      });
    else if (m.kind === 'mapped' && inode.type !== 'dir')
      loc.add({ kind: 'data', start: m.physical, end: m.physical + m.length, label: `data of ${name}`, fields: [] });
    off = m.logical + m.length;
  }
}

/** Everything one inode owns: its record, xattrs, chunk table, compressed or plain data, dirents. */
function inodeRegions(loc: Locator, inode: ErofsInode, path: string, parentOf: Map<number, number>): void {
  const { buf, img } = loc;
  loc.inodes.push({
    nid: inode.nid,
    type: inode.type,
    path,
    parentNid: parentOf.get(inode.nid) ?? img.sb.rootNid,
    iloc: inode.iloc,
    compact: inode.compact,
    layout: inode.layout,
    chunkFormat: inode.chunkFormat,
    size: inode.size,
  });
  const name = `nid ${inode.nid} ${path}`;
  loc.add({
    kind: 'inode',
    start: inode.iloc,
    end: inode.iloc + inode.inodeSize,
    label: `inode ${name}`,
    fields: inodeFields(inode),
  });
  if (inode.xattrSize > 0) locateXattrs(buf, img, inode, name, loc.add, loc.sharedSeen, loc.noteEntry);
  if (inode.layout === DATALAYOUT.CHUNK_BASED && inode.size > 0) chunkTableRegion(loc, inode, name);
  if (inode.compressed && inode.size > 0) zRegions(loc, inode, name);
  if (
    (inode.type === 'file' || inode.type === 'dir' || inode.type === 'symlink') &&
    inode.size > 0 &&
    !inode.compressed
  )
    dataRegions(loc, inode, name);
  if (inode.type === 'dir') {
    for (const e of img.readdir(inode))
      if (e.name !== '.' && e.name !== '..' && !parentOf.has(e.nid)) parentOf.set(e.nid, inode.nid);
    locateDirBlocks(buf, img, inode, name, loc.add, loc.dirents);
  }
}

/** The long xattr prefix table, where the reader looks for it (image.ts): the device, unless packed. */
function prefixTableRegion(loc: Locator): { at: number; len: number }[] {
  const { buf } = loc;
  const sb = loc.img.sb;
  const prefixRecords: { at: number; len: number }[] = [];
  if (!(sb.xattrPrefixCount > 0 && (sb.featureCompat & FEATURE_COMPAT.PLAIN_XATTR_PFX || sb.packedNid === 0)))
    return prefixRecords;
  let pos = sb.xattrPrefixStart * 4;
  const start = pos;
  const fields: Field[] = [];
  for (let i = 0; i < sb.xattrPrefixCount && pos + 2 <= buf.length; i++) {
    pos = Math.ceil(pos / 4) * 4;
    fields.push({ at: pos, width: 2, name: `prefix${i}.len` }, { at: pos + 2, width: 1, name: `prefix${i}.base` });
    prefixRecords.push({ at: pos, len: u16(buf, pos) });
    pos += 2 + (u16(buf, pos) || 65536);
  }
  loc.add({ kind: 'prefix-table', start, end: Math.min(pos, buf.length), label: 'long xattr prefix table', fields });
  return prefixRecords;
}

export function locateRegions(buf: Uint8Array): ImageMap {
  const loc = newLocator(buf);
  const { img, bounds } = loc;
  const sb = img.sb;
  const bs = img.blockSize;
  loc.add({
    kind: 'superblock',
    start: EROFS_SUPER_OFFSET,
    end: EROFS_SUPER_OFFSET + EROFS_SUPER_SIZE,
    label: 'superblock',
    fields: superblockFields(),
  });
  packedInodeRegions(loc);
  const seen = new Set<number>();
  const parentOf = new Map<number, number>([[sb.rootNid, sb.rootNid]]);
  for (const { path, inode } of img.walk()) {
    if (seen.has(inode.nid)) continue; // hard links: one record
    seen.add(inode.nid);
    inodeRegions(loc, inode, path, parentOf);
  }
  const prefixRecords = prefixTableRegion(loc);
  for (let b = 0; b < Math.min(8, Math.ceil(buf.length / bs)); b++) bounds.add(b * bs);
  return {
    size: buf.length,
    blockSize: bs,
    metaBase: sb.metaBlkaddr * bs,
    rootNid: sb.rootNid,
    hasChecksum: (sb.featureCompat & FEATURE_COMPAT.SB_CHKSUM) !== 0,
    regions: loc.regions,
    dirents: loc.dirents,
    inodes: loc.inodes,
    fingerprints: loc.fingerprints,
    prefixRecords,
    boundaries: [...bounds].filter((x) => x >= 0 && x <= buf.length).sort((a, b) => a - b),
  };
}

function locateXattrs(
  buf: Uint8Array,
  img: ErofsImage,
  inode: ErofsInode,
  name: string,
  add: (r: Region) => void,
  sharedSeen: Set<number>,
  noteEntry: (pos: number, label: string) => void,
): void {
  const base = inode.iloc + inode.inodeSize;
  const fields: Field[] = [
    { at: base + XH.nameFilter, width: 4, name: 'xattr.nameFilter' },
    { at: base + XH.sharedCount, width: 1, name: 'xattr.sharedCount' },
  ];
  const shared = u8(buf, base + XH.sharedCount);
  const sharedArea = img.sb.xattrBlkaddr * img.blockSize;
  for (let i = 0; i < shared; i++) {
    const at = base + XATTR_IBODY_HEADER_SIZE + i * 4;
    fields.push({ at, width: 4, name: `xattr.shared${i}` });
    const pos = sharedArea + u32(buf, at) * 4;
    noteEntry(pos, `shared xattr at ${pos} (of ${name})`);
    if (sharedSeen.has(pos) || pos + XATTR_ENTRY_SIZE > buf.length) continue;
    sharedSeen.add(pos);
    const size = entrySize(buf, pos);
    add({
      kind: 'shared-xattr',
      start: pos,
      end: Math.min(buf.length, pos + size),
      label: `shared xattr at ${pos} (of ${name})`,
      fields: entryFields(pos, 'shared'),
    });
  }
  let pos = base + XATTR_IBODY_HEADER_SIZE + shared * 4;
  const end = base + inode.xattrSize;
  let k = 0;
  while (pos + XATTR_ENTRY_SIZE <= end) {
    noteEntry(pos, `xattr body of ${name}`);
    fields.push(...entryFields(pos, `entry${k++}`));
    pos += entrySize(buf, pos);
  }
  add({ kind: 'xattr-ibody', start: base, end, label: `xattr body of ${name}`, fields });
}

function entrySize(buf: Uint8Array, pos: number): number {
  return Math.ceil((XATTR_ENTRY_SIZE + u8(buf, pos + XE.nameLen) + u16(buf, pos + XE.valueSize)) / 4) * 4;
}

function entryFields(pos: number, what: string): Field[] {
  return [
    { at: pos + XE.nameLen, width: 1, name: `xattr.${what}.nameLen` },
    { at: pos + XE.nameIndex, width: 1, name: `xattr.${what}.nameIndex` },
    { at: pos + XE.valueSize, width: 2, name: `xattr.${what}.valueSize` },
  ];
}

function locateDirBlocks(
  buf: Uint8Array,
  img: ErofsImage,
  dir: ErofsInode,
  name: string,
  add: (r: Region) => void,
  dirents: DirentLoc[],
): void {
  const bs = img.blockSize;
  for (let i = 0; i * bs < dir.size; i++) {
    const m = img.mapBlocks(dir, i * bs);
    if (m.kind === 'hole') continue;
    const start = m.physical + (i * bs - m.logical);
    const len = Math.min(bs, dir.size - i * bs);
    const count = Math.floor(u16(buf, start + DE.nameoff) / DIRENT_SIZE);
    const fields: Field[] = [];
    for (let k = 0; k < count; k++) {
      const at = start + k * DIRENT_SIZE;
      dirents.push({ at, dirNid: dir.nid, blockStart: start, index: k, count });
      fields.push(
        { at: at + DE.nid, width: 8, name: `dirent${k}.nid` },
        { at: at + DE.nameoff, width: 2, name: `dirent${k}.nameoff` },
        { at: at + DE.fileType, width: 1, name: `dirent${k}.fileType` },
      );
    }
    add({ kind: 'dir-block', start, end: start + len, label: `directory block ${i} of ${name}`, fields });
  }
}
