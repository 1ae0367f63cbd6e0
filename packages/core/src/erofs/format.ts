// EROFS on-disk format: the one place that names byte offsets of on-disk structures.
// Mirrors include/erofs_fs.h (kernel fs/erofs/erofs_fs.h). All fields little endian.
// Reader (super.ts, inode.ts, xattr.ts, dir.ts, data.ts) and writer (mkfs/) both go through
// these constants; neither hard-codes an offset of its own.

export const EROFS_SUPER_MAGIC_V1 = 0xe0f5e1e2;
export const EROFS_SUPER_OFFSET = 1024;
export const EROFS_SUPER_SIZE = 128;
export const EROFS_MIN_BLKSZBITS = 9; // 512 B
export const EROFS_MAX_BLKSZBITS = 12; // 4 KiB (page size here)
export const EROFS_ISLOT_SIZE = 32; // nid unit: meta_blkaddr * blksz + nid * 32
export const EROFS_NULL_ADDR = 0xffffffff;

/**
 * struct erofs_super_block field offsets (relative to EROFS_SUPER_OFFSET), by their upstream names
 * (erofs-utils 1.9.3 include/erofs_fs.h). The base superblock is 128 bytes; sb_extslots adds 16-byte
 * slots, so fields at 128 and beyond exist only when the slots say so.
 */
export const SB = {
  magic: 0, // u32
  checksum: 4, // u32 crc32c(~0, sb .. end of block) with this field zeroed, no final xor
  featureCompat: 8, // u32
  blkszbits: 12, // u8
  sbExtslots: 13, // u8: superblock size = 128 + sb_extslots * 16
  rootnid2b: 14, // u16 (union with blocks_hi when 48BIT)
  inos: 16, // u64
  epoch: 24, // s64: base seconds of compact inodes' i_mtime
  fixedNsec: 32, // u32: nanoseconds of every compact inode's mtime
  blocksLo: 36, // u32
  metaBlkaddr: 40, // u32
  xattrBlkaddr: 44, // u32
  uuid: 48, // u8[16]
  volumeName: 64, // u8[16]
  featureIncompat: 80, // u32
  availableComprAlgs: 84, // u16 (union with lz4_max_distance)
  extraDevices: 86, // u16
  devtSlotoff: 88, // u16
  dirblkbits: 90, // u8
  xattrPrefixCount: 91, // u8: entries in the long xattr name prefix table
  xattrPrefixStart: 92, // u32: table position in 4-byte units
  packedNid: 96, // u64
  xattrFilterReserved: 104, // u8
  ishareXattrPrefixId: 105, // u8: long-prefix id of the fingerprint xattr (COMPAT_ISHARE_XATTRS)
  reserved: 106, // u8[2]
  buildTime: 108, // u32: seconds added to epoch for the mkfs time
  rootnid8b: 112, // u64 (48BIT)
  reserved2: 120, // u64
  metaboxNid: 128, // u64 (METABOX; needs an extension slot)
  reserved3: 136, // u64
} as const;
/** Bytes of the superblock structure when every extension slot upstream defines is present. */
export const EROFS_SUPER_SIZE_MAX = 144;

export const FEATURE_COMPAT = {
  SB_CHKSUM: 0x00000001,
  MTIME: 0x00000002,
  XATTR_FILTER: 0x00000004,
  SHARED_EA_IN_METABOX: 0x00000008,
  PLAIN_XATTR_PFX: 0x00000010,
  /** Announces per-file fingerprint xattrs for inode page-cache sharing (mainline's bit). */
  ISHARE_XATTRS: 0x00000020,
} as const;

/** Names dump.erofs prints for the compat bits (dump/main.c feature_lists). */
export const FEATURE_COMPAT_NAMES: Record<number, string> = {
  0x1: 'sb_csum',
  0x2: 'mtime',
  0x4: 'xattr_filter',
  0x8: 'shared_ea_in_metabox',
  0x10: 'plain_xattr_pfx',
  0x20: 'ishare_xattrs',
} as const;

export const FEATURE_INCOMPAT = {
  ZERO_PADDING: 0x00000001, // aka LZ4_0PADDING
  COMPR_CFGS: 0x00000002, // aka BIG_PCLUSTER
  CHUNKED_FILE: 0x00000004,
  DEVICE_TABLE: 0x00000008, // aka COMPR_HEAD2
  ZTAILPACKING: 0x00000010,
  FRAGMENTS: 0x00000020, // aka DEDUPE
  XATTR_PREFIXES: 0x00000040,
  BIT48: 0x00000080,
  METABOX: 0x00000100,
} as const;

export const FEATURE_INCOMPAT_NAMES: Record<number, string> = {
  0x1: 'zero_padding',
  0x2: 'compr_cfgs/big_pcluster',
  0x4: 'chunked_file',
  0x8: 'device_table/compr_head2',
  0x10: 'ztailpacking',
  0x20: 'fragments/dedupe',
  0x40: 'xattr_prefixes',
  0x80: '48bit',
  0x100: 'metabox',
};

/**
 * struct erofs_deviceslot (128 B each, EROFS_DEVT_SLOT_SIZE): the device table of a multi-device image
 * starts at devt_slotoff * 128 and holds extra_devices slots. Device i (1-based, as chunk indexes name
 * it) is slot i - 1. The *_hi halves are read only on 48-bit images (erofs-utils lib/super.c).
 */
export const EROFS_DEVT_SLOT_SIZE = 128;
export const DEVT_TAG_SIZE = 64;
export const DS = {
  tag: 0, // u8[64]: digest, uuid as 32 hex digits (upstream rebuild mode), or a name; NUL padded
  blocksLo: 64, // u32: blocks of this device
  uniaddrLo: 68, // u32: unified (flat) starting block of this device, mapped_blkaddr in older headers
  blocksHi: 72, // u16 (48BIT)
  uniaddrHi: 74, // u16 (48BIT)
  // 76..127 reserved
} as const;

/** i_format bits. */
export const I_VERSION_MASK = 0x1; // 0 compact (32 B), 1 extended (64 B)
export const I_DATALAYOUT_BIT = 1;
export const I_DATALAYOUT_MASK = 0x7;
export const I_NLINK_1_BIT = 4; // newer compact inodes: nlink == 1 and i_nb holds startblk_hi

export const DATALAYOUT = {
  FLAT_PLAIN: 0,
  COMPRESSED_FULL: 1,
  FLAT_INLINE: 2,
  COMPRESSED_COMPACT: 3,
  CHUNK_BASED: 4,
} as const;

export const INODE_COMPACT_SIZE = 32;
export const INODE_EXTENDED_SIZE = 64;

/** struct erofs_inode_compact */
export const IC = {
  format: 0, // u16
  xattrIcount: 2, // u16
  mode: 4, // u16
  nlink: 6, // u16 (i_nb)
  size: 8, // u32
  mtime: 12, // u32, seconds relative to sb build_time (0 in older images)
  u: 16, // u32: raw_blkaddr | rdev | chunk_info
  ino: 20, // u32
  uid: 24, // u16
  gid: 26, // u16
  reserved: 28, // u32
} as const;

/** struct erofs_inode_extended */
export const IE = {
  format: 0, // u16
  xattrIcount: 2, // u16
  mode: 4, // u16
  nb: 6, // u16
  size: 8, // u64
  u: 16, // u32
  ino: 20, // u32
  uid: 24, // u32
  gid: 28, // u32
  mtime: 32, // u64
  mtimeNsec: 40, // u32
  nlink: 44, // u32
  // 48..63 reserved
} as const;

/** chunk_info.format (low 16 bits of i_u for CHUNK_BASED) */
export const CHUNK_FORMAT_BLKBITS_MASK = 0x001f;
export const CHUNK_FORMAT_INDEXES = 0x0020;
export const CHUNK_FORMAT_48BIT = 0x0040;
export const CHUNK_BLOCKMAP_ENTRY_SIZE = 4; // u32 blkaddr
export const CHUNK_INDEX_SIZE = 8; // struct erofs_inode_chunk_index
export const CI = { startblkHi: 0 /* u16 */, deviceId: 2 /* u16 */, blkaddr: 4 /* u32 */ } as const;

/** xattr in-inode body header, then h_shared_count u32 ids, then entries. */
export const XATTR_IBODY_HEADER_SIZE = 12;
export const XH = { nameFilter: 0 /* u32 */, sharedCount: 4 /* u8 */ } as const;
export const XATTR_ENTRY_SIZE = 4;
export const XE = { nameLen: 0 /* u8 */, nameIndex: 1 /* u8 */, valueSize: 2 /* u16 */ } as const;
/** xattr ibody size from i_xattr_icount (0 means no xattrs). */
export function xattrIbodySize(icount: number): number {
  return icount === 0 ? 0 : XATTR_IBODY_HEADER_SIZE + (icount - 1) * 4;
}
export const XATTR_LONG_PREFIX_FLAG = 0x80;
export const XATTR_INDEX = {
  USER: 1,
  POSIX_ACL_ACCESS: 2,
  POSIX_ACL_DEFAULT: 3,
  TRUSTED: 4,
  LUSTRE: 5,
  SECURITY: 6,
} as const;
export const XATTR_PREFIXES: Record<number, string> = {
  1: 'user.',
  2: 'system.posix_acl_access',
  3: 'system.posix_acl_default',
  4: 'trusted.',
  5: 'lustre.',
  6: 'security.',
};

/** Directory entries: struct erofs_dirent (12 B), names follow the dirent array in each dir block. */
export const DIRENT_SIZE = 12;
export const DE = { nid: 0 /* u64 */, nameoff: 8 /* u16 */, fileType: 10 /* u8 */ } as const;
export const FT = {
  UNKNOWN: 0,
  REG_FILE: 1,
  DIR: 2,
  CHRDEV: 3,
  BLKDEV: 4,
  FIFO: 5,
  SOCK: 6,
  SYMLINK: 7,
} as const;

export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;

/**
 * The fingerprint xattr of upstream mkfs.erofs --xattr-inode-digest: a long name prefix with no
 * short prefix (base index 0, so listxattr hides it), and a value "sha256:" + 32 raw digest bytes.
 */
export const DEFAULT_FINGERPRINT_XATTR = 'erofs.fingerprint.v1';
export const FINGERPRINT_VALUE_PREFIX = 'sha256:';
export const FINGERPRINT_VALUE_SIZE = FINGERPRINT_VALUE_PREFIX.length + 32; // 39
/** Bytes of one long-prefix record before its infix: __le16 size, then base_index. */
export const XATTR_LONG_PREFIX_HDR = 2;
export const XATTR_LONG_PREFIX_MASK = 0x7f;

// ---- Compressed inodes (erofs_fs.h: z_erofs_map_header, z_erofs_lcluster_index) ----

/** struct z_erofs_map_header (8 B) at round_up(inode end incl. xattrs, 8). */
export const ZMH = {
  fragmentOff: 0, // u32 (union: h_reserved1 u16 + h_idata_size u16 at 2)
  idataSize: 2, // u16
  advise: 4, // u16
  algorithmType: 6, // u8: bits 0-3 HEAD1, 4-7 HEAD2
  clusterBits: 7, // u8: bits 0-3 lclusterbits - blkszbits, bit 7 whole file in the packed inode
} as const;
export const Z_MAP_HEADER_SIZE = 8;
export const Z_FRAGMENT_INODE_BIT = 7;

export const Z_ADVISE = {
  COMPACTED_2B: 0x0001, // compact layout
  EXTENTS: 0x0001, // full layout: encoded extents (48bit images)
  BIG_PCLUSTER_1: 0x0002,
  BIG_PCLUSTER_2: 0x0004,
  INLINE_PCLUSTER: 0x0008,
  INTERLACED_PCLUSTER: 0x0010,
  FRAGMENT_PCLUSTER: 0x0020,
} as const;

export const Z_LCLUSTER_TYPE = { PLAIN: 0, HEAD1: 1, NONHEAD: 2, HEAD2: 3 } as const;
/** struct z_erofs_lcluster_index (8 B), full layout; the table starts 8 B after the map header. */
export const ZLI = {
  advise: 0 /* u16 */,
  clusterOfs: 2 /* u16 */,
  blkaddr: 4 /* u32 */,
  delta0: 4 /* u16 */,
  delta1: 6 /* u16 */,
} as const;
export const Z_LCLUSTER_INDEX_SIZE = 8;
export const Z_LI_PARTIAL_REF = 1 << 15;
export const Z_LI_D0_CBLKCNT = 1 << 11;

/** h_algorithmtype values, then the runtime-only formats the kernel adds after them. */
export const Z_ALG = { LZ4: 0, LZMA: 1, DEFLATE: 2, ZSTD: 3, SHIFTED: 4, INTERLACED: 5 } as const;
export const Z_ALG_NAMES = ['lz4', 'lzma', 'deflate', 'zstd', 'shifted', 'interlaced'] as const;
export const Z_PCLUSTER_MAX_SIZE = 1024 * 1024;
export const Z_PCLUSTER_MAX_DSIZE = 12 * 1024 * 1024;
/** Z_EROFS_LZMA_MAX_DICT_SIZE: the largest lzma dictionary the kernel mounts. */
export const Z_LZMA_MAX_DICT = 8 * 1024 * 1024;

// ---- Encoded extents (48-bit images: COMPRESSED_FULL with Z_ADVISE.EXTENTS) ----

/** h_advise bits 1-2: each record is 4 << this many bytes. */
export const Z_EXTRECSZ_BIT = 1;
/** struct z_erofs_extent (records are cut to 4, 8, 16 or 32 bytes; the fields present are the first ones). */
export const EXT = { plen: 0, pstartLo: 4, pstartHi: 8, lstartLo: 12, lstartHi: 16 } as const;
export const Z_EXTENT_PLEN_PARTIAL = 1 << 27;
export const Z_EXTENT_PLEN_FMT_BIT = 28;
export const Z_EXTENT_PLEN_MASK = Z_PCLUSTER_MAX_SIZE * 2 - 1;
