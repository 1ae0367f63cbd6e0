// Test-only forger: turn one encoded extent of an upstream 48-bit compressed file into a hole.
//
// erofs-utils 1.9.3 has no Z_EROFS_LI_HOLE; in 1.9.x (and mainline's z_erofs_map_blocks_ext) a
// compressed file's hole is an encoded extent record whose plen has no length bits
// (plen & Z_EROFS_EXTENT_PLEN_MASK == 0) and which is not the fragment tail: the map leaves
// EROFS_MAP_MAPPED unset and readers fill the range with zeros (lib/zmap.c z_erofs_map_blocks_ext,
// `else if (map->m_plen & Z_EROFS_EXTENT_PLEN_MASK)`; lib/data.c erofs_pread, `!(map.m_flags &
// EROFS_MAP_MAPPED)` -> memset). Upstream mkfs never writes one (lib/compress.c sets plen 0 only for
// a fragment), so the cell forges it from a real upstream image: the record is found by layout
// alone (include/erofs_fs.h: records start at round_up(Z_EROFS_MAP_HEADER_END(iloc + isize +
// xattr_isize), recsz), recsz = 4 << ((h_advise >> Z_EROFS_ADVISE_EXTRECSZ_BIT) & 3), each
// {plen, pstart_lo, pstart_hi, lstart_lo, lstart_hi}) and matched by the logical start upstream's
// dump.erofs -e printed. The expected bytes come from upstream fsck.erofs --extract of the result.
import { fixChecksum } from '../../packages/core/test/erofs-synth.ts';

const Z_EROFS_ADVISE_EXTENTS = 0x0001;
const EROFS_SUPER_OFFSET = 1024;
const SB_FEATURE_COMPAT = 8;
const COMPAT_SB_CHKSUM = 0x1;
const Z_EROFS_ADVISE_EXTRECSZ_BIT = 1;
const MAP_HEADER_SIZE = 8;
const H_ADVISE = 4;
const REC_PLEN = 0;
const REC_LSTART_LO = 12;

const roundUp = (x: number, a: number): number => Math.ceil(x / a) * a;

/**
 * Zero the plen of the extent record of the inode at `iloc` (its inode and xattr ibody `ibodyEnd -
 * iloc` bytes long) that starts at logical byte `lstart`, then re-seal the superblock checksum (it
 * covers the rest of block 0, where small images keep their inodes). Returns the record's offset.
 */
export function forgeExtentHole(img: Uint8Array, ibodyEnd: number, lstart: number): number {
  const dv = new DataView(img.buffer, img.byteOffset, img.byteLength);
  const header = roundUp(ibodyEnd, 8);
  const advise = dv.getUint16(header + H_ADVISE, true);
  if (!(advise & Z_EROFS_ADVISE_EXTENTS)) throw new Error('forgeExtentHole: the inode has no encoded extents');
  const recsz = 4 << ((advise >> Z_EROFS_ADVISE_EXTRECSZ_BIT) & 3);
  if (recsz < REC_LSTART_LO + 4) throw new Error(`forgeExtentHole: ${recsz}-byte records carry no logical start`);
  const extents = dv.getUint32(header, true);
  const first = roundUp(header + MAP_HEADER_SIZE, recsz);
  for (let i = 0; i < extents; i++) {
    const rec = first + i * recsz;
    if (dv.getUint32(rec + REC_LSTART_LO, true) === lstart) {
      dv.setUint32(rec + REC_PLEN, 0, true);
      if (dv.getUint32(EROFS_SUPER_OFFSET + SB_FEATURE_COMPAT, true) & COMPAT_SB_CHKSUM) fixChecksum(img);
      return rec;
    }
  }
  throw new Error(`forgeExtentHole: no extent record starts at ${lstart}`);
}
