// Test-only forger: move the shared xattr area of an upstream metabox image into its metadata box
// and set COMPAT_SHARED_EA_IN_METABOX.
//
// erofs-utils 1.9.3 defines the bit (include/erofs_fs.h EROFS_FEATURE_COMPAT_SHARED_EA_IN_METABOX
// 0x8) and reads it (lib/xattr.c erofs_xattr_iter_shared: erofs_init_metabuf(..,
// erofs_sb_has_shared_ea_in_metabox(sbi)), then pos = erofs_pos(sbi, xattr_blkaddr) + id * 4), as
// mainline does since the metadata-compression patch (fs/erofs/xattr.c erofs_xattr_iter_shared,
// erofs_init_metabuf(&it->buf, sb, erofs_sb_has_shared_ea_in_metabox(sbi)); fs/erofs/data.c: with
// in_metabox the buffer reads the metabox inode's page cache, -EFSCORRUPTED without one). Its mkfs
// never sets it (lib/xattr.c erofs_load_shared_xattrs_from_path always allocates the area in the
// primary device's bmgr), so the cell forges it from a real upstream `-m` image:
//  - the shared entries are found through the inodes that use them: the caller names the inodes
//    (nid, inode and xattr ibody sizes, as upstream dump.erofs prints them); their ibody headers
//    (struct erofs_xattr_ibody_header: h_shared_count at 4, h_shared_xattrs[] at 12) list the ids,
//    each entry (struct erofs_xattr_entry: e_name_len, e_name_index, e_value_size) is
//    round_up(4 + name + value, 4) bytes at xattr_blkaddr * blksz + id * 4;
//  - the metabox inode (FLAT_PLAIN: its data is contiguous from startblk) moves to the end of the
//    image with one more block range after its old data, where those entries are copied at the same
//    offset from the new xattr_blkaddr (so every id stays valid), i_size grows to cover them;
//  - the entries' old bytes are zeroed (a reader ignoring the bit reads empty entries, not the
//    right ones), xattr_blkaddr names the block in the metabox, the superblock checksum is resealed.
import { fixChecksum } from '../../packages/core/test/erofs-synth.ts';

const EROFS_SUPER_OFFSET = 1024;
const SB_FEATURE_COMPAT = 8;
const SB_BLKSZBITS = 12;
const SB_BLOCKS_HI = 14; // (48BIT) u16
const SB_BLOCKS_LO = 36;
const SB_META_BLKADDR = 40;
const SB_XATTR_BLKADDR = 44;
const SB_FEATURE_INCOMPAT = 80;
const SB_METABOX_NID = 128;
const COMPAT_SB_CHKSUM = 0x1;
const COMPAT_SHARED_EA_IN_METABOX = 0x8;
const INCOMPAT_48BIT = 0x80;
const INCOMPAT_METABOX = 0x100;
const EROFS_I_VERSION_MASK = 0x1;
const EROFS_I_DATALAYOUT_BIT = 1;
const EROFS_I_NLINK_1_BIT = 4;
const EROFS_INODE_FLAT_PLAIN = 0;
const I_NB = 6;
const I_SIZE = 8;
const I_U = 16;
const XH_SHARED_COUNT = 4;
const XATTR_IBODY_HEADER_SIZE = 12;
const NID_METABOX_BIT = 1n << 63n;

/** An inode of the image as upstream dump.erofs --path prints it. */
export interface DumpedInode {
  /** The on-disk nid (bit 63: in the metabox). */
  nid: bigint;
  inodeSize: number;
  xattrSize: number;
}

export interface SharedEaForge {
  /** The forged image (the input is left as it was). */
  image: Uint8Array;
  /** Distinct shared xattr ids the inodes use. */
  ids: number[];
  /** Bytes of shared entries moved into the metabox. */
  bytes: number;
}

const roundUp = (x: number, a: number): number => Math.ceil(x / a) * a;

/** Parse upstream `dump.erofs --path=P IMAGE` output into what the forger needs. */
export function parseDumpInode(out: string): DumpedInode {
  const nid = /^NID: (\d+)/m.exec(out);
  const sizes = /^Inode size: (\d+)\s+Xattr size: (\d+)/m.exec(out);
  if (!nid || !sizes) throw new Error(`forgeSharedEa: no NID / sizes in dump.erofs output:\n${out}`);
  return { nid: BigInt(nid[1]), inodeSize: Number(sizes[1]), xattrSize: Number(sizes[2]) };
}

export function forgeSharedEaInMetabox(src: Uint8Array, inodes: readonly DumpedInode[]): SharedEaForge {
  const sbv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  const sb = (off: number): number => sbv.getUint32(EROFS_SUPER_OFFSET + off, true);
  const bs = 1 << src[EROFS_SUPER_OFFSET + SB_BLKSZBITS];
  const incompat = sb(SB_FEATURE_INCOMPAT);
  if (!(incompat & INCOMPAT_METABOX)) throw new Error('forgeSharedEa: the image has no metabox');
  const is48 = (incompat & INCOMPAT_48BIT) !== 0;
  const blocks = sb(SB_BLOCKS_LO) + (is48 ? sbv.getUint16(EROFS_SUPER_OFFSET + SB_BLOCKS_HI, true) * 2 ** 32 : 0);
  if (blocks * bs !== src.length)
    throw new Error(`forgeSharedEa: ${src.length} bytes, superblock says ${blocks} blocks`);
  const metaBase = sb(SB_META_BLKADDR) * bs;
  const xattrBase = sb(SB_XATTR_BLKADDR) * bs;

  // The metabox inode: in the primary metadata area, FLAT_PLAIN.
  const boxNid = sbv.getBigUint64(EROFS_SUPER_OFFSET + SB_METABOX_NID, true);
  if (boxNid & NID_METABOX_BIT) throw new Error('forgeSharedEa: metabox_nid points into the metabox');
  const boxAt = metaBase + Number(boxNid) * 32;
  const fmt = sbv.getUint16(boxAt, true);
  const extended = (fmt & EROFS_I_VERSION_MASK) !== 0;
  if (((fmt >> EROFS_I_DATALAYOUT_BIT) & 7) !== EROFS_INODE_FLAT_PLAIN) {
    throw new Error(`forgeSharedEa: the metabox inode is not FLAT_PLAIN (i_format ${fmt}), cannot grow it`);
  }
  // i_nb is startblk_hi on extended inodes and on compact ones with EROFS_I_NLINK_1_BIT (lib/namei.c).
  const nbIsHi = is48 && (extended || ((fmt >> EROFS_I_NLINK_1_BIT) & 1) === 1);
  const boxStart = (sbv.getUint32(boxAt + I_U, true) + (nbIsHi ? sbv.getUint16(boxAt + I_NB, true) * 2 ** 32 : 0)) * bs;
  const boxSize = extended ? Number(sbv.getBigUint64(boxAt + I_SIZE, true)) : sbv.getUint32(boxAt + I_SIZE, true);

  // The shared ids the inodes use, and the entries' byte range in the primary device.
  const ids = new Set<number>();
  for (const ino of inodes) {
    if (ino.xattrSize === 0) continue;
    const slot = Number(ino.nid & ~NID_METABOX_BIT);
    const iloc = (ino.nid & NID_METABOX_BIT ? boxStart : metaBase) + slot * 32;
    const hdr = iloc + ino.inodeSize;
    const n = src[hdr + XH_SHARED_COUNT];
    for (let i = 0; i < n; i++) ids.add(sbv.getUint32(hdr + XATTR_IBODY_HEADER_SIZE + i * 4, true));
  }
  if (ids.size === 0) throw new Error('forgeSharedEa: the inodes use no shared xattrs');
  let lo = Infinity;
  let hi = 0;
  for (const id of ids) {
    const at = xattrBase + id * 4;
    const size = roundUp(4 + src[at] + sbv.getUint16(at + 2, true), 4);
    lo = Math.min(lo, at);
    hi = Math.max(hi, at + size);
  }

  // New layout: [old image][old metabox data, padded to a block][the entries at their old offset].
  const newXattrBlk = Math.ceil(boxSize / bs);
  const entriesAt = newXattrBlk * bs + (lo - xattrBase);
  const newBoxSize = roundUp(entriesAt + (hi - lo), bs);
  const newStartBlk = blocks;
  const out = new Uint8Array(src.length + newBoxSize);
  out.set(src, 0);
  out.set(src.subarray(boxStart, boxStart + boxSize), src.length);
  out.set(src.subarray(lo, hi), src.length + entriesAt);
  out.fill(0, lo, hi);
  const dv = new DataView(out.buffer);
  dv.setUint32(boxAt + I_U, newStartBlk, true);
  if (nbIsHi) dv.setUint16(boxAt + I_NB, 0, true);
  if (extended) dv.setBigUint64(boxAt + I_SIZE, BigInt(newBoxSize), true);
  else dv.setUint32(boxAt + I_SIZE, newBoxSize, true);
  const newBlocks = out.length / bs;
  dv.setUint32(EROFS_SUPER_OFFSET + SB_BLOCKS_LO, newBlocks % 2 ** 32, true);
  if (is48) dv.setUint16(EROFS_SUPER_OFFSET + SB_BLOCKS_HI, Math.floor(newBlocks / 2 ** 32), true);
  dv.setUint32(EROFS_SUPER_OFFSET + SB_XATTR_BLKADDR, newXattrBlk, true);
  const compat = sb(SB_FEATURE_COMPAT) | COMPAT_SHARED_EA_IN_METABOX;
  dv.setUint32(EROFS_SUPER_OFFSET + SB_FEATURE_COMPAT, compat, true);
  if (compat & COMPAT_SB_CHKSUM) fixChecksum(out);
  return { image: out, ids: [...ids].sort((a, b) => a - b), bytes: hi - lo };
}

/** Set or clear COMPAT_SHARED_EA_IN_METABOX alone (for the control cells), resealing the checksum. */
export function setSharedEaFlag(img: Uint8Array, on: boolean): Uint8Array {
  const out = img.slice();
  const dv = new DataView(out.buffer);
  const at = EROFS_SUPER_OFFSET + SB_FEATURE_COMPAT;
  const compat = dv.getUint32(at, true);
  dv.setUint32(at, on ? compat | COMPAT_SHARED_EA_IN_METABOX : compat & ~COMPAT_SHARED_EA_IN_METABOX, true);
  if (compat & COMPAT_SB_CHKSUM) fixChecksum(out);
  return out;
}
