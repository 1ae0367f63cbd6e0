// Structure-aware mutators. Each one damages a located structure of a valid image (see regions.ts) and
// logs exactly which bytes it changed, so the checker knows which files it cannot have touched. An
// image is a pure function of (seed images, run seed, index): failures are replayed by regenerating.
import {
  CHUNK_FORMAT_BLKBITS_MASK,
  CHUNK_INDEX_SIZE,
  CI,
  DATALAYOUT,
  DE,
  EROFS_NULL_ADDR,
  DIRENT_SIZE,
  EROFS_ISLOT_SIZE,
  EROFS_MAX_BLKSZBITS,
  EROFS_MIN_BLKSZBITS,
  EROFS_SUPER_OFFSET,
  FEATURE_COMPAT,
  IC,
  IE,
  SB,
} from '../erofs/format.ts';
import { checksumLength, superblockChecksum } from '../erofs/super.ts';
import { u16, u32, u8 } from '../erofs/source.ts';
import { imageRng, type Prng } from './prng.ts';
import { locateRegions, type Field, type ImageMap, type InodeLoc, type Region, type RegionKind } from './regions.ts';

export type MutationOp =
  | 'bitflip'
  | 'byte'
  | 'field'
  | 'truncate'
  | 'crosslink'
  | 'dup-block'
  | 'zero-block'
  | 'swap-dirents'
  | 'grow-file'
  | 'fingerprint';
export const MUTATION_OPS: readonly MutationOp[] = [
  'bitflip',
  'byte',
  'field',
  'truncate',
  'crosslink',
  'dup-block',
  'zero-block',
  'swap-dirents',
  'grow-file',
  'fingerprint',
];

/** A seed image: valid bytes plus the map of its structures. */
export interface SeedImage {
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly map: ImageMap;
}

export interface Mutation {
  readonly op: MutationOp;
  /** The structure hit: a region label, plus the field name for field smashes. */
  readonly target: string;
  readonly kind: RegionKind | 'image';
  /** Touched bytes: [at, at + len). For a truncation, from the new end to the old one. */
  readonly at: number;
  readonly len: number;
  readonly detail: string;
}

export interface MutatedImage {
  readonly seed: string;
  readonly index: number;
  readonly bytes: Uint8Array;
  readonly mutations: readonly Mutation[];
  /** The superblock checksum was recomputed after mutating (so the damage reaches past it). */
  readonly checksumFixed: boolean;
}

export interface MutateOptions {
  /** Only these operations (unit tests aim one mutator at one region). */
  ops?: readonly MutationOp[];
  /** Only regions of these kinds (for region-based operations). */
  regions?: readonly RegionKind[];
  /** Exactly this many mutations (default: 1 usually, up to 5 sometimes). */
  count?: number;
  /** Recompute the superblock checksum afterwards: true, false, or (default) mostly. */
  fixChecksum?: boolean;
}

export function prepareSeed(name: string, bytes: Uint8Array): SeedImage {
  return { name, bytes, map: locateRegions(bytes) };
}

const OP_WEIGHTS: readonly (readonly [number, MutationOp])[] = [
  [3, 'bitflip'],
  [2, 'byte'],
  [5, 'field'],
  [1, 'truncate'],
  [2.5, 'crosslink'],
  [1, 'dup-block'],
  [1, 'zero-block'],
  [1, 'swap-dirents'],
  [0.7, 'grow-file'],
  [1, 'fingerprint'],
];

const REGION_WEIGHTS: Record<RegionKind | 'image', number> = {
  superblock: 1.5,
  inode: 4,
  'xattr-ibody': 1.5,
  'shared-xattr': 1,
  'prefix-table': 0.5,
  'dir-block': 3,
  'chunk-table': 2,
  'inline-tail': 1,
  data: 0.5,
  image: 0.5,
  'z-index': 3,
  'z-pcluster': 2,
};

const INTERESTING8 = [0, 1, 0x7f, 0x80, 0xfe, 0xff, 0x20];
const INTERESTING16 = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xfffe, 0xffff];
const INTERESTING32 = [0, 1, 2, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];
const HIGH32 = [0, 1, 0x1fffff, 0x200000, 0x7fffffff, 0xffffffff];

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

function writeLE(b: Uint8Array, at: number, width: number, lo: number, hi = 0): void {
  for (let i = 0; i < width && at + i < b.length; i++) {
    const word = i < 4 ? lo : hi;
    b[at + i] = (word >>> (8 * (i % 4))) & 0xff;
  }
}

function readLE(b: Uint8Array, at: number, width: number): { lo: number; hi: number } {
  if (width === 1) return { lo: u8(b, at), hi: 0 };
  if (width === 2) return { lo: u16(b, at), hi: 0 };
  if (width === 4) return { lo: u32(b, at), hi: 0 };
  return { lo: u32(b, at), hi: u32(b, at + 4) };
}

/** The state one image's mutations share. */
interface Ctx {
  readonly seed: SeedImage;
  readonly rng: Prng;
  readonly b: Uint8Array;
  readonly opts: MutateOptions;
  truncateTo: number | undefined;
}

function pickRegion(c: Ctx, withFields = false): Region {
  const { map } = c.seed;
  const allowed = c.opts.regions;
  const byKind = new Map<RegionKind | 'image', Region[]>();
  for (const r of map.regions) {
    if (allowed && !allowed.includes(r.kind)) continue;
    if (withFields && r.fields.length === 0) continue;
    let list = byKind.get(r.kind);
    if (!list) byKind.set(r.kind, (list = []));
    list.push(r);
  }
  if (!allowed && !withFields)
    byKind.set('image', [{ kind: 'data', start: 0, end: map.size, label: 'anywhere in the image', fields: [] }]);
  const kinds = [...byKind.keys()];
  if (kinds.length === 0) {
    // Nothing of the asked kind in this image: the whole image is the target.
    return { kind: 'data', start: 0, end: map.size, label: 'anywhere in the image', fields: [] };
  }
  const kind = c.rng.weighted(kinds.map((k) => [REGION_WEIGHTS[k], k] as const));
  return c.rng.pick(byKind.get(kind)!);
}

function kindOf(r: Region): RegionKind | 'image' {
  return r.label === 'anywhere in the image' ? 'image' : r.kind;
}

function bitflip(c: Ctx): Mutation[] {
  const r = pickRegion(c);
  const out: Mutation[] = [];
  const n = c.rng.range(1, 3);
  const done = new Set<number>();
  for (let i = 0; i < n; i++) {
    const at = r.start + c.rng.int(r.end - r.start);
    const bit = c.rng.int(8);
    // The same bit twice would undo itself: the image must really change.
    if (done.has(at * 8 + bit)) continue;
    done.add(at * 8 + bit);
    const old = c.b[at];
    c.b[at] = old ^ (1 << bit);
    out.push({
      op: 'bitflip',
      target: r.label,
      kind: kindOf(r),
      at,
      len: 1,
      detail: `bit ${bit}: ${hex(old)} -> ${hex(c.b[at])}`,
    });
  }
  return out;
}

function byteSet(c: Ctx): Mutation[] {
  const r = pickRegion(c);
  const at = r.start + c.rng.int(r.end - r.start);
  const old = c.b[at];
  let v = c.rng.chance(0.8) ? c.rng.pick(INTERESTING8) : c.rng.int(256);
  if (v === old) v = old ^ 0xff;
  c.b[at] = v;
  return [{ op: 'byte', target: r.label, kind: kindOf(r), at, len: 1, detail: `${hex(old)} -> ${hex(v)}` }];
}

function interesting32(c: Ctx, old: number): number {
  const { size, blockSize } = c.seed.map;
  const blocks = Math.ceil(size / blockSize);
  return c.rng.pick([
    ...INTERESTING32,
    size,
    size - 1,
    blocks,
    blocks - 1,
    blocks + 1,
    Math.floor(size / EROFS_ISLOT_SIZE),
    (old + 1) >>> 0,
    (old - 1) >>> 0,
    (old ^ (1 << c.rng.int(32))) >>> 0,
    c.rng.u32(),
    (old + blockSize) >>> 0,
    (old * 2) >>> 0,
  ]);
}

function interestingFor(c: Ctx, width: number, old: { lo: number; hi: number }): { lo: number; hi: number } {
  const rng = c.rng;
  if (width === 1) return { lo: rng.chance(0.7) ? rng.pick(INTERESTING8) : rng.int(256), hi: 0 };
  if (width === 2) {
    const v = rng.chance(0.7)
      ? rng.pick(INTERESTING16)
      : rng.pick([(old.lo + 1) & 0xffff, (old.lo - 1) & 0xffff, old.lo ^ (1 << rng.int(16)), rng.int(0x10000)]);
    return { lo: v, hi: 0 };
  }
  if (width === 4) return { lo: interesting32(c, old.lo), hi: 0 };
  // 64-bit fields: smash the low word, the high word (past 2^53 included) or both.
  const which = rng.int(3);
  return {
    lo: which === 1 ? old.lo : interesting32(c, old.lo),
    hi: which === 0 ? old.hi : rng.pick(HIGH32),
  };
}

function fieldSmash(c: Ctx): Mutation[] {
  // Regions with named fields first, unless the caller aimed at a kind.
  const r = pickRegion(c, c.opts.regions === undefined);
  let f: Field;
  if (r.fields.length > 0) {
    f = c.rng.pick(r.fields);
  } else {
    // A region without named fields: an aligned word inside it, no wider than the region.
    const room = r.end - r.start;
    const width = room >= 4 && c.rng.chance(0.5) ? 4 : room >= 2 ? 2 : 1;
    const span = Math.max(1, Math.floor((r.end - r.start) / width));
    f = { at: r.start + c.rng.int(span) * width, width, name: `word${width * 8}` };
  }
  const width = Math.min(f.width, c.b.length - f.at) as 1 | 2 | 4 | 8;
  const old = readLE(c.b, f.at, width);
  let v = interestingFor(c, width, old);
  if (v.lo === old.lo && v.hi === old.hi) v = { lo: (old.lo ^ 1) >>> 0, hi: old.hi };
  writeLE(c.b, f.at, width, v.lo, v.hi);
  const show = (x: { lo: number; hi: number }): string => (width === 8 ? `${hex(x.hi)}:${hex(x.lo)}` : hex(x.lo));
  return [
    {
      op: 'field',
      target: `${r.label} ${f.name}`,
      kind: kindOf(r),
      at: f.at,
      len: width,
      detail: `${show(old)} -> ${show(v)}`,
    },
  ];
}

function truncate(c: Ctx): Mutation[] {
  const { map } = c.seed;
  const size = c.b.length;
  let to: number;
  const how = c.rng.int(4);
  if (how === 0) {
    to = c.rng.int(size);
  } else if (how === 1) {
    to = c.rng.pick(map.boundaries) + c.rng.pick([-1, 0, 1]);
  } else if (how === 2) {
    const r = pickRegion(c);
    to = c.rng.pick([r.start, r.end, r.end - 1, r.start + 1]);
  } else {
    to = size - c.rng.pick([1, map.blockSize, map.blockSize + 1, 2 * map.blockSize]);
  }
  to = Math.max(0, Math.min(size - 1, to));
  c.truncateTo = Math.min(c.truncateTo ?? size, to);
  return [
    { op: 'truncate', target: 'image end', kind: 'image', at: to, len: size - to, detail: `${size} -> ${to} bytes` },
  ];
}

function writeNid(c: Ctx, at: number, nid: { lo: number; hi: number }): void {
  writeLE(c.b, at + DE.nid, 8, nid.lo, nid.hi);
}

function crosslink(c: Ctx): Mutation[] {
  const { map } = c.seed;
  if (map.dirents.length === 0) return byteSet(c);
  const d = c.rng.pick(map.dirents);
  const old = readLE(c.b, d.at + DE.nid, 8);
  const maxNid = Math.floor((map.size - map.metaBase) / EROFS_ISLOT_SIZE);
  const dirs = map.inodes.filter((i) => i.type === 'dir');
  const self = map.inodes.find((i) => i.nid === d.dirNid);
  let nid: { lo: number; hi: number };
  let what: string;
  switch (c.rng.int(6)) {
    case 0: {
      const other = c.rng.pick(map.inodes);
      nid = { lo: other.nid, hi: 0 };
      what = `inode ${other.path}`;
      break;
    }
    case 1: {
      const choices = [map.rootNid, d.dirNid, self?.parentNid ?? map.rootNid, c.rng.pick(dirs).nid];
      nid = { lo: c.rng.pick(choices), hi: 0 };
      what = 'a directory';
      break;
    }
    case 2:
      nid = { lo: c.rng.int(Math.max(1, maxNid)), hi: 0 };
      what = 'a random in-range slot';
      break;
    case 3:
      nid = { lo: c.rng.pick([maxNid, maxNid + 1, maxNid - 1]), hi: 0 };
      what = 'the image end';
      break;
    case 4:
      nid = { lo: c.rng.u32(), hi: c.rng.pick(HIGH32) };
      what = 'a huge nid';
      break;
    default:
      nid = { lo: c.rng.pick([0, 1, 0xffffffff]), hi: 0 };
      what = 'an edge nid';
  }
  nid.lo >>>= 0;
  if (nid.lo === old.lo && nid.hi === old.hi) nid = { lo: maxNid + 1, hi: 0 };
  writeNid(c, d.at, nid);
  const muts: Mutation[] = [
    {
      op: 'crosslink',
      target: `dirent ${d.index} of dir nid ${d.dirNid}`,
      kind: 'dir-block',
      at: d.at + DE.nid,
      len: 8,
      detail: `nid ${old.hi ? `${hex(old.hi)}:` : ''}${old.lo} -> ${nid.hi ? `${hex(nid.hi)}:` : ''}${nid.lo} (${what})`,
    },
  ];
  if (c.rng.chance(0.3)) {
    const ftAt = d.at + DE.fileType;
    const before = c.b[ftAt];
    c.b[ftAt] = (before + 1 + c.rng.int(7)) & 7;
    muts.push({
      op: 'crosslink',
      target: `dirent ${d.index} of dir nid ${d.dirNid} fileType`,
      kind: 'dir-block',
      at: ftAt,
      len: 1,
      detail: `${before} -> ${c.b[ftAt]}`,
    });
  }
  return muts;
}

/** A block holding metadata most of the time: damaging file data alone exercises little. */
function pickTargetBlock(c: Ctx): number {
  const bs = c.seed.map.blockSize;
  const nblocks = Math.ceil(c.b.length / bs);
  if (c.rng.chance(0.8)) {
    const r = pickRegion(c);
    return Math.min(nblocks - 1, Math.floor((r.start + c.rng.int(r.end - r.start)) / bs));
  }
  return c.rng.int(nblocks);
}

function dupBlock(c: Ctx): Mutation[] {
  const bs = c.seed.map.blockSize;
  const nblocks = Math.ceil(c.b.length / bs);
  if (nblocks < 2) return zeroBlock(c);
  const to = pickTargetBlock(c);
  let from = c.rng.int(nblocks - 1);
  if (from >= to) from++;
  const len = Math.min(bs, c.b.length - to * bs, c.b.length - from * bs);
  const src = c.b.slice(from * bs, from * bs + len);
  if (Buffer.from(src).equals(Buffer.from(c.b.subarray(to * bs, to * bs + len)))) return zeroBlock(c);
  c.b.set(src, to * bs);
  return [{ op: 'dup-block', target: `block ${to}`, kind: 'image', at: to * bs, len, detail: `copy of block ${from}` }];
}

function zeroBlock(c: Ctx): Mutation[] {
  const bs = c.seed.map.blockSize;
  const to = pickTargetBlock(c);
  const len = Math.min(bs, c.b.length - to * bs);
  let fill = c.rng.chance(0.75) ? 0 : 0xff;
  const block = c.b.subarray(to * bs, to * bs + len);
  if (block.every((x) => x === fill)) fill ^= 0xff;
  block.fill(fill);
  return [
    { op: 'zero-block', target: `block ${to}`, kind: 'image', at: to * bs, len, detail: `filled with ${hex(fill)}` },
  ];
}

function swapDirents(c: Ctx): Mutation[] {
  const multi = c.seed.map.dirents.filter((d) => d.count >= 2);
  if (multi.length === 0) return crosslink(c);
  const d = c.rng.pick(multi);
  let j = c.rng.int(d.count - 1);
  if (j >= d.index) j++;
  const a = d.at;
  const b = d.blockStart + j * DIRENT_SIZE;
  // Whole records (names then no longer match their order or lengths) or nids only (names stay).
  const len = c.rng.chance(0.5) ? DIRENT_SIZE : 8;
  const ra = c.b.slice(a, a + len);
  const rb = c.b.slice(b, b + len);
  c.b.set(rb, a);
  c.b.set(ra, b);
  const target = `dirents ${d.index} and ${j} of dir nid ${d.dirNid}`;
  const detail = len === DIRENT_SIZE ? 'whole records swapped' : 'nids swapped';
  return [
    { op: 'swap-dirents', target, kind: 'dir-block', at: a, len, detail },
    { op: 'swap-dirents', target, kind: 'dir-block', at: b, len, detail },
  ];
}

/**
 * Make a file huge while keeping its structure: a chunk-based file gets bigger chunks (same table
 * length, so a file whose leading chunks are holes stays readable, now gigabytes long); a flat file
 * gets a large i_size. This reaches the >4 GiB offsets that single field smashes almost never do.
 */
function growFile(c: Ctx): Mutation[] {
  const bs = c.seed.map.blockSize;
  const chunks = (i: InodeLoc): number => Math.ceil(i.size / (bs * 2 ** (i.chunkFormat & CHUNK_FORMAT_BLKBITS_MASK)));
  const files = c.seed.map.inodes.filter((i) => i.type === 'file' && i.size > 0);
  if (files.length === 0) return fieldSmash(c);
  const chunked = files.filter((i) => i.layout === DATALAYOUT.CHUNK_BASED && chunks(i) >= 2);
  const f = chunked.length > 0 && c.rng.chance(0.7) ? c.rng.pick(chunked) : c.rng.pick(files);
  const maxSize = f.compact ? 0xffffffff : 2 ** 53 - 1;
  const sizeAt = f.iloc + (f.compact ? IC.size : IE.size);
  const sizeWidth = f.compact ? 4 : 8;
  const label = `inode nid ${f.nid} ${f.path}`;
  const out: Mutation[] = [];
  let size: number;
  if (f.layout === DATALAYOUT.CHUNK_BASED) {
    const bits = f.chunkFormat & CHUNK_FORMAT_BLKBITS_MASK;
    const count = chunks(f);
    const lastLen = f.size - (count - 1) * bs * 2 ** bits;
    let nb = Math.min(CHUNK_FORMAT_BLKBITS_MASK, bits + c.rng.range(1, 24));
    while (nb > bits + 1 && (count - 1) * bs * 2 ** nb + lastLen > maxSize) nb--;
    size = Math.min(maxSize, (count - 1) * bs * 2 ** nb + lastLen);
    const fmtAt = f.iloc + IC.u;
    const old = u16(c.b, fmtAt);
    writeLE(c.b, fmtAt, 2, (old & ~CHUNK_FORMAT_BLKBITS_MASK) | nb);
    out.push({
      op: 'grow-file',
      target: `${label} chunk bits`,
      kind: 'inode',
      at: fmtAt,
      len: 2,
      detail: `${bits} -> ${nb}`,
    });
    // Mostly also turn the leading chunks into holes: a huge file whose data then sits gigabytes in
    // (a mapped gigabyte-long chunk could not fit in the image and would only be refused).
    const table = c.seed.map.regions.find((r) => r.kind === 'chunk-table' && r.label.includes(`nid ${f.nid} `));
    if (table && c.rng.chance(0.8)) {
      const unit = (table.end - table.start) / count;
      for (let i = 0; i + 1 < count; i++)
        writeLE(c.b, table.start + i * unit + (unit === CHUNK_INDEX_SIZE ? CI.blkaddr : 0), 4, EROFS_NULL_ADDR);
      out.push({
        op: 'grow-file',
        target: `chunk table of ${label}`,
        kind: 'chunk-table',
        at: table.start,
        len: (count - 1) * unit,
        detail: `first ${count - 1} chunks made holes`,
      });
    }
  } else {
    size = c.rng.pick([
      2 ** 32 - 1,
      2 ** 32,
      2 ** 32 + f.size,
      f.size * 2 ** c.rng.range(4, 30),
      2 ** 43,
      2 ** 43 + 1,
      2 ** 52,
    ]);
    size = Math.min(maxSize, size);
  }
  if (size === f.size) size = Math.min(maxSize, f.size + 1);
  writeLE(c.b, sizeAt, sizeWidth, size % 0x100000000, Math.floor(size / 0x100000000));
  out.push({
    op: 'grow-file',
    target: `${label} i_size`,
    kind: 'inode',
    at: sizeAt,
    len: sizeWidth,
    detail: `${f.size} -> ${size}`,
  });
  return out;
}

/**
 * The ishare fingerprint's own failure modes: ishare_xattr_prefix_id at or past the prefix count (a
 * corrupt superblock), a prefix record of a bogus length, and a fingerprint value of the wrong
 * length or without "sha256:" (refused: the file is not shared, it still reads).
 */
function fingerprintDamage(c: Ctx): Mutation[] {
  const map = c.seed.map;
  const sbAt = EROFS_SUPER_OFFSET;
  const choices: (() => Mutation[])[] = [];
  choices.push(() => {
    // Out of range: count .. 255 (with the compat bit set, so the id is checked).
    const count = u8(c.b, sbAt + SB.xattrPrefixCount);
    const id = c.rng.chance(0.5) ? count : c.rng.range(count, 255);
    c.b[sbAt + SB.ishareXattrPrefixId] = id;
    const compatAt = sbAt + SB.featureCompat;
    writeLE(c.b, compatAt, 4, (u32(c.b, compatAt) | FEATURE_COMPAT.ISHARE_XATTRS) >>> 0);
    return [
      {
        op: 'fingerprint',
        target: 'superblock ishare_xattr_prefix_id',
        kind: 'superblock',
        at: sbAt + SB.featureCompat,
        len: SB.ishareXattrPrefixId - SB.featureCompat + 1,
        detail: `id ${id} of ${count} prefixes`,
      },
    ];
  });
  if (map.prefixRecords.length > 0) {
    choices.push(() => {
      const rec = c.rng.pick(map.prefixRecords);
      const len = c.rng.pick([0, 257, 0x1000, 0xffff, rec.len + 1, Math.max(0, rec.len - 1)]);
      writeLE(c.b, rec.at, 2, len);
      return [
        {
          op: 'fingerprint',
          target: 'long xattr prefix table record length',
          kind: 'prefix-table',
          at: rec.at,
          len: 2,
          detail: `${rec.len} -> ${len}`,
        },
      ];
    });
  }
  if (map.fingerprints.length > 0) {
    choices.push(() => {
      const f = c.rng.pick(map.fingerprints);
      // 37 or 38 keep the entry's padded slot (44 bytes); 36, 32 and 0 shrink it, or make it the
      // pre-upstream raw 32-byte digest: the value is refused, or what follows no longer parses.
      const size = c.rng.pick([32, 36, 37, 38, 0]);
      writeLE(c.b, f.at + 2, 2, size);
      return [
        {
          op: 'fingerprint',
          target: `fingerprint value size in ${f.label}`,
          kind: 'xattr-ibody',
          at: f.at + 2,
          len: 2,
          detail: `${f.valueSize} -> ${size}`,
        },
      ];
    });
    choices.push(() => {
      const f = c.rng.pick(map.fingerprints);
      const bad = c.rng.pick(['sha512:', 'SHA256:', 'sha256 ', '\0\0\0\0\0\0\0']);
      for (let i = 0; i < 7 && f.valueAt + i < c.b.length; i++) c.b[f.valueAt + i] = bad.charCodeAt(i);
      return [
        {
          op: 'fingerprint',
          target: `fingerprint value prefix in ${f.label}`,
          kind: 'xattr-ibody',
          at: f.valueAt,
          len: 7,
          detail: `"sha256:" -> ${JSON.stringify(bad)}`,
        },
      ];
    });
  }
  return c.rng.pick(choices)();
}

const MUTATORS: Record<MutationOp, (c: Ctx) => Mutation[]> = {
  bitflip,
  byte: byteSet,
  field: fieldSmash,
  truncate,
  crosslink,
  'dup-block': dupBlock,
  'zero-block': zeroBlock,
  'swap-dirents': swapDirents,
  'grow-file': growFile,
  fingerprint: fingerprintDamage,
};

/** Recompute the superblock checksum of a mutated image when it still announces one. */
function fixChecksum(b: Uint8Array): boolean {
  if (b.length < EROFS_SUPER_OFFSET + SB.featureIncompat) return false;
  if (!(u32(b, EROFS_SUPER_OFFSET + SB.featureCompat) & FEATURE_COMPAT.SB_CHKSUM)) return false;
  const bits = b[EROFS_SUPER_OFFSET + SB.blkszbits];
  if (bits < EROFS_MIN_BLKSZBITS || bits > EROFS_MAX_BLKSZBITS) return false;
  const bs = 1 << bits;
  if (b.length < EROFS_SUPER_OFFSET + checksumLength(bs)) return false;
  writeLE(b, EROFS_SUPER_OFFSET + SB.checksum, 4, superblockChecksum(b, bs));
  return true;
}

/** Apply one image's worth of mutations to a copy of `seed`. */
export function mutateImage(
  seed: SeedImage,
  rng: Prng,
  opts: MutateOptions = {},
): { bytes: Uint8Array; mutations: Mutation[]; checksumFixed: boolean } {
  const c: Ctx = { seed, rng, b: seed.bytes.slice(), opts, truncateTo: undefined };
  const roll = rng.float();
  const count = opts.count ?? (roll < 0.55 ? 1 : roll < 0.8 ? 2 : rng.range(3, 5));
  const ops = opts.ops ? OP_WEIGHTS.filter(([, op]) => opts.ops!.includes(op)) : OP_WEIGHTS;
  if (ops.length === 0) throw new RangeError('no mutation operation left to choose from');
  const mutations: Mutation[] = [];
  for (let i = 0; i < count; i++) mutations.push(...MUTATORS[rng.weighted(ops)](c));
  // Truncation last: the other mutations were aimed at the full-length image.
  let bytes = c.truncateTo === undefined ? c.b : c.b.slice(0, c.truncateTo);
  const wantFix = opts.fixChecksum ?? rng.chance(0.85);
  const checksumFixed = seed.map.hasChecksum && wantFix ? fixChecksum(bytes) : false;
  if (bytes === seed.bytes) bytes = bytes.slice();
  return { bytes, mutations, checksumFixed };
}

/** Image `index` of a run: which seed it starts from and what is done to it depend only on (seed, index). */
export function generateImage(
  seeds: readonly SeedImage[],
  runSeed: number,
  index: number,
  opts: MutateOptions = {},
): MutatedImage {
  if (seeds.length === 0) throw new RangeError('no seed images');
  const rng = imageRng(runSeed, index);
  const seed = seeds[rng.int(seeds.length)];
  const m = mutateImage(seed, rng, opts);
  return { seed: seed.name, index, ...m };
}

/** The mutation log as text (saved beside a failing image). */
export function describeMutations(img: MutatedImage, runSeed: number): string {
  const lines = [
    `seed image: ${img.seed}`,
    `run seed ${runSeed}, image index ${img.index} (replay: ishare fuzz --replay <this .img>)`,
    `image size ${img.bytes.length} bytes; superblock checksum ${img.checksumFixed ? 'recomputed after mutating' : 'left as is'}`,
    'mutations:',
    ...img.mutations.map((m) => `  ${m.op} ${m.target} @${m.at}+${m.len}: ${m.detail}`),
  ];
  return lines.join('\n') + '\n';
}
