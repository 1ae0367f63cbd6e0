// File data mapping and reading for unencoded inodes (kernel: data.c erofs_map_blocks). The mapping
// functions fill a caller-owned MappingOut so the kernel's readahead path allocates nothing per call;
// all validation that would cost allocation (chunk tables) happens once, when a table is loaded.
import { ErofsError } from './errors.ts';
import { CHUNK_INDEX_SIZE, CI, DATALAYOUT, EROFS_NULL_ADDR } from './format.ts';
import { chunkEntrySize, chunkSize } from './inode.ts';
import { deviceSpaceOf } from './metabox.ts';
import { readAt, u16, u32 } from './source.ts';
import type { BlockMapping, BlockSource, ErofsInode, Superblock } from './types.ts';

export const MAP_MAPPED = 0;
export const MAP_HOLE = 1;
export const MAP_INLINE = 2;

/** Mutable, reusable mapping result for the hot path (no allocation per call). */
export interface MappingOut {
  kind: 0 | 1 | 2; // 0 mapped, 1 hole, 2 inline
  logical: number;
  length: number;
  physical: number;
}

export function newMappingOut(): MappingOut {
  return { kind: MAP_HOLE, logical: 0, length: 0, physical: -1 };
}

export function toBlockMapping(m: MappingOut): BlockMapping {
  const kind = m.kind === MAP_MAPPED ? 'mapped' : m.kind === MAP_HOLE ? 'hole' : 'inline';
  return { kind, logical: m.logical, length: m.length, physical: m.physical };
}

/** A CHUNK_BASED inode's chunk table, validated once: every mapped chunk lies inside its device. */
export interface ChunkTable {
  readonly chunkSize: number;
  /**
   * Byte address of each chunk in the image's unified address space (devices.ts: a chunk on device d
   * sits at device d's base plus its block), -1 for a hole.
   */
  readonly physical: Float64Array;
}

function alignUp(x: number, a: number): number {
  return Math.ceil(x / a) * a;
}

export function chunkTablePosition(inode: ErofsInode): number {
  return alignUp(inode.iloc + inode.inodeSize + inode.xattrSize, chunkEntrySize(inode));
}

export function loadChunkTable(src: BlockSource, sb: Superblock, inode: ErofsInode): ChunkTable {
  const cs = chunkSize(sb, inode);
  const unit = chunkEntrySize(inode);
  const count = Math.ceil(inode.size / cs);
  const pos = chunkTablePosition(inode);
  // Checked before allocating: a forged i_size cannot make us allocate more than the image holds.
  if (pos + count * unit > src.size) {
    throw new ErofsError(
      'ETRUNCATED',
      `chunk table of nid ${inode.nid} (${count} entries) runs past the end of the image`,
      pos,
    );
  }
  const space = deviceSpaceOf(src);
  const raw = readAt(src, pos, count * unit);
  const physical = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const at = i * unit;
    const len = Math.min(cs, inode.size - i * cs);
    let blk: number;
    let dev = 0;
    if (unit === CHUNK_INDEX_SIZE) {
      blk = u32(raw, at + CI.blkaddr);
      // The kernel masks the id with device_id_mask (0 on a single-device image) and takes the high
      // 16 bits of the start block from the field older images keep zero.
      if (blk !== EROFS_NULL_ADDR) blk += u16(raw, at + CI.startblkHi) * 0x100000000;
      dev = u16(raw, at + CI.deviceId);
    } else {
      blk = u32(raw, at);
    }
    if (blk === EROFS_NULL_ADDR) {
      physical[i] = -1;
      continue;
    }
    let addr: number;
    if (space !== undefined) {
      try {
        addr = space.chunkAddress(dev, blk, sb.blockSize, len);
      } catch (e) {
        if (e instanceof ErofsError)
          throw new ErofsError(e.code, `chunk ${i} of nid ${inode.nid}: ${e.message}`, pos + at);
        throw e;
      }
    } else {
      addr = blk * sb.blockSize;
    }
    if (addr + len > src.size) {
      throw new ErofsError(
        'ETRUNCATED',
        `chunk ${i} of nid ${inode.nid} points at block ${blk}, past the end of the image`,
        pos + at,
      );
    }
    physical[i] = addr;
  }
  return { chunkSize: cs, physical };
}

function checkOffset(inode: ErofsInode, offset: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || offset >= inode.size) {
    throw new ErofsError('EINVAL', `offset ${offset} outside file of ${inode.size} bytes (nid ${inode.nid})`);
  }
  if (inode.compressed) {
    throw new ErofsError(
      'EUNSUPPORTED',
      `compressed inode: block mapping does not apply (nid ${inode.nid} maps through its extents)`,
      inode.iloc,
    );
  }
}

/**
 * Map the extent holding `offset` of a FLAT_PLAIN / FLAT_INLINE inode. Flat files are one extent of
 * whole blocks, plus (inline) a tail packed right after the inode and its xattrs in the same block.
 */
export function mapFlatInto(
  src: BlockSource,
  sb: Superblock,
  inode: ErofsInode,
  offset: number,
  out: MappingOut,
): void {
  const bs = sb.blockSize;
  const size = inode.size;
  if (inode.layout === DATALAYOUT.FLAT_PLAIN && inode.rawBlkaddr === EROFS_NULL_ADDR) {
    out.kind = MAP_HOLE;
    out.logical = 0;
    out.length = size;
    out.physical = -1;
    return;
  }
  const tail = inode.layout === DATALAYOUT.FLAT_INLINE ? 1 : 0;
  const flatEnd = (Math.ceil(size / bs) - tail) * bs;
  if (offset < flatEnd) {
    const length = flatEnd < size ? flatEnd : size;
    const physical = inode.rawBlkaddr * bs;
    if (physical + length > src.size) {
      throw new ErofsError(
        'ETRUNCATED',
        `data of nid ${inode.nid} (${size} bytes at block ${inode.rawBlkaddr}) runs past the end of the image`,
        inode.iloc,
      );
    }
    out.kind = MAP_MAPPED;
    out.logical = 0;
    out.length = length;
    out.physical = physical;
    return;
  }
  const physical = inode.iloc + inode.inodeSize + inode.xattrSize;
  const length = size - flatEnd;
  if ((physical % bs) + length > bs) {
    throw new ErofsError('ECORRUPT', `inline data of nid ${inode.nid} crosses a block boundary`, physical);
  }
  if (physical + length > src.size) {
    throw new ErofsError('ETRUNCATED', `inline data of nid ${inode.nid} runs past the end of the image`, physical);
  }
  out.kind = MAP_INLINE;
  out.logical = flatEnd;
  out.length = length;
  out.physical = physical;
}

export function mapChunkInto(
  table: ChunkTable,
  sb: Superblock,
  inode: ErofsInode,
  offset: number,
  out: MappingOut,
): void {
  const cs = table.chunkSize;
  const i = Math.floor(offset / cs);
  const logical = i * cs;
  const rest = inode.size - logical;
  out.logical = logical;
  out.length = rest < cs ? rest : cs;
  const addr = table.physical[i];
  if (addr < 0) {
    out.kind = MAP_HOLE;
    out.physical = -1;
  } else {
    out.kind = MAP_MAPPED;
    out.physical = addr;
  }
}

/**
 * Map `offset` of `inode`; `table` must be the inode's chunk table for CHUNK_BASED inodes.
 * Throws EINVAL outside [0, size), EUNSUPPORTED for compressed inodes.
 */
export function mapInto(
  src: BlockSource,
  sb: Superblock,
  inode: ErofsInode,
  offset: number,
  out: MappingOut,
  table: ChunkTable | undefined,
): void {
  checkOffset(inode, offset);
  if (inode.layout === DATALAYOUT.CHUNK_BASED) {
    if (table === undefined) throw new ErofsError('EINVAL', `chunk table of nid ${inode.nid} not loaded`);
    mapChunkInto(table, sb, inode, offset, out);
  } else {
    mapFlatInto(src, sb, inode, offset, out);
  }
}

/**
 * Copy file bytes [offset, offset + dst.length) clamped at i_size into dst; holes read as zeros.
 * Returns the byte count. Each iteration consumes a non-empty extent, so the loop is bounded by the
 * number of extents, which the chunk table (inside the image) bounds.
 */
export function readData(
  src: BlockSource,
  inode: ErofsInode,
  dst: Uint8Array,
  offset: number,
  map: (offset: number, out: MappingOut) => void,
  m: MappingOut,
): number {
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new ErofsError('EINVAL', `bad read offset ${offset}`);
  }
  if (inode.compressed) {
    throw new ErofsError(
      'EUNSUPPORTED',
      `compressed inode: block mapping does not apply (nid ${inode.nid} maps through its extents)`,
      inode.iloc,
    );
  }
  const end = Math.min(inode.size, offset + dst.length);
  let pos = offset;
  while (pos < end) {
    map(pos, m);
    const extentEnd = m.logical + m.length;
    const stop = extentEnd < end ? extentEnd : end;
    if (!(stop > pos) || m.logical > pos) {
      throw new ErofsError('ECORRUPT', `empty extent at offset ${pos} of nid ${inode.nid}`, inode.iloc);
    }
    const piece = dst.subarray(pos - offset, stop - offset);
    if (m.kind === MAP_HOLE) piece.fill(0);
    else src.read(piece, m.physical + (pos - m.logical));
    pos = stop;
  }
  return end > offset ? end - offset : 0;
}
