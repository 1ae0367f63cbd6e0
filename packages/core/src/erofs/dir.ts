// Directory blocks (kernel: dir.c erofs_fill_dentries, namei.c). Each directory block holds an array
// of 12-byte dirents followed by their names; de[0].nameoff tells where the array ends. Names are not
// NUL-terminated except the last one of a block, which runs to a NUL or to the end of the block.
import { ErofsError } from './errors.ts';
import { DE, DIRENT_SIZE } from './format.ts';
import { u16, u64, u8 } from './source.ts';
import type { DirEntry } from './types.ts';

const EROFS_NAME_LEN = 255;
const utf8 = new TextDecoder('utf-8');

/**
 * Parse one directory block. `block` holds the valid bytes of the block (min(blockSize, i_size -
 * block start)); `pos` is its byte position in the image (for error offsets) when known.
 * `nidOk` says whether a nid names an inode slot inside the image.
 */
export function parseDirBlock(
  block: Uint8Array,
  dirNid: number,
  pos: number | undefined,
  nidOk: (nid: number) => boolean,
  decodeNid: (b: Uint8Array, off: number) => number = u64,
): DirEntry[] {
  const maxsize = block.length;
  const at = (off: number): number | undefined => (pos === undefined ? undefined : pos + off);
  if (maxsize < DIRENT_SIZE) {
    throw new ErofsError('ECORRUPT', `directory block of nid ${dirNid} too short (${maxsize} bytes)`, at(0));
  }
  const nameStart = u16(block, DE.nameoff);
  if (nameStart < DIRENT_SIZE || nameStart >= maxsize) {
    throw new ErofsError('ECORRUPT', `invalid de[0].nameoff ${nameStart} in directory nid ${dirNid}`, at(DE.nameoff));
  }
  const count = Math.floor(nameStart / DIRENT_SIZE);
  const out: DirEntry[] = new Array<DirEntry>(count);
  for (let i = 0; i < count; i++) {
    const de = i * DIRENT_SIZE;
    const nameoff = u16(block, de + DE.nameoff);
    let len: number;
    if (i + 1 < count) {
      len = u16(block, de + DIRENT_SIZE + DE.nameoff) - nameoff;
    } else {
      const nul = nameoff < maxsize ? block.indexOf(0, nameoff) : -1;
      len = (nul < 0 ? maxsize : nul) - nameoff;
    }
    if (nameoff < nameStart || len < 1 || len > EROFS_NAME_LEN || nameoff + len > maxsize) {
      throw new ErofsError(
        'ECORRUPT',
        `bogus dirent ${i} in directory nid ${dirNid} (nameoff ${nameoff}, name length ${len})`,
        at(de),
      );
    }
    const nameBytes = block.slice(nameoff, nameoff + len);
    // No path can name such an entry: upstream fsck.erofs extracts "a\0b" as "a" (found by the
    // differential fuzz pass), the kernel hands userspace a name cut at the NUL, '/' splits it in two.
    if (nameBytes.includes(0) || nameBytes.includes(0x2f)) {
      throw new ErofsError(
        'ECORRUPT',
        `dirent ${i} in directory nid ${dirNid}: not a valid file name (it holds a NUL or '/' byte)`,
        at(nameoff),
      );
    }
    const nid = decodeNid(block, de + DE.nid);
    if (!nidOk(nid)) {
      throw new ErofsError(
        'ECORRUPT',
        `dirent "${utf8.decode(nameBytes)}" in directory nid ${dirNid} points at nid ${nid < 0 ? '>= 2^53' : nid}, out of range`,
        at(de),
      );
    }
    out[i] = { name: utf8.decode(nameBytes), nameBytes, nid, fileType: u8(block, de + DE.fileType) };
  }
  return out;
}

/** Byte-wise name order, the order mkfs sorts dirents in (strcmp over the raw names). */
export function compareNames(a: Uint8Array, b: Uint8Array): number {
  const n = a.length < b.length ? a.length : b.length;
  for (let i = 0; i < n; i++) {
    const d = a[i] - b[i];
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** Binary search for `name` among entries[from..] of one (sorted) block. */
export function findInBlock(entries: readonly DirEntry[], name: Uint8Array, from = 0): DirEntry | undefined {
  let lo = from;
  let hi = entries.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const c = compareNames(name, entries[mid].nameBytes);
    if (c === 0) return entries[mid];
    if (c > 0) lo = mid + 1;
    else hi = mid - 1;
  }
  return undefined;
}
