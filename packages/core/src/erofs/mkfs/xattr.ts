// Writer side of EROFS xattrs: names are stored as (name index, suffix) — the index stands for a
// well-known prefix — and each entry is header + suffix + value, padded to 4 bytes. Entries live in
// the inode's xattr body, or once in the shared area with the body holding their 4-byte id.
import { ErofsError } from '../errors.ts';
import {
  FINGERPRINT_VALUE_PREFIX,
  XATTR_ENTRY_SIZE,
  XATTR_IBODY_HEADER_SIZE,
  XATTR_LONG_PREFIX_FLAG,
  XATTR_LONG_PREFIX_HDR,
  XATTR_PREFIXES,
  XE,
  XH,
} from '../format.ts';

export interface EncodedXattr {
  readonly index: number;
  readonly suffix: Buffer;
  readonly value: Buffer;
  /** Identity for sharing and sorting: index, suffix and value together. */
  readonly key: string;
  /** On-disk size of the entry, padding included. */
  readonly size: number;
}

const MAX_SUFFIX = 255; // e_name_len is a u8
const MAX_VALUE = 0xffff; // e_value_size is a u16
/** h_shared_count is a u8. */
export const MAX_SHARED_PER_INODE = 255;
/** i_xattr_icount is a u16 of 4-byte units after the 12-byte header. */
export const MAX_IBODY = XATTR_IBODY_HEADER_SIZE + (0xffff - 1) * 4;

export function align4(n: number): number {
  return (n + 3) & ~3;
}

/** Prefix (index) for a full xattr name; the longest known prefix wins. Undefined if none fits. */
export function splitXattrName(name: string): { index: number; suffix: string } | undefined {
  let best: { index: number; suffix: string } | undefined;
  let bestLen = -1;
  for (const [idx, prefix] of Object.entries(XATTR_PREFIXES)) {
    // The ACL names are whole names, not prefixes.
    const whole = !prefix.endsWith('.');
    if (whole ? name === prefix : name.startsWith(prefix) && name.length > prefix.length) {
      if (prefix.length > bestLen) {
        best = { index: Number(idx), suffix: name.slice(prefix.length) };
        bestLen = prefix.length;
      }
    }
  }
  return best;
}

/** Encode one xattr or explain why EROFS cannot hold it. `where` names the file for the message. */
export function encodeXattr(name: string, value: Uint8Array, where: string): EncodedXattr {
  const split = splitXattrName(name);
  if (!split) {
    throw new ErofsError(
      'EUNSUPPORTED',
      `${where}: xattr ${name} has no EROFS name prefix (user., trusted., security., system.posix_acl_*)`,
    );
  }
  const suffix = Buffer.from(split.suffix, 'latin1');
  if (suffix.length > MAX_SUFFIX)
    throw new ErofsError('EUNSUPPORTED', `${where}: xattr name ${name} is longer than EROFS allows`);
  if (value.length > MAX_VALUE)
    throw new ErofsError(
      'EUNSUPPORTED',
      `${where}: xattr ${name} value of ${value.length} bytes is larger than EROFS allows (65535)`,
    );
  const v = Buffer.from(value);
  return {
    index: split.index,
    suffix,
    value: v,
    key: `${split.index}\0${suffix.toString('latin1')}\0${v.toString('latin1')}`,
    size: align4(XATTR_ENTRY_SIZE + suffix.length + v.length),
  };
}

/** The fingerprint xattr's name as a long-prefix record: a short prefix (or none) and an infix. */
export interface DigestName {
  /** Short-prefix index (0: none — an internal name listxattr hides). */
  readonly baseIndex: number;
  readonly infix: Buffer;
  /** The full name in the form xattr maps use (latin1 of its bytes), to drop a source copy. */
  readonly key: string;
}

/**
 * Check the --xattr-inode-digest name (text, as the user typed it), as erofs_xattr_insert_name_prefix
 * splits it: a known short prefix (user., trusted., security., ...) becomes the base index and the
 * rest the infix; any other name is a hidden internal one with base index 0.
 */
export function parseDigestName(name: string): DigestName {
  const bytes = Buffer.from(name, 'utf8');
  if (name.length === 0 || name.includes('\0') || bytes.length > MAX_SUFFIX) {
    throw new ErofsError('EINVAL', `fingerprint xattr name ${JSON.stringify(name)} must be 1..255 bytes without NUL`);
  }
  const key = bytes.toString('latin1');
  let baseIndex = 0;
  let plen = 0;
  for (const [idx, prefix] of Object.entries(XATTR_PREFIXES)) {
    if (key.startsWith(prefix) && prefix.length > plen) {
      baseIndex = Number(idx);
      plen = prefix.length;
    }
  }
  if (plen === key.length) {
    throw new ErofsError('EINVAL', `fingerprint xattr name ${JSON.stringify(name)} is only a namespace prefix`);
  }
  return { baseIndex, infix: bytes.subarray(plen), key };
}

/** The long-prefix table holding one record (id 0): __le16 size, base_index, infix, padded to 4. */
export function encodePrefixTable(d: DigestName): Buffer {
  const len = 1 + d.infix.length;
  const buf = Buffer.alloc(align4(XATTR_LONG_PREFIX_HDR + len));
  buf.writeUInt16LE(len, 0);
  buf.writeUInt8(d.baseIndex, XATTR_LONG_PREFIX_HDR);
  d.infix.copy(buf, XATTR_LONG_PREFIX_HDR + 1);
  return buf;
}

/** Long-prefix id the fingerprint uses: the only record of the table mkfs writes. */
export const FINGERPRINT_PREFIX_ID = 0;
const FP_PREFIX = Buffer.from(FINGERPRINT_VALUE_PREFIX, 'latin1');

/** The fingerprint entry as upstream writes it: e_name_index 0x80 | id, no suffix, "sha256:" + digest. */
export function fingerprintXattr(sha256: Buffer): EncodedXattr {
  const index = XATTR_LONG_PREFIX_FLAG | FINGERPRINT_PREFIX_ID;
  const value = Buffer.concat([FP_PREFIX, sha256]);
  return {
    index,
    suffix: Buffer.alloc(0),
    value,
    key: `${index}\0\0${value.toString('latin1')}`,
    size: align4(XATTR_ENTRY_SIZE + value.length),
  };
}

export function compareXattrs(a: EncodedXattr, b: EncodedXattr): number {
  return a.index - b.index || Buffer.compare(a.suffix, b.suffix) || Buffer.compare(a.value, b.value);
}

/** Write one entry at `pos` of `buf` (zero-filled there already); returns the position after it. */
export function writeEntry(buf: Buffer, pos: number, x: EncodedXattr): number {
  buf.writeUInt8(x.suffix.length, pos + XE.nameLen);
  buf.writeUInt8(x.index, pos + XE.nameIndex);
  buf.writeUInt16LE(x.value.length, pos + XE.valueSize);
  x.suffix.copy(buf, pos + XATTR_ENTRY_SIZE);
  x.value.copy(buf, pos + XATTR_ENTRY_SIZE + x.suffix.length);
  return pos + x.size;
}

/** Size of an inode's xattr body for the given shared ids and inline entries (0: no xattrs at all). */
export function ibodySize(sharedCount: number, inline: readonly EncodedXattr[]): number {
  if (sharedCount === 0 && inline.length === 0) return 0;
  let n = XATTR_IBODY_HEADER_SIZE + 4 * sharedCount;
  for (const x of inline) n += x.size;
  return n;
}

/** i_xattr_icount for a body of `size` bytes. */
export function ibodyIcount(size: number): number {
  return size === 0 ? 0 : (size - XATTR_IBODY_HEADER_SIZE) / 4 + 1;
}

/** Encode a whole xattr body: header (no name filter), shared ids, then the inline entries. */
export function writeIbody(
  buf: Buffer,
  pos: number,
  sharedIds: readonly number[],
  inline: readonly EncodedXattr[],
): number {
  if (sharedIds.length === 0 && inline.length === 0) return pos;
  buf.writeUInt32LE(0, pos + XH.nameFilter);
  buf.writeUInt8(sharedIds.length, pos + XH.sharedCount);
  let p = pos + XATTR_IBODY_HEADER_SIZE;
  for (const id of sharedIds) {
    buf.writeUInt32LE(id, p);
    p += 4;
  }
  for (const x of inline) p = writeEntry(buf, p, x);
  return p;
}

/**
 * Which xattrs to move to the shared area: those carried by several inodes where one shared copy
 * plus a 4-byte id per inode is smaller than a copy in each inode.
 */
export function chooseShared(perInode: readonly (readonly EncodedXattr[])[]): Set<string> {
  const count = new Map<string, { n: number; size: number }>();
  for (const list of perInode) {
    for (const x of list) {
      const c = count.get(x.key);
      if (c) c.n++;
      else count.set(x.key, { n: 1, size: x.size });
    }
  }
  const shared = new Set<string>();
  for (const [key, { n, size }] of count) if (n >= 2 && size * n > size + 4 * n) shared.add(key);
  return shared;
}
