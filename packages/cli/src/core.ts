// The parts of @ishare/core's `format` entry the CLI's commands share (errors, on-disk shapes, format
// constants, xattr names), in one place. The reader comes through engine.ts and the writer through
// writer.ts.
export { ErofsError, isErofsError, type ErofsErrorCode } from '@ishare/core/format';
export type { Superblock, ErofsInode, FileType, Xattr, DirEntry } from '@ishare/core/format';
export { VfsError } from '@ishare/core';
export {
  DATALAYOUT,
  FEATURE_COMPAT,
  FEATURE_COMPAT_NAMES,
  FEATURE_INCOMPAT,
  FEATURE_INCOMPAT_NAMES,
  DEFAULT_FINGERPRINT_XATTR,
  FT,
  S_IFMT,
  Z_ALG,
  Z_ALG_NAMES,
  fullName,
  visibleName,
  availableAlgs,
} from '@ishare/core/format';
