// Extended attributes (kernel: xattr.c). An inode's xattr ibody is a 12-byte header, an array of
// shared-xattr ids (each a 4-byte-unit offset into the shared xattr area) and then inline entries.
// Long name prefixes (INCOMPAT_XATTR_PREFIXES) live in a table read once per image: each record is a
// short-prefix index ("base index") and an infix; an entry whose e_name_index is 0x80 | id takes
// that record's base and infix before its own suffix. Base index 0 means "no short prefix": such
// names are internal (the ishare fingerprint) and listxattr hides them, as the kernel does.
import { ErofsError } from './errors.ts';
import {
  FEATURE_COMPAT,
  FINGERPRINT_VALUE_PREFIX,
  FINGERPRINT_VALUE_SIZE,
  XATTR_ENTRY_SIZE,
  XATTR_IBODY_HEADER_SIZE,
  XATTR_LONG_PREFIX_FLAG,
  XATTR_LONG_PREFIX_MASK,
  XATTR_PREFIXES,
  XE,
  XH,
} from './format.ts';
import { hasMetabox, METABOX_POS_BASE } from './metabox.ts';
import { readAt, u16, u32, u8 } from './source.ts';
import type { BlockSource, ErofsInode, RawXattr, Superblock, Xattr } from './types.ts';

const utf8 = new TextDecoder('utf-8');
/** EROFS_NAME_LEN: a long prefix record is base_index (1 byte) + an infix of at most 255 bytes. */
const MAX_LONG_PREFIX_LEN = 1 + 255;

export interface XattrPrefix {
  readonly baseIndex: number;
  readonly infix: Uint8Array;
  /** Full prefix as listxattr would show it (short prefix + infix); undefined when hidden. */
  readonly prefix: string | undefined;
}

/** Reads `len` bytes at `pos` of some address space (the image, or the packed inode's data). */
export type SpaceReader = (pos: number, len: number) => Uint8Array;

/** The short prefix listxattr shows for a base index, or undefined (0 or unknown: hidden). */
export function shortPrefix(baseIndex: number): string | undefined {
  return baseIndex === 0 ? undefined : XATTR_PREFIXES[baseIndex];
}

/**
 * Parse the long xattr prefix table: `count` records, each a 4-byte-aligned u16 length followed by
 * base_index and the infix (erofs_xattr_prefixes_init: a length below 1 or above 256 is corrupt).
 */
export function parsePrefixTable(read: SpaceReader, start: number, count: number): XattrPrefix[] {
  const out: XattrPrefix[] = [];
  let pos = start * 4;
  for (let i = 0; i < count; i++) {
    pos = Math.ceil(pos / 4) * 4;
    const len = u16(read(pos, 2), 0);
    if (len < 1 || len > MAX_LONG_PREFIX_LEN) {
      throw new ErofsError('ECORRUPT', `long xattr prefix ${i} has bogus length ${len}`, pos);
    }
    const rec = read(pos + 2, len);
    const baseIndex = rec[0];
    const infix = rec.slice(1);
    const short = shortPrefix(baseIndex);
    out.push({ baseIndex, infix, prefix: short === undefined ? undefined : short + utf8.decode(infix) });
    pos += 2 + len;
  }
  return out;
}

/** Read one xattr entry at `pos`; returns the entry and its aligned on-disk size. */
function readEntry(
  src: BlockSource,
  pos: number,
  limit: number,
  prefixes: () => readonly XattrPrefix[],
): { xattr: RawXattr; size: number } {
  if (limit < XATTR_ENTRY_SIZE) {
    throw new ErofsError('ECORRUPT', `xattr entry header truncated by the ibody end`, pos);
  }
  const h = readAt(src, pos, XATTR_ENTRY_SIZE);
  const nameLen = u8(h, XE.nameLen);
  const valueSize = u16(h, XE.valueSize);
  const size = Math.ceil((XATTR_ENTRY_SIZE + nameLen + valueSize) / 4) * 4;
  if (size > limit) {
    throw new ErofsError('ECORRUPT', `xattr entry (${size} bytes) overruns its ibody`, pos);
  }
  const body = readAt(src, pos + XATTR_ENTRY_SIZE, nameLen + valueSize);
  const nameIndex = u8(h, XE.nameIndex);
  const suffix = body.subarray(0, nameLen);
  let baseIndex = nameIndex;
  let rest: Uint8Array = suffix;
  if (nameIndex & XATTR_LONG_PREFIX_FLAG) {
    const table = prefixes();
    const idx = nameIndex & XATTR_LONG_PREFIX_MASK;
    if (idx >= table.length) {
      throw new ErofsError('ECORRUPT', `xattr refers to long prefix ${idx}, image has ${table.length}`, pos);
    }
    const p = table[idx];
    baseIndex = p.baseIndex;
    rest = new Uint8Array(p.infix.length + nameLen);
    rest.set(p.infix, 0);
    rest.set(suffix, p.infix.length);
  }
  return { xattr: { baseIndex, rest, nameIndex, value: body.slice(nameLen) }, size };
}

/** Every xattr entry of an inode in on-disk order (shared ones first), hidden ones included. */
export function listRawXattrs(
  src: BlockSource,
  sb: Superblock,
  inode: ErofsInode,
  prefixes: () => readonly XattrPrefix[],
): RawXattr[] {
  const isize = inode.xattrSize;
  if (isize === 0) return [];
  const base = inode.iloc + inode.inodeSize;
  const hdr = readAt(src, base, XATTR_IBODY_HEADER_SIZE);
  const shared = u8(hdr, XH.sharedCount);
  const hdrSize = XATTR_IBODY_HEADER_SIZE + shared * 4;
  if (hdrSize > isize) {
    throw new ErofsError(
      'ECORRUPT',
      `xattr ibody of nid ${inode.nid} lists ${shared} shared xattrs, too many for ${isize} bytes`,
      base,
    );
  }
  const out: RawXattr[] = [];
  if (shared > 0) {
    const ids = readAt(src, base + XATTR_IBODY_HEADER_SIZE, shared * 4);
    // COMPAT_SHARED_EA_IN_METABOX: xattr_blkaddr counts from the start of the metabox data; without a
    // metabox the shared entries are nowhere (erofs_init_metabuf: -EFSCORRUPTED), as the kernel says.
    const inBox = (sb.featureCompat & FEATURE_COMPAT.SHARED_EA_IN_METABOX) !== 0;
    if (inBox && !hasMetabox(sb)) {
      throw new ErofsError('ECORRUPT', `nid ${inode.nid} has shared xattrs in a metabox the image does not have`, base);
    }
    const area = sb.xattrBlkaddr * sb.blockSize + (inBox ? METABOX_POS_BASE : 0);
    for (let i = 0; i < shared; i++) {
      const pos = area + u32(ids, i * 4) * 4;
      // A shared entry has no enclosing ibody; the image end bounds it.
      out.push(readEntry(src, pos, Number.MAX_SAFE_INTEGER, prefixes).xattr);
    }
  }
  let pos = base + hdrSize;
  let remaining = isize - hdrSize;
  while (remaining > 0) {
    const { xattr, size } = readEntry(src, pos, remaining, prefixes);
    out.push(xattr);
    pos += size;
    remaining -= size;
  }
  return out;
}

/** The name listxattr shows for an entry, or undefined when the kernel hides it (no handler). */
export function visibleName(x: RawXattr): string | undefined {
  const short = shortPrefix(x.baseIndex);
  return short === undefined ? undefined : short + utf8.decode(x.rest);
}

/** The xattrs listxattr shows, in on-disk order. */
export function listXattrs(
  src: BlockSource,
  sb: Superblock,
  inode: ErofsInode,
  prefixes: () => readonly XattrPrefix[],
): Xattr[] {
  const out: Xattr[] = [];
  for (const x of listRawXattrs(src, sb, inode, prefixes)) {
    const name = visibleName(x);
    if (name !== undefined) out.push({ name, value: x.value });
  }
  return out;
}

/** A name as erofs-utils prints it: short prefix (none for base 0) + infix + suffix. */
export function fullName(baseIndex: number, rest: Uint8Array): string {
  return (XATTR_PREFIXES[baseIndex] ?? '') + utf8.decode(rest);
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export type FingerprintResult =
  | { readonly status: 'none' }
  | { readonly status: 'ok'; readonly hex: string }
  | { readonly status: 'bad'; readonly reason: string };

const FP_PREFIX = new TextEncoder().encode(FINGERPRINT_VALUE_PREFIX);

/**
 * The fingerprint of an inode: the xattr named by the superblock's ishare prefix (matched by base
 * index and name, however the entry encodes it, as getxattr does), whose value must be "sha256:" and
 * 32 raw bytes — fsck.erofs rejects anything else, and so do we (the file is then not shared).
 */
export function findFingerprint(raw: readonly RawXattr[], prefix: XattrPrefix): FingerprintResult {
  for (const x of raw) {
    if (x.baseIndex !== prefix.baseIndex || !bytesEqual(x.rest, prefix.infix)) continue;
    const v = x.value;
    if (v.length !== FINGERPRINT_VALUE_SIZE) {
      return { status: 'bad', reason: `fingerprint value is ${v.length} bytes, not ${FINGERPRINT_VALUE_SIZE}` };
    }
    if (!bytesEqual(v.subarray(0, FP_PREFIX.length), FP_PREFIX)) {
      return { status: 'bad', reason: `fingerprint value does not start with "${FINGERPRINT_VALUE_PREFIX}"` };
    }
    return { status: 'ok', hex: toHex(v.subarray(FP_PREFIX.length)) };
  }
  return { status: 'none' };
}

export function toHex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}
