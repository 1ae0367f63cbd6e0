// A tiny, independent EROFS image builder for reader tests: it makes the layouts mkfs.erofs 1.5
// cannot (block sizes 512..2048, chunk indexes, NULL-address holes, long xattr prefixes, device
// nodes, extended inodes straddling a block boundary). Test-only: it favours plainness over
// compactness, and its images are cross-checked against the Linux kernel where mounting works.
import { createHash } from 'node:crypto';
import { crc32c } from '@ishare/core/format';
import {
  CHUNK_FORMAT_INDEXES,
  DATALAYOUT,
  DE,
  DIRENT_SIZE,
  EROFS_NULL_ADDR,
  EROFS_SUPER_MAGIC_V1,
  EROFS_SUPER_OFFSET,
  FEATURE_COMPAT,
  FEATURE_INCOMPAT,
  FT,
  IC,
  IE,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFREG,
  S_IFSOCK,
  SB,
  XATTR_PREFIXES,
} from '@ishare/core/format';

export type SynthLayout = 'plain' | 'inline' | 'chunk';

interface Common {
  mode?: number; // permission bits
  uid?: number;
  gid?: number;
  mtime?: number;
  xattrs?: [string, Uint8Array | string][];
  /** Names of xattrs (from `xattrs`) to store in the shared area instead of inline. */
  shared?: string[];
}
export interface SynthFile extends Common {
  type: 'file';
  data: Uint8Array;
  layout?: SynthLayout;
  /** chunk size = blockSize << chunkBits */
  chunkBits?: number;
  indexes?: boolean;
  /** All-zero chunks become NULL_ADDR holes. */
  holes?: boolean;
}
export interface SynthDir extends Common {
  type: 'dir';
  entries: Record<string, SynthNode>;
  layout?: SynthLayout;
}
export interface SynthLink extends Common {
  type: 'symlink';
  target: string;
}
export interface SynthSpecial extends Common {
  type: 'chardev' | 'blockdev' | 'fifo' | 'socket';
  rdev?: number;
}
export type SynthNode = SynthFile | SynthDir | SynthLink | SynthSpecial;

export interface SynthOptions {
  blockSize?: number;
  compact?: boolean;
  buildTime?: number;
  /**
   * Long xattr name prefixes (full strings, e.g. 'trusted.erofs.'), stored plain in the image. A
   * prefix with no known short prefix (e.g. 'erofs.fingerprint.v1') gets base index 0 (hidden).
   */
  longPrefixes?: string[];
  /** Set COMPAT_ISHARE_XATTRS with this long-prefix id as ishare_xattr_prefix_id. */
  ishare?: number;
  /** Leave the superblock checksum feature off. */
  noChecksum?: boolean;
  featureCompat?: number;
}

interface Rec {
  node: SynthNode;
  parent: Rec | undefined;
  children: [Uint8Array, Rec][];
  nid: number;
  pos: number;
  isize: number;
  xattrBody: Uint8Array; // without shared ids resolved until layout
  xattrNames: { name: string; value: Uint8Array; shared: boolean }[];
  data: Uint8Array; // file / dir / symlink bytes
  layout: number;
  chunkBits: number;
  indexes: boolean;
  holes: boolean;
  recSize: number;
  tailLen: number;
}

const enc = new TextEncoder();

function bytesOf(v: Uint8Array | string): Uint8Array {
  return typeof v === 'string' ? enc.encode(v) : v;
}

function cmp(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

const align = (x: number, a: number): number => Math.ceil(x / a) * a;

function typeBits(n: SynthNode): number {
  switch (n.type) {
    case 'file':
      return S_IFREG;
    case 'dir':
      return S_IFDIR;
    case 'symlink':
      return S_IFLNK;
    case 'chardev':
      return S_IFCHR;
    case 'blockdev':
      return S_IFBLK;
    case 'fifo':
      return S_IFIFO;
    case 'socket':
      return S_IFSOCK;
  }
}
function ftOf(n: SynthNode): number {
  switch (n.type) {
    case 'file':
      return FT.REG_FILE;
    case 'dir':
      return FT.DIR;
    case 'symlink':
      return FT.SYMLINK;
    case 'chardev':
      return FT.CHRDEV;
    case 'blockdev':
      return FT.BLKDEV;
    case 'fifo':
      return FT.FIFO;
    case 'socket':
      return FT.SOCK;
  }
}

function splitName(name: string, longPrefixes: string[]): { index: number; suffix: string } {
  let best = -1;
  for (let i = 0; i < longPrefixes.length; i++) {
    if (name.startsWith(longPrefixes[i]) && (best < 0 || longPrefixes[i].length > longPrefixes[best].length)) best = i;
  }
  if (best >= 0) return { index: 0x80 | best, suffix: name.slice(longPrefixes[best].length) };
  let bi = -1;
  for (const [k, p] of Object.entries(XATTR_PREFIXES)) {
    if (name.startsWith(p) && (bi < 0 || p.length > XATTR_PREFIXES[bi].length)) bi = Number(k);
  }
  if (bi < 0) throw new Error(`no prefix for xattr ${name}`);
  return { index: bi, suffix: name.slice(XATTR_PREFIXES[bi].length) };
}

function xattrEntry(name: string, value: Uint8Array, longPrefixes: string[]): Uint8Array {
  const { index, suffix } = splitName(name, longPrefixes);
  const sfx = enc.encode(suffix);
  const out = new Uint8Array(align(4 + sfx.length + value.length, 4));
  out[0] = sfx.length;
  out[1] = index;
  out[2] = value.length & 0xff;
  out[3] = value.length >> 8;
  out.set(sfx, 4);
  out.set(value, 4 + sfx.length);
  return out;
}

/** Pack sorted dirents into directory blocks; returns the directory's bytes. */
function dirBytes(entries: { name: Uint8Array; nid: number; ft: number }[], bs: number): Uint8Array {
  const blocks: Uint8Array[] = [];
  let i = 0;
  let lastLen = 0;
  while (i < entries.length) {
    let n = 0;
    let used = 0;
    while (i + n < entries.length && used + DIRENT_SIZE + entries[i + n].name.length <= bs) {
      used += DIRENT_SIZE + entries[i + n].name.length;
      n++;
    }
    if (n === 0) throw new Error('dirent does not fit a block');
    const blk = new Uint8Array(bs);
    const dv = new DataView(blk.buffer);
    let nameoff = n * DIRENT_SIZE;
    for (let k = 0; k < n; k++) {
      const e = entries[i + k];
      dv.setBigUint64(k * DIRENT_SIZE + DE.nid, BigInt(e.nid), true);
      dv.setUint16(k * DIRENT_SIZE + DE.nameoff, nameoff, true);
      blk[k * DIRENT_SIZE + DE.fileType] = e.ft;
      blk.set(e.name, nameoff);
      nameoff += e.name.length;
    }
    blocks.push(blk);
    lastLen = nameoff;
    i += n;
  }
  const out = new Uint8Array((blocks.length - 1) * bs + lastLen);
  blocks.forEach((b, k) => out.set(k === blocks.length - 1 ? b.subarray(0, lastLen) : b, k * bs));
  return out;
}

export function buildImage(root: SynthDir, opts: SynthOptions = {}): Uint8Array {
  const bs = opts.blockSize ?? 4096;
  const compact = opts.compact ?? false;
  const buildTime = opts.buildTime ?? 1_700_000_000;
  const longPrefixes = opts.longPrefixes ?? [];
  let incompat = 0;
  const recs: Rec[] = [];

  const mk = (node: SynthNode, parent: Rec | undefined): Rec => {
    const r: Rec = {
      node,
      parent,
      children: [],
      nid: 0,
      pos: 0,
      isize: compact ? 32 : 64,
      xattrBody: new Uint8Array(0),
      xattrNames: [],
      data: new Uint8Array(0),
      layout: DATALAYOUT.FLAT_PLAIN,
      chunkBits: 0,
      indexes: false,
      holes: false,
      recSize: 0,
      tailLen: 0,
    };
    recs.push(r);
    for (const [n, v] of node.xattrs ?? []) {
      r.xattrNames.push({ name: n, value: bytesOf(v), shared: (node.shared ?? []).includes(n) });
    }
    if (node.type === 'dir') {
      for (const [name, child] of Object.entries(node.entries)) r.children.push([enc.encode(name), mk(child, r)]);
      r.children.sort((a, b) => cmp(a[0], b[0]));
    }
    return r;
  };
  const rootRec = mk(root, undefined);

  // Shared xattr area contents (ids resolved once its position is known).
  const sharedEntries: Uint8Array[] = [];
  const sharedOffsets: number[] = [];
  let sharedLen = 0;
  const sharedIndex = new Map<string, number>();
  for (const r of recs) {
    for (const x of r.xattrNames) {
      if (!x.shared) continue;
      const key = `${x.name}\0${Buffer.from(x.value).toString('hex')}`;
      if (sharedIndex.has(key)) continue;
      const e = xattrEntry(x.name, x.value, longPrefixes);
      sharedIndex.set(key, sharedEntries.length);
      sharedEntries.push(e);
      sharedOffsets.push(sharedLen);
      sharedLen += e.length;
    }
  }

  // Sizes that do not depend on nids: data (dirs: names only), xattr ibody, layout, record size.
  for (const r of recs) {
    const n = r.node;
    if (n.type === 'file') r.data = n.data;
    if (n.type === 'symlink') r.data = enc.encode(n.target);
    if (n.type === 'dir') {
      const fake = [
        { name: enc.encode('.'), nid: 0, ft: FT.DIR },
        { name: enc.encode('..'), nid: 0, ft: FT.DIR },
        ...r.children.map(([name, c]) => ({ name, nid: 0, ft: ftOf(c.node) })),
      ];
      fake.sort((a, b) => cmp(a.name, b.name));
      r.data = dirBytes(fake, bs);
    }
    const sharedCount = r.xattrNames.filter((x) => x.shared).length;
    const inline = r.xattrNames.filter((x) => !x.shared).map((x) => xattrEntry(x.name, x.value, longPrefixes));
    const xsize = r.xattrNames.length ? 12 + sharedCount * 4 + inline.reduce((s, e) => s + e.length, 0) : 0;
    r.xattrBody = new Uint8Array(xsize);
    if (xsize) {
      r.xattrBody[4] = sharedCount;
      let off = 12 + sharedCount * 4;
      for (const e of inline) {
        r.xattrBody.set(e, off);
        off += e.length;
      }
    }
    const want: SynthLayout =
      n.type === 'file' || n.type === 'dir' ? (n.layout ?? 'inline') : n.type === 'symlink' ? 'inline' : 'plain';
    if (n.type === 'file' || n.type === 'dir' || n.type === 'symlink') {
      if (want === 'chunk') {
        r.layout = DATALAYOUT.CHUNK_BASED;
        incompat |= FEATURE_INCOMPAT.CHUNKED_FILE;
        if (n.type === 'file') {
          r.chunkBits = n.chunkBits ?? 0;
          r.indexes = n.indexes ?? false;
          r.holes = n.holes ?? false;
        }
        const unit = r.indexes ? 8 : 4;
        const count = Math.ceil(r.data.length / (bs * 2 ** r.chunkBits));
        r.recSize = align(r.isize + xsize, unit) + count * unit;
      } else {
        const tail = r.data.length % bs;
        if (want === 'inline' && r.data.length > 0 && tail > 0 && r.isize + xsize + tail <= bs) {
          r.layout = DATALAYOUT.FLAT_INLINE;
          r.tailLen = tail;
        } else {
          r.layout = DATALAYOUT.FLAT_PLAIN;
        }
        r.recSize = r.isize + xsize + r.tailLen;
      }
    } else {
      r.recSize = r.isize + xsize;
    }
  }

  // Metadata area: records at 32-byte slots; inline records never cross a block boundary.
  const metaBlk = Math.ceil((EROFS_SUPER_OFFSET + 128) / bs);
  let cur = metaBlk * bs;
  for (const r of recs) {
    cur = align(cur, 32);
    if (r.layout === DATALAYOUT.FLAT_INLINE && (cur % bs) + r.recSize > bs) cur = align(cur, bs);
    r.pos = cur;
    r.nid = (cur - metaBlk * bs) / 32;
    cur += r.recSize;
  }
  let blk = Math.ceil(cur / bs);
  // Long prefix table (plain) and the shared xattr area get their own blocks.
  let prefixStart = 0;
  let prefixBytes = new Uint8Array(0);
  if (longPrefixes.length) {
    incompat |= FEATURE_INCOMPAT.XATTR_PREFIXES;
    const parts: number[] = [];
    for (const p of longPrefixes) {
      let base = 0;
      for (const [k, s] of Object.entries(XATTR_PREFIXES))
        if (p.startsWith(s) && (base === 0 || s.length > XATTR_PREFIXES[base].length)) base = Number(k);
      const infix = enc.encode(p.slice(base === 0 ? 0 : XATTR_PREFIXES[base].length));
      const len = 1 + infix.length;
      while (parts.length % 4) parts.push(0);
      parts.push(len & 0xff, len >> 8, base, ...infix);
    }
    prefixBytes = Uint8Array.from(parts);
    prefixStart = (blk * bs) / 4;
    blk += Math.ceil(prefixBytes.length / bs);
  }
  const xattrBlk = sharedLen ? blk : 0;
  blk += Math.ceil(sharedLen / bs);

  // Data blocks.
  const chunkAddrs = new Map<Rec, number[]>();
  const dataBlk = new Map<Rec, number>();
  const writes: [number, Uint8Array][] = [];
  // Directory bytes need nids: rebuild now that every nid is known.
  for (const r of recs) {
    if (r.node.type !== 'dir') continue;
    const ents = [
      { name: enc.encode('.'), nid: r.nid, ft: FT.DIR },
      { name: enc.encode('..'), nid: (r.parent ?? r).nid, ft: FT.DIR },
      ...r.children.map(([name, c]) => ({ name, nid: c.nid, ft: ftOf(c.node) })),
    ].sort((a, b) => cmp(a.name, b.name));
    r.data = dirBytes(ents, bs);
  }
  for (const r of recs) {
    if (r.layout === DATALAYOUT.CHUNK_BASED) {
      const cs = bs * 2 ** r.chunkBits;
      const addrs: number[] = [];
      for (let off = 0; off < r.data.length; off += cs) {
        const piece = r.data.subarray(off, Math.min(off + cs, r.data.length));
        if (r.holes && piece.every((b) => b === 0)) {
          addrs.push(EROFS_NULL_ADDR);
          continue;
        }
        addrs.push(blk);
        writes.push([blk * bs, piece]);
        blk += Math.ceil(piece.length / bs);
      }
      chunkAddrs.set(r, addrs);
    } else if (r.data.length - r.tailLen > 0) {
      dataBlk.set(r, blk);
      writes.push([blk * bs, r.data.subarray(0, r.data.length - r.tailLen)]);
      blk += Math.ceil((r.data.length - r.tailLen) / bs);
    }
  }
  const totalBlocks = blk;
  const img = new Uint8Array(totalBlocks * bs);
  const dv = new DataView(img.buffer);
  for (const [pos, d] of writes) img.set(d, pos);
  img.set(prefixBytes, prefixStart * 4);
  sharedEntries.forEach((e, i) => img.set(e, xattrBlk * bs + sharedOffsets[i]));

  for (const r of recs) {
    const n = r.node;
    const p = r.pos;
    const xicount = r.xattrBody.length ? (r.xattrBody.length - 12) / 4 + 1 : 0;
    const fmt = (compact ? 0 : 1) | (r.layout << 1);
    let iu = 0;
    if (n.type === 'chardev' || n.type === 'blockdev') iu = n.rdev ?? 0;
    else if (r.layout === DATALAYOUT.CHUNK_BASED) iu = r.chunkBits | (r.indexes ? CHUNK_FORMAT_INDEXES : 0);
    else if (n.type === 'file' || n.type === 'dir' || n.type === 'symlink') iu = dataBlk.get(r) ?? 0;
    const mode = typeBits(n) | (n.mode ?? (n.type === 'dir' ? 0o755 : n.type === 'symlink' ? 0o777 : 0o644));
    const nlink = n.type === 'dir' ? 2 + r.children.filter(([, c]) => c.node.type === 'dir').length : 1;
    const mtime = n.mtime ?? buildTime;
    dv.setUint16(p + IC.format, fmt, true);
    dv.setUint16(p + IC.xattrIcount, xicount, true);
    dv.setUint16(p + IC.mode, mode, true);
    dv.setUint32(p + IC.u, iu, true);
    dv.setUint32(p + IC.ino, recs.indexOf(r) + 1, true);
    if (compact) {
      dv.setUint16(p + IC.nlink, nlink, true);
      dv.setUint32(p + IC.size, r.data.length, true);
      dv.setUint32(p + IC.mtime, mtime - buildTime, true);
      dv.setUint16(p + IC.uid, n.uid ?? 0, true);
      dv.setUint16(p + IC.gid, n.gid ?? 0, true);
    } else {
      dv.setBigUint64(p + IE.size, BigInt(r.data.length), true);
      dv.setUint32(p + IE.uid, n.uid ?? 0, true);
      dv.setUint32(p + IE.gid, n.gid ?? 0, true);
      dv.setBigUint64(p + IE.mtime, BigInt(mtime), true);
      dv.setUint32(p + IE.nlink, nlink, true);
    }
    const xb = r.xattrBody.slice();
    let k = 0;
    for (const x of r.xattrNames) {
      if (!x.shared) continue;
      const key = `${x.name}\0${Buffer.from(x.value).toString('hex')}`;
      new DataView(xb.buffer).setUint32(12 + 4 * k++, sharedOffsets[sharedIndex.get(key)!] / 4, true);
    }
    img.set(xb, p + r.isize);
    const after = p + r.isize + xb.length;
    if (r.layout === DATALAYOUT.FLAT_INLINE) img.set(r.data.subarray(r.data.length - r.tailLen), after);
    if (r.layout === DATALAYOUT.CHUNK_BASED) {
      const unit = r.indexes ? 8 : 4;
      let q = align(after, unit);
      for (const a of chunkAddrs.get(r)!) {
        if (r.indexes) {
          dv.setUint32(q + 4, a, true);
          q += 8;
        } else {
          dv.setUint32(q, a, true);
          q += 4;
        }
      }
    }
  }

  const sb = EROFS_SUPER_OFFSET;
  dv.setUint32(sb + SB.magic, EROFS_SUPER_MAGIC_V1, true);
  const compat =
    (opts.noChecksum ? 0 : FEATURE_COMPAT.SB_CHKSUM) |
    (opts.featureCompat ?? 0) |
    (opts.ishare !== undefined ? FEATURE_COMPAT.ISHARE_XATTRS : 0);
  if (opts.ishare !== undefined) img[sb + SB.ishareXattrPrefixId] = opts.ishare;
  dv.setUint32(sb + SB.featureCompat, compat, true);
  img[sb + SB.blkszbits] = Math.log2(bs);
  dv.setUint16(sb + SB.rootnid2b, rootRec.nid, true);
  dv.setBigUint64(sb + SB.inos, BigInt(recs.length), true);
  dv.setBigInt64(sb + SB.epoch, BigInt(buildTime), true);
  dv.setUint32(sb + SB.blocksLo, totalBlocks, true);
  dv.setUint32(sb + SB.metaBlkaddr, metaBlk, true);
  dv.setUint32(sb + SB.xattrBlkaddr, xattrBlk, true);
  for (let i = 0; i < 16; i++) img[sb + SB.uuid + i] = (i * 37 + 11) & 0xff;
  dv.setUint32(sb + SB.featureIncompat, incompat, true);
  img[sb + SB.xattrPrefixCount] = longPrefixes.length;
  dv.setUint32(sb + SB.xattrPrefixStart, prefixStart, true);
  if (!opts.noChecksum) fixChecksum(img);
  return img;
}

/** Recompute the superblock checksum in place (after a test patches the superblock or block 0). */
export function fixChecksum(img: Uint8Array): void {
  const dv = new DataView(img.buffer, img.byteOffset, img.byteLength);
  const bs = 1 << img[EROFS_SUPER_OFFSET + SB.blkszbits];
  const len = bs > EROFS_SUPER_OFFSET ? bs - EROFS_SUPER_OFFSET : bs;
  const area = img.slice(EROFS_SUPER_OFFSET, EROFS_SUPER_OFFSET + len);
  area.fill(0, SB.checksum, SB.checksum + 4);
  dv.setUint32(EROFS_SUPER_OFFSET + SB.checksum, crc32c(0xffffffff, area), true);
}

/** The fingerprint xattr value upstream writes: "sha256:" and the 32 raw digest bytes. */
export function fingerprintValue(digest: Uint8Array): Uint8Array {
  const out = new Uint8Array(39);
  out.set(enc.encode('sha256:'), 0);
  out.set(digest.subarray(0, 32), 7);
  return out;
}

/** sha256 of some bytes, as the fingerprint's digest. */
export function sha256(data: Uint8Array): Buffer {
  return createHash('sha256').update(data).digest();
}
