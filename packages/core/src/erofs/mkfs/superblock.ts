// The superblock mkfs writes at byte 1024, the long xattr name prefix table right behind it, and the
// crc32c over the rest of the first block.
import { crc32c } from '../checksum.ts';
import {
  EROFS_SUPER_MAGIC_V1,
  EROFS_SUPER_OFFSET,
  EROFS_SUPER_SIZE,
  FEATURE_COMPAT,
  FEATURE_INCOMPAT,
  SB,
} from '../format.ts';
import { FINGERPRINT_PREFIX_ID } from './xattr.ts';

export interface SuperblockFields {
  readonly blkszbits: number;
  readonly rootNid: number;
  readonly inos: number;
  /** Seconds of every compact inode's mtime (they are all the build time); build_time stays 0. */
  readonly epoch: number;
  readonly fixedNsec: number;
  readonly blocks: number;
  readonly metaBlkaddr: number;
  readonly xattrBlkaddr: number;
  readonly uuid: Buffer; // 16 bytes
  readonly fingerprints: boolean;
  /** Long-prefix records (written at byte 1152, xattr_prefix_start 288); empty for none. */
  readonly prefixTable: Buffer;
}

/**
 * The bytes from 1024 to the end of the superblock's block (at least the 128-byte superblock),
 * checksum filled in. Everything after the 128 bytes is zero.
 */
export function encodeSuperblock(f: SuperblockFields): Buffer {
  const blockSize = 1 << f.blkszbits;
  // The kernel checksums the rest of block 0 for big blocks, one block's worth for small ones.
  const len = blockSize > EROFS_SUPER_OFFSET ? blockSize - EROFS_SUPER_OFFSET : blockSize;
  const b = Buffer.alloc(Math.max(len, EROFS_SUPER_SIZE + f.prefixTable.length));
  let compat = FEATURE_COMPAT.SB_CHKSUM;
  let incompat = 0;
  if (f.prefixTable.length > 0) {
    // The table sits in the device, not in a packed inode: say so, as mkfs.erofs does.
    compat |= FEATURE_COMPAT.PLAIN_XATTR_PFX;
    incompat |= FEATURE_INCOMPAT.XATTR_PREFIXES;
    f.prefixTable.copy(b, EROFS_SUPER_SIZE);
    b.writeUInt8(1, SB.xattrPrefixCount);
    b.writeUInt32LE((EROFS_SUPER_OFFSET + EROFS_SUPER_SIZE) / 4, SB.xattrPrefixStart);
  }
  if (f.fingerprints) {
    compat |= FEATURE_COMPAT.ISHARE_XATTRS;
    b.writeUInt8(FINGERPRINT_PREFIX_ID, SB.ishareXattrPrefixId);
  }
  b.writeUInt32LE(EROFS_SUPER_MAGIC_V1, SB.magic);
  b.writeUInt32LE(compat, SB.featureCompat);
  b.writeUInt8(f.blkszbits, SB.blkszbits);
  b.writeUInt16LE(f.rootNid, SB.rootnid2b);
  b.writeBigUInt64LE(BigInt(f.inos), SB.inos);
  b.writeBigInt64LE(BigInt(f.epoch), SB.epoch);
  b.writeUInt32LE(f.fixedNsec, SB.fixedNsec);
  b.writeUInt32LE(incompat, SB.featureIncompat);
  b.writeUInt32LE(f.blocks, SB.blocksLo);
  b.writeUInt32LE(f.metaBlkaddr, SB.metaBlkaddr);
  b.writeUInt32LE(f.xattrBlkaddr, SB.xattrBlkaddr);
  f.uuid.copy(b, SB.uuid);
  b.writeUInt32LE(crc32c(0xffffffff, b.subarray(0, len)), SB.checksum);
  return b;
}
