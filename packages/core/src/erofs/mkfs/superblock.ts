// The superblock mkfs writes at byte 1024, the long xattr name prefix table right behind it, and the
// crc32c over the rest of the first block.
import { crc32c } from '../checksum.ts';
import { encodeDeviceTag } from '../devices.ts';
import { ErofsError } from '../errors.ts';
import {
  DS,
  EROFS_DEVT_SLOT_SIZE,
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
  /** Some inode is CHUNK_BASED (INCOMPAT_CHUNKED_FILE). */
  readonly chunked?: boolean;
  /** Extra devices (INCOMPAT_DEVICE_TABLE), their slots written at devtSlotoff * 128. */
  readonly devices?: readonly { readonly tag: string; readonly blocks: number }[];
  readonly devtSlotoff?: number;
}

/**
 * The bytes from 1024 to the end of the superblock's block (at least the 128-byte superblock),
 * checksum filled in. Everything after the 128 bytes is zero.
 */
export function encodeSuperblock(f: SuperblockFields): Buffer {
  const blockSize = 1 << f.blkszbits;
  // The kernel checksums the rest of block 0 for big blocks, one block's worth for small ones.
  const len = blockSize > EROFS_SUPER_OFFSET ? blockSize - EROFS_SUPER_OFFSET : blockSize;
  const devices = f.devices ?? [];
  const devtPos = (f.devtSlotoff ?? 0) * EROFS_DEVT_SLOT_SIZE - EROFS_SUPER_OFFSET;
  const devtEnd = devices.length > 0 ? devtPos + devices.length * EROFS_DEVT_SLOT_SIZE : 0;
  const b = Buffer.alloc(Math.max(len, EROFS_SUPER_SIZE + f.prefixTable.length, devtEnd));
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
  if (f.chunked) incompat |= FEATURE_INCOMPAT.CHUNKED_FILE;
  if (devices.length > 0) {
    // As erofs_write_device_table: each device's unified start block follows the primary's blocks
    // and the devices before it, so the image also reads as one flat address space.
    incompat |= FEATURE_INCOMPAT.DEVICE_TABLE;
    b.writeUInt16LE(devices.length, SB.extraDevices);
    b.writeUInt16LE(f.devtSlotoff ?? 0, SB.devtSlotoff);
    let uniaddr = f.blocks;
    devices.forEach((d, i) => {
      const at = devtPos + i * EROFS_DEVT_SLOT_SIZE;
      Buffer.from(encodeDeviceTag(d.tag)).copy(b, at + DS.tag);
      b.writeUInt32LE(d.blocks, at + DS.blocksLo);
      b.writeUInt32LE(uniaddr, at + DS.uniaddrLo);
      uniaddr += d.blocks;
    });
    if (uniaddr > 0xffffffff) throw new ErofsError('EINVAL', 'devices would need more than 2^32 unified blocks');
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
