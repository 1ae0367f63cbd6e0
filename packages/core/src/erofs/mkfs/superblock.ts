// The superblock mkfs writes at byte 1024, and its crc32c over the rest of the first block.
import { crc32c } from '../checksum.ts';
import { EROFS_SUPER_MAGIC_V1, EROFS_SUPER_OFFSET, EROFS_SUPER_SIZE, FEATURE_COMPAT, SB } from '../format.ts';

export interface SuperblockFields {
  readonly blkszbits: number;
  readonly rootNid: number;
  readonly inos: number;
  readonly buildTime: number;
  readonly buildTimeNsec: number;
  readonly blocks: number;
  readonly metaBlkaddr: number;
  readonly xattrBlkaddr: number;
  readonly uuid: Buffer; // 16 bytes
  readonly fingerprints: boolean;
}

/**
 * The bytes from 1024 to the end of the superblock's block (at least the 128-byte superblock),
 * checksum filled in. Everything after the 128 bytes is zero.
 */
export function encodeSuperblock(f: SuperblockFields): Buffer {
  const blockSize = 1 << f.blkszbits;
  // The kernel checksums the rest of block 0 for big blocks, one block's worth for small ones.
  const len = blockSize > EROFS_SUPER_OFFSET ? blockSize - EROFS_SUPER_OFFSET : blockSize;
  const b = Buffer.alloc(Math.max(len, EROFS_SUPER_SIZE));
  let compat = FEATURE_COMPAT.SB_CHKSUM;
  if (f.fingerprints) compat |= FEATURE_COMPAT.ISHARE_XATTRS;
  b.writeUInt32LE(EROFS_SUPER_MAGIC_V1, SB.magic);
  b.writeUInt32LE(compat, SB.featureCompat);
  b.writeUInt8(f.blkszbits, SB.blkszbits);
  b.writeUInt16LE(f.rootNid, SB.rootNid);
  b.writeBigUInt64LE(BigInt(f.inos), SB.inos);
  b.writeBigUInt64LE(BigInt(f.buildTime), SB.buildTime);
  b.writeUInt32LE(f.buildTimeNsec, SB.buildTimeNsec);
  b.writeUInt32LE(f.blocks, SB.blocks);
  b.writeUInt32LE(f.metaBlkaddr, SB.metaBlkaddr);
  b.writeUInt32LE(f.xattrBlkaddr, SB.xattrBlkaddr);
  f.uuid.copy(b, SB.uuid);
  b.writeUInt32LE(crc32c(0xffffffff, b.subarray(0, len)), SB.checksum);
  return b;
}
