// The EROFS reader's public surface (the writer lives in ./mkfs/ and is exported from there).
export * from './errors.ts';
export * from './format.ts';
export type * from './types.ts';
export { BufferSource, FileSource } from './source.ts';
export { crc32c } from './checksum.ts';
export { parseSuperblock, superblockChecksum, checksumLength } from './super.ts';
export { parseInode, inodeLocation } from './inode.ts';
export { ErofsImage, MAX_SYMLINKS, MAP_HOLE, MAP_INLINE, MAP_MAPPED } from './image.ts';
export type { MappingOut } from './image.ts';
export {
  shortPrefix,
  visibleName,
  fullName,
  findFingerprint,
  type XattrPrefix,
  type FingerprintResult,
} from './xattr.ts';
