// Where the CLI reaches into @ishare/core's light modules (errors, shapes, format constants), so the
// import path can change in one place (relative today: packages/core/src/index.ts is still being
// assembled). The reader and writer come through engine.ts, so pure helpers load without them.
export { ErofsError, isErofsError } from '../../core/src/erofs/errors.ts';
export type { ErofsErrorCode } from '../../core/src/erofs/errors.ts';
export { VfsError } from '../../core/src/vfs/errno.ts';
export type { Superblock, ErofsInode, FileType, Xattr, DirEntry } from '../../core/src/erofs/types.ts';
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
} from '../../core/src/erofs/format.ts';
export { fullName, visibleName } from '../../core/src/erofs/xattr.ts';
export { availableAlgs } from '../../core/src/erofs/zmap.ts';
