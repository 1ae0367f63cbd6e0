// Extended attributes (kernel: xattr.c). An inode's xattr ibody is a 12-byte header, an array of
// shared-xattr ids (each a 4-byte-unit offset into the shared xattr area) and then inline entries.
// Long name prefixes (XATTR_PREFIXES) live in a table read once per image.
import { ErofsError } from './errors.ts';
import {
  XATTR_ENTRY_SIZE,
  XATTR_IBODY_HEADER_SIZE,
  XATTR_LONG_PREFIX_FLAG,
  XATTR_PREFIXES,
  XE,
  XH,
} from './format.ts';
import { readAt, u16, u32, u8 } from './source.ts';
import type { BlockSource, ErofsInode, Superblock, Xattr } from './types.ts';

const utf8 = new TextDecoder('utf-8');
/** A long prefix is base_index (1 byte) + infix; the kernel caps the infix at a name's length. */
const MAX_LONG_PREFIX_LEN = 1 + 255;

export interface XattrPrefix {
  readonly baseIndex: number;
  /** Full prefix string (short prefix + infix), e.g. "trusted.erofs.". */
  readonly prefix: string | undefined;
}

/** Reads `len` bytes at `pos` of some address space (the image, or the packed inode's data). */
export type SpaceReader = (pos: number, len: number) => Uint8Array;

/**
 * Parse the long xattr prefix table: `count` records, each a 4-byte-aligned u16 length (0 means
 * 65536, as erofs_read_metadata has it) followed by base_index and the infix.
 */
export function parsePrefixTable(read: SpaceReader, start: number, count: number): XattrPrefix[] {
  const out: XattrPrefix[] = [];
  let pos = start * 4;
  for (let i = 0; i < count; i++) {
    pos = Math.ceil(pos / 4) * 4;
    let len = u16(read(pos, 2), 0);
    if (len === 0) len = 65536;
    if (len > MAX_LONG_PREFIX_LEN) {
      throw new ErofsError('ECORRUPT', `long xattr prefix ${i} has bogus length ${len}`, pos);
    }
    const rec = read(pos + 2, len);
    const short = XATTR_PREFIXES[rec[0]!];
    out.push({
      baseIndex: rec[0]!,
      prefix: short === undefined ? undefined : short + utf8.decode(rec.subarray(1)),
    });
    pos += 2 + len;
  }
  return out;
}

function entryName(
  nameIndex: number,
  suffix: Uint8Array,
  prefixes: () => readonly XattrPrefix[],
  pos: number,
): string | undefined {
  let prefix: string | undefined;
  if (nameIndex & XATTR_LONG_PREFIX_FLAG) {
    const table = prefixes();
    const idx = nameIndex & ~XATTR_LONG_PREFIX_FLAG;
    if (idx >= table.length) {
      throw new ErofsError('ECORRUPT', `xattr refers to long prefix ${idx}, image has ${table.length}`, pos);
    }
    prefix = table[idx]!.prefix;
  } else {
    prefix = XATTR_PREFIXES[nameIndex];
  }
  // Unknown namespaces are skipped, as the kernel's listxattr skips entries without a handler.
  return prefix === undefined ? undefined : prefix + utf8.decode(suffix);
}

/** Read one xattr entry at `pos`; returns the entry and its aligned on-disk size. */
function readEntry(
  src: BlockSource,
  pos: number,
  limit: number,
  prefixes: () => readonly XattrPrefix[],
): { xattr: Xattr | undefined; size: number } {
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
  const name = entryName(u8(h, XE.nameIndex), body.subarray(0, nameLen), prefixes, pos);
  return { xattr: name === undefined ? undefined : { name, value: body.slice(nameLen) }, size };
}

/** All xattrs of an inode in on-disk order: shared ones first, then inline ones. */
export function listXattrs(
  src: BlockSource,
  sb: Superblock,
  inode: ErofsInode,
  prefixes: () => readonly XattrPrefix[],
): Xattr[] {
  const isize = inode.xattrSize;
  if (isize === 0) return [];
  const base = inode.iloc + inode.inodeSize;
  const hdr = readAt(src, base, XATTR_IBODY_HEADER_SIZE);
  const shared = u8(hdr, XH.sharedCount);
  const hdrSize = XATTR_IBODY_HEADER_SIZE + shared * 4;
  if (hdrSize > isize) {
    throw new ErofsError('ECORRUPT', `xattr ibody of nid ${inode.nid} lists ${shared} shared xattrs, too many for ${isize} bytes`, base);
  }
  const out: Xattr[] = [];
  if (shared > 0) {
    const ids = readAt(src, base + XATTR_IBODY_HEADER_SIZE, shared * 4);
    const area = sb.xattrBlkaddr * sb.blockSize;
    for (let i = 0; i < shared; i++) {
      const pos = area + u32(ids, i * 4) * 4;
      // A shared entry has no enclosing ibody; the image end bounds it.
      const { xattr } = readEntry(src, pos, Number.MAX_SAFE_INTEGER, prefixes);
      if (xattr) out.push(xattr);
    }
  }
  let pos = base + hdrSize;
  let remaining = isize - hdrSize;
  while (remaining > 0) {
    const { xattr, size } = readEntry(src, pos, remaining, prefixes);
    if (xattr) out.push(xattr);
    pos += size;
    remaining -= size;
  }
  return out;
}

export function toHex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}
