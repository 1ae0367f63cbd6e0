// The fs-shaped API over an EROFS image: openImage(path, { system? }) → ImageFs.
export { openImage, ImageFs, ImageFsPromises } from './image-fs.ts';
export type { OpenImageOptions, PathLike, ReadFileOptions, ReaddirOptions, StatOptions } from './image-fs.ts';
export { ImageStats, ImageDirent } from './stats.ts';
export { ImageReadStream, type ReadStreamOptions } from './read-stream.ts';
export type { FsError, FsErrorCode } from './errors.ts';
