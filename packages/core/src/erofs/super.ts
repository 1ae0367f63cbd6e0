// Superblock parsing (kernel: super.c erofs_read_superblock). Decides up front whether this reader
// can serve the image at all: unknown or unimplemented incompat features are refused here, by name,
// so nothing later has to guess at a layout it does not understand.
import { crc32c } from './checksum.ts';
import { ErofsError } from './errors.ts';
import {
  EROFS_MAX_BLKSZBITS,
  EROFS_MIN_BLKSZBITS,
  EROFS_SUPER_MAGIC_V1,
  EROFS_SUPER_OFFSET,
  EROFS_SUPER_SIZE,
  FEATURE_COMPAT,
  FEATURE_INCOMPAT,
  FEATURE_INCOMPAT_NAMES,
  SB,
  Z_ALG,
} from './format.ts';
import { decodeNid } from './metabox.ts';
import { i64, readAt, u16, u32, u64, u8 } from './source.ts';
import type { BlockSource, Superblock } from './types.ts';

/** Incompat bits this reader understands (compression bits only matter per compressed file). */
const SUPPORTED_INCOMPAT =
  FEATURE_INCOMPAT.ZERO_PADDING |
  FEATURE_INCOMPAT.COMPR_CFGS |
  FEATURE_INCOMPAT.CHUNKED_FILE |
  FEATURE_INCOMPAT.DEVICE_TABLE |
  FEATURE_INCOMPAT.ZTAILPACKING |
  FEATURE_INCOMPAT.FRAGMENTS |
  FEATURE_INCOMPAT.XATTR_PREFIXES |
  // 48-bit block addresses: rootnid_8b and blocks_hi here, startblk_hi in inodes and chunk indexes,
  // device slots' *_hi halves (devices.ts); encoded extents are refused per file (zmap.ts).
  FEATURE_INCOMPAT.BIT48 |
  // Inodes (and with COMPAT_SHARED_EA_IN_METABOX the shared xattrs) in the metabox inode's data.
  FEATURE_INCOMPAT.METABOX;

const SB_EXTSLOT_SIZE = 16;
/** The kernel only ever maps the superblock from the first page. */
const PAGE_SIZE = 4096;

export function featureNames(bits: number): string {
  const names: string[] = [];
  for (let bit = 1; bit !== 0 && bit <= bits; bit = (bit << 1) >>> 0) {
    if (bits & bit) names.push(FEATURE_INCOMPAT_NAMES[bit] ?? `unknown(0x${bit.toString(16)})`);
  }
  return names.join(', ');
}

/**
 * Bytes covered by the superblock checksum, starting at EROFS_SUPER_OFFSET. The kernel subtracts the
 * superblock offset only when the block is larger than it; a 512 B or 1 KiB block covers a whole
 * block's worth of bytes from offset 1024 instead.
 */
export function checksumLength(blockSize: number): number {
  return blockSize > EROFS_SUPER_OFFSET ? blockSize - EROFS_SUPER_OFFSET : blockSize;
}

/** Compute the checksum the superblock should carry for an image whose first bytes are `head`. */
export function superblockChecksum(head: Uint8Array, blockSize: number): number {
  const len = checksumLength(blockSize);
  const area = head.slice(EROFS_SUPER_OFFSET, EROFS_SUPER_OFFSET + len);
  area.fill(0, SB.checksum, SB.checksum + 4);
  return crc32c(0xffffffff, area);
}

function hex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

/** Absolute image offset of a superblock field (for error reports). */
function at(field: number): number {
  return EROFS_SUPER_OFFSET + field;
}

/** The magic and the block size this reader can serve; returns blkszbits. */
function checkMagicAndBlockSize(sb: Uint8Array): number {
  const magic = u32(sb, SB.magic);
  if (magic !== EROFS_SUPER_MAGIC_V1) {
    throw new ErofsError('EBADMAGIC', `not an EROFS image (magic 0x${magic.toString(16)})`, at(SB.magic));
  }
  const blkszbits = u8(sb, SB.blkszbits);
  if (blkszbits < EROFS_MIN_BLKSZBITS || blkszbits > 16) {
    throw new ErofsError('ECORRUPT', `invalid block size bits ${blkszbits}`, at(SB.blkszbits));
  }
  if (blkszbits > EROFS_MAX_BLKSZBITS) {
    throw new ErofsError(
      'EUNSUPPORTED',
      `block size ${2 ** blkszbits} is larger than the ${PAGE_SIZE} B page size`,
      at(SB.blkszbits),
    );
  }
  return blkszbits;
}

/** With SB_CHKSUM, the crc32c of the checksummed area must match the stored one; returns whether checked. */
function checkChecksum(src: BlockSource, featureCompat: number, checksum: number, blockSize: number): boolean {
  if (!(featureCompat & FEATURE_COMPAT.SB_CHKSUM)) return false;
  const len = checksumLength(blockSize);
  if (src.size < EROFS_SUPER_OFFSET + len) {
    throw new ErofsError('ETRUNCATED', `image ends inside the checksummed superblock area`, EROFS_SUPER_OFFSET);
  }
  const head = readAt(src, 0, EROFS_SUPER_OFFSET + len);
  const crc = superblockChecksum(head, blockSize);
  if (crc !== checksum) {
    throw new ErofsError(
      'ECHECKSUM',
      `superblock checksum mismatch: computed 0x${crc.toString(16).padStart(8, '0')}, stored 0x${checksum.toString(16).padStart(8, '0')}`,
      at(SB.checksum),
    );
  }
  return true;
}

/** Incompat features, extra devices, directory block size and extension slots this reader serves. */
function checkLayoutFeatures(sb: Uint8Array, featureIncompat: number): { extraDevices: number; sbSize: number } {
  const unknown = (featureIncompat & ~SUPPORTED_INCOMPAT) >>> 0;
  if (unknown) {
    throw new ErofsError(
      'EUNSUPPORTED',
      `unsupported incompatible feature(s): ${featureNames(unknown)}`,
      at(SB.featureIncompat),
    );
  }
  // INCOMPAT_DEVICE_TABLE shares its bit with COMPR_HEAD2: without it the field means nothing (super.c).
  const extraDevices = featureIncompat & FEATURE_INCOMPAT.DEVICE_TABLE ? u16(sb, SB.extraDevices) : 0;
  const dirblkbits = u8(sb, SB.dirblkbits);
  if (dirblkbits !== 0) {
    throw new ErofsError('EUNSUPPORTED', `directory block size bits ${dirblkbits} not supported`, at(SB.dirblkbits));
  }
  const sbSize = EROFS_SUPER_SIZE + u8(sb, SB.sbExtslots) * SB_EXTSLOT_SIZE;
  if (sbSize > PAGE_SIZE - EROFS_SUPER_OFFSET) {
    throw new ErofsError('ECORRUPT', `superblock extension slots overflow the first page`, at(SB.sbExtslots));
  }
  return { extraDevices, sbSize };
}

/** The NUL-terminated volume name and the 64-bit fields, each in range. */
function parseNameAndWideFields(sb: Uint8Array): {
  volumeName: string;
  inos: number;
  epoch: number;
  packedNid: number;
} {
  const volRaw = sb.subarray(SB.volumeName, SB.volumeName + 16);
  const nul = volRaw.indexOf(0);
  if (nul < 0) throw new ErofsError('ECORRUPT', 'volume name is not NUL-terminated', at(SB.volumeName));
  const volumeName = new TextDecoder().decode(volRaw.subarray(0, nul));
  const inos = u64(sb, SB.inos);
  const epoch = i64(sb, SB.epoch);
  const packedNid = u64(sb, SB.packedNid);
  if (inos < 0 || Number.isNaN(epoch) || packedNid < 0) {
    throw new ErofsError('ECORRUPT', 'superblock 64-bit field out of range', EROFS_SUPER_OFFSET);
  }
  return { volumeName, inos, epoch, packedNid };
}

/**
 * metabox_nid (super.c erofs_read_superblock): only with INCOMPAT_METABOX, in the first extension
 * slot, and never itself in the metabox (bit 63 set is a self-loop). A packed_nid with bit 63 set is
 * already out of range (parseNameAndWideFields), as upstream refuses it.
 */
function parseMetaboxNid(src: BlockSource, featureIncompat: number, sbSize: number): number {
  if (!(featureIncompat & FEATURE_INCOMPAT.METABOX)) return 0;
  if (sbSize <= SB.metaboxNid) {
    throw new ErofsError(
      'ECORRUPT',
      `metabox image with a ${sbSize}-byte superblock (no metabox_nid)`,
      at(SB.sbExtslots),
    );
  }
  const raw = readAt(src, EROFS_SUPER_OFFSET + SB.metaboxNid, 8);
  if (u32(raw, 4) & 0x80000000)
    throw new ErofsError('ECORRUPT', 'metabox_nid points into the metabox', at(SB.metaboxNid));
  const nid = decodeNid({ featureIncompat }, raw, 0);
  if (nid <= 0) throw new ErofsError('ECORRUPT', `metabox_nid out of range`, at(SB.metaboxNid));
  return nid;
}

/** super.c: the fingerprint's prefix must exist, or the superblock is corrupt (EFSCORRUPTED). */
function parseFingerprintPrefix(
  sb: Uint8Array,
  featureCompat: number,
): { xattrPrefixCount: number; ishareXattrPrefixId: number; hasFingerprints: boolean } {
  const xattrPrefixCount = u8(sb, SB.xattrPrefixCount);
  const ishareXattrPrefixId = u8(sb, SB.ishareXattrPrefixId);
  const hasFingerprints = (featureCompat & FEATURE_COMPAT.ISHARE_XATTRS) !== 0;
  if (hasFingerprints && ishareXattrPrefixId >= xattrPrefixCount) {
    throw new ErofsError(
      'ECORRUPT',
      `invalid ishare xattr prefix id ${ishareXattrPrefixId} (image has ${xattrPrefixCount} long xattr name prefixes)`,
      at(SB.ishareXattrPrefixId),
    );
  }
  return { xattrPrefixCount, ishareXattrPrefixId, hasFingerprints };
}

/**
 * The block count, which the image file must hold. A short image file is the common real-world
 * corruption (interrupted copy); say so up front rather than failing later on whichever file happens
 * to live in the missing tail.
 */
function checkBlocks(src: BlockSource, sb: Uint8Array, blockSize: number, wide: boolean): number {
  const blocks = u32(sb, SB.blocksLo) + (wide ? u16(sb, SB.rootnid2b) * 0x100000000 : 0);
  if (blocks * blockSize > src.size) {
    throw new ErofsError(
      'ETRUNCATED',
      `image is truncated: superblock says ${blocks} blocks (${blocks * blockSize} bytes), file has ${src.size} bytes`,
      src.size,
    );
  }
  return blocks;
}

function formatUuid(sb: Uint8Array): string {
  const u = hex(sb.subarray(SB.uuid, SB.uuid + 16));
  return `${u.slice(0, 8)}-${u.slice(8, 12)}-${u.slice(12, 16)}-${u.slice(16, 20)}-${u.slice(20)}`;
}

/**
 * The dictionary size in the superblock's lzma config (z_erofs_parse_cfgs: one length-prefixed record
 * per algorithm in available_compr_algs, 4-byte aligned, right after the superblock;
 * z_erofs_load_lzma_config), undefined when the image declares no lzma, 0 when the record is missing,
 * short or of an unknown format. The kernel refuses to mount such an image; here only its lzma
 * pclusters are refused (decompress.ts), with the size in the message.
 */
function parseLzmaDictSize(
  src: BlockSource,
  featureIncompat: number,
  algs: number,
  sbSize: number,
): number | undefined {
  if (!(featureIncompat & FEATURE_INCOMPAT.COMPR_CFGS) || !(algs & (1 << Z_ALG.LZMA))) return undefined;
  let pos = EROFS_SUPER_OFFSET + sbSize;
  for (let alg = 0; alg <= Z_ALG.LZMA; alg++) {
    if (!(algs & (1 << alg))) continue;
    pos = Math.ceil(pos / 4) * 4;
    if (pos + 2 > src.size) return 0;
    const len = u16(readAt(src, pos, 2), 0) || 0x10000;
    pos += 2;
    if (alg === Z_ALG.LZMA) {
      // struct z_erofs_lzma_cfgs: dict_size (le32), format (le16), reserved[8].
      if (len < 14 || pos + 14 > src.size) return 0;
      const cfg = readAt(src, pos, 14);
      return u16(cfg, 4) === 0 ? u32(cfg, 0) : 0;
    }
    pos += len;
  }
  return 0;
}

export function parseSuperblock(src: BlockSource): Superblock {
  if (src.size < EROFS_SUPER_OFFSET + EROFS_SUPER_SIZE) {
    throw new ErofsError(
      'ETRUNCATED',
      `image is ${src.size} bytes, too small to hold an EROFS superblock`,
      EROFS_SUPER_OFFSET,
    );
  }
  const sb = readAt(src, EROFS_SUPER_OFFSET, EROFS_SUPER_SIZE);
  // The checks run in the kernel's order: the first failure is the one reported.
  const blkszbits = checkMagicAndBlockSize(sb);
  const blockSize = 1 << blkszbits;
  const featureCompat = u32(sb, SB.featureCompat);
  const checksum = u32(sb, SB.checksum);
  const checksumVerified = checkChecksum(src, featureCompat, checksum, blockSize);
  const featureIncompat = u32(sb, SB.featureIncompat);
  const { extraDevices, sbSize } = checkLayoutFeatures(sb, featureIncompat);
  const { volumeName, inos, epoch, packedNid } = parseNameAndWideFields(sb);
  const { xattrPrefixCount, ishareXattrPrefixId, hasFingerprints } = parseFingerprintPrefix(sb, featureCompat);
  // erofs_read_superblock: a 48-bit image with rootnid_8b set keeps the root there and the high
  // 16 bits of the block count where the 16-bit root nid used to be.
  const rootnid8b = featureIncompat & FEATURE_INCOMPAT.BIT48 ? decodeNid({ featureIncompat }, sb, SB.rootnid8b) : 0;
  if (rootnid8b < 0) throw new ErofsError('ECORRUPT', 'rootnid_8b out of range', at(SB.rootnid8b));
  const wide = rootnid8b > 0;
  const blocks = checkBlocks(src, sb, blockSize, wide);
  const metaboxNid = parseMetaboxNid(src, featureIncompat, sbSize);
  const lzmaDictSize = parseLzmaDictSize(src, featureIncompat, u16(sb, SB.availableComprAlgs), sbSize);

  return {
    blkszbits,
    blockSize,
    featureCompat,
    featureIncompat,
    rootNid: wide ? rootnid8b : u16(sb, SB.rootnid2b),
    sbSize,
    inos,
    epoch,
    fixedNsec: u32(sb, SB.fixedNsec),
    buildTime: u32(sb, SB.buildTime),
    u1: u16(sb, SB.availableComprAlgs),
    blocks,
    metaBlkaddr: u32(sb, SB.metaBlkaddr),
    xattrBlkaddr: u32(sb, SB.xattrBlkaddr),
    uuid: formatUuid(sb),
    volumeName,
    extraDevices,
    devtSlotoff: u16(sb, SB.devtSlotoff),
    xattrPrefixCount,
    xattrPrefixStart: u32(sb, SB.xattrPrefixStart),
    packedNid,
    metaboxNid,
    checksum,
    checksumVerified,
    hasFingerprints,
    ishareXattrPrefixId,
    ...(lzmaDictSize === undefined ? {} : { lzmaDictSize }),
  };
}
