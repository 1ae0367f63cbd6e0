// The reader's public shapes: plain, immutable values parsed from the image. A thread may cache them
// freely (they never change), which is what lets every worker keep its own copy.

export interface Superblock {
  readonly blkszbits: number;
  readonly blockSize: number;
  readonly featureCompat: number;
  readonly featureIncompat: number;
  readonly rootNid: number;
  /** Superblock size in bytes: 128 + sb_extslots * 16. */
  readonly sbSize: number;
  readonly inos: number;
  /** Base seconds (s64) of compact inodes' mtimes. */
  readonly epoch: number;
  /** Nanoseconds of every compact inode's mtime. */
  readonly fixedNsec: number;
  /** Seconds after `epoch` when the image was made (u32); the mkfs time is epoch + buildTime. */
  readonly buildTime: number;
  /** available_compr_algs (COMPR_CFGS) or lz4_max_distance, the u16 they share. */
  readonly u1: number;
  readonly blocks: number;
  readonly metaBlkaddr: number;
  readonly xattrBlkaddr: number;
  readonly uuid: string; // 8-4-4-4-12 hex
  readonly volumeName: string;
  /** Devices beside the primary one (0 without INCOMPAT_DEVICE_TABLE). */
  readonly extraDevices: number;
  /** Device table position in 128-byte slots (meaningful when extraDevices > 0). */
  readonly devtSlotoff: number;
  readonly xattrPrefixCount: number;
  readonly xattrPrefixStart: number;
  readonly packedNid: number;
  /** nid of the metabox inode (INCOMPAT_METABOX), 0 without one. */
  readonly metaboxNid: number;
  readonly checksum: number;
  readonly checksumVerified: boolean; // true when SB_CHKSUM was set and matched
  /** Image announces fingerprint xattrs (FEATURE_COMPAT.ISHARE_XATTRS). */
  readonly hasFingerprints: boolean;
  /** Long-prefix id of the fingerprint xattr (checked < xattrPrefixCount when hasFingerprints). */
  readonly ishareXattrPrefixId: number;
  /** The lzma config's dictionary size (images declaring lzma; 0: a config the kernel would refuse). */
  readonly lzmaDictSize?: number;
}

export type FileType = 'file' | 'dir' | 'symlink' | 'chardev' | 'blockdev' | 'fifo' | 'socket';

export interface ErofsInode {
  readonly nid: number;
  readonly compact: boolean; // 32 B on-disk inode (else 64 B extended)
  readonly layout: number; // DATALAYOUT.*
  readonly type: FileType;
  readonly mode: number; // full st_mode (type bits + permissions)
  readonly nlink: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number; // bytes (< 2^53)
  readonly mtime: number; // seconds
  readonly mtimeNsec: number;
  readonly ino: number;
  readonly rdev: number; // devices only
  /** Byte position of the on-disk inode in the image. */
  readonly iloc: number;
  readonly inodeSize: number; // 32 or 64
  readonly xattrSize: number; // xattr ibody bytes that follow the inode
  readonly rawBlkaddr: number; // FLAT_* layouts
  readonly chunkFormat: number; // CHUNK_BASED only
  /** Compressed inode: every data access throws EUNSUPPORTED. */
  readonly compressed: boolean;
}

export interface DirEntry {
  readonly name: string; // UTF-8 decoded
  readonly nameBytes: Uint8Array;
  readonly nid: number;
  readonly fileType: number; // FT.*
}

export interface Xattr {
  /** Full name as listxattr shows it, e.g. "user.foo", "trusted.overlay.opaque". */
  readonly name: string;
  readonly value: Uint8Array;
}

/** One on-disk xattr entry with its name resolved, hidden ones (base index 0) included. */
export interface RawXattr {
  /** Short-prefix index the name lives under (0: no short prefix, hidden from listxattr). */
  readonly baseIndex: number;
  /** The name after the short prefix (long-prefix infix + entry suffix), as bytes. */
  readonly rest: Uint8Array;
  /** e_name_index as stored (0x80 | id for a long prefix). */
  readonly nameIndex: number;
  readonly value: Uint8Array;
}

/**
 * Where the bytes of a file at a logical offset live (erofs_map_blocks' answer).
 * The extent always contains the asked offset; `length` never runs past the file size.
 */
export interface BlockMapping {
  readonly kind: 'mapped' | 'hole' | 'inline';
  readonly logical: number; // start of the extent in the file
  readonly length: number; // bytes in the extent
  /** Byte offset in the image of `logical` (mapped and inline); -1 for holes. */
  readonly physical: number;
}

/** A readable block device: an image file or a buffer. Reads outside [0, size) throw ETRUNCATED. */
export interface BlockSource {
  readonly size: number;
  /** Fill dst completely from image byte `pos`. */
  read(dst: Uint8Array, pos: number): void;
  close(): void;
}
