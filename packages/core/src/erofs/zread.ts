// Reading compressed file data (erofs-utils lib/data.c z_erofs_read_data): walk the asked range from
// its end backwards, one extent at a time — map it, read its pcluster (or inline bytes, or the packed
// inode's fragment), decode just the prefix the range needs, and place it.
import { zDecompress } from './decompress.ts';
import { ErofsError } from './errors.ts';
import { ZReadWindow } from './zbio.ts';
import type { BlockSource, ErofsInode, Superblock } from './types.ts';
import {
  newZMapOut,
  ZF_FRAGMENT,
  ZF_FULL_MAPPED,
  ZF_MAPPED,
  ZF_PARTIAL_REF,
  type ZMapper,
  type ZMapOut,
} from './zmap.ts';
import { FEATURE_INCOMPAT, Z_ALG } from './format.ts';

/** Reads `len` bytes of the packed inode at `pos` into dst (the image's own reader, fragments only). */
export type PackedRead = (dst: Uint8Array, pos: number) => void;

/**
 * Decode extent `m` of `inode` for file bytes [m.la + skip, m.la + length) into `out`
 * (z_erofs_read_one_data). `trimmed`: the caller needs only a prefix of the extent. Returns the bytes:
 * `out`, or with `borrow` possibly the decoder's own output or the raw buffer (valid until the next
 * decode or read into `raw` on this thread), so that the caller copies them once, where they go.
 * `raw`: scratch for the pcluster, or a thread's device read window (zbio.ts) that serves it.
 */
export function zReadExtent(
  src: BlockSource,
  sb: Superblock,
  inode: ErofsInode,
  m: ZMapOut,
  fragmentOff: number,
  out: Uint8Array,
  skip: number,
  length: number,
  trimmed: boolean,
  packed: PackedRead | undefined,
  raw?: Uint8Array | ZReadWindow,
  borrow = false,
): Uint8Array {
  if (m.flags & ZF_FRAGMENT) {
    if (packed === undefined)
      throw new ErofsError('ECORRUPT', `compressed nid ${inode.nid}: fragment but the image has no packed inode`);
    packed(out, fragmentOff + skip);
    return out;
  }
  let input: Uint8Array;
  if (raw instanceof ZReadWindow) {
    input = raw.read(src, m.pa, m.plen);
  } else {
    input = raw !== undefined && raw.length >= m.plen ? raw.subarray(0, m.plen) : new Uint8Array(m.plen);
    src.read(input, m.pa);
  }
  return zDecompress({
    alg: m.alg,
    input,
    out,
    decodedLength: length,
    skip,
    interlacedOffset: m.alg === Z_ALG.INTERLACED ? m.la % sb.blockSize : 0,
    partial: trimmed || !(m.flags & ZF_FULL_MAPPED) || (m.flags & ZF_PARTIAL_REF) !== 0,
    blockSize: sb.blockSize,
    zeroPadding: (sb.featureIncompat & FEATURE_INCOMPAT.ZERO_PADDING) !== 0,
    nid: inode.nid,
    lzmaDictSize: sb.lzmaDictSize,
    borrow,
  });
}

/** Copy file bytes [offset, offset + dst.length) clamped at i_size into dst. Returns the byte count. */
export function zReadData(
  src: BlockSource,
  sb: Superblock,
  mapper: ZMapper,
  dst: Uint8Array,
  offset: number,
  packed: PackedRead | undefined,
): number {
  const inode = mapper.inode;
  if (!Number.isSafeInteger(offset) || offset < 0) throw new ErofsError('EINVAL', `bad read offset ${offset}`);
  const total = Math.max(0, Math.min(inode.size, offset + dst.length) - offset);
  const m = newZMapOut();
  let end = offset + total;
  while (end > offset) {
    mapper.map(end - 1, m);
    if (!(m.la < end) || m.la + m.llen < end) {
      throw new ErofsError(
        'ECORRUPT',
        `compressed nid ${inode.nid}: extent [${m.la}, ${m.la + m.llen}) does not hold offset ${end - 1}`,
      );
    }
    const trimmed = end < m.la + m.llen;
    const length = end - m.la;
    let skip: number;
    let next: number;
    if (m.la < offset) {
      skip = offset - m.la;
      next = offset;
    } else {
      skip = 0;
      next = m.la;
    }
    const piece = dst.subarray(next - offset, end - offset);
    if (!(m.flags & ZF_MAPPED)) piece.fill(0);
    else zReadExtent(src, sb, inode, m, mapper.info.fragmentOff, piece, skip, length, trimmed, packed);
    end = next;
  }
  return total;
}
