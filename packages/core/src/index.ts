// @ishare/core: what users call — an image read through Node's fs shapes (openImage), mkfs, and the
// System (the shared-memory kernel model of EROFS inode page-cache sharing). The rest has its own
// entry: @ishare/core/format (the on-disk format: reader, constants, container inputs, upstream fsck),
// @ishare/core/kernel (the kernel model's parts), @ishare/core/stress (planted bugs and the checks
// that catch them), @ishare/core/fuzz (the image fuzzer).
// The emitted .d.ts uses Node's types (Buffer, worker_threads, streams): this directive, kept in the
// emitted .d.ts, makes a consumer's compiler load @types/node without "types": ["node"] in its tsconfig
// (TypeScript 6+ loads no @types package by default).
/// <reference types="node" preserve="true" />
export { openImage, ImageFs, ImageFsPromises, ImageStats, ImageDirent, ImageReadStream } from './fs-api/index.ts';
export type {
  OpenImageOptions,
  PathLike,
  ReadFileOptions,
  ReaddirOptions,
  StatOptions,
  ReadStreamOptions,
  FsError,
  FsErrorCode,
} from './fs-api/index.ts';
export { mkfs, mkfsLayers, readManifest, writeManifest, MANIFEST_FORMAT } from './erofs/mkfs/index.ts';
export type {
  MkfsOptions,
  MkfsReport,
  ContainerReport,
  SourceManifest,
  ManifestEntry,
  MkfsLayersOptions,
  MkfsLayersReport,
  LayerBlobReport,
} from './erofs/mkfs/index.ts';
export { System } from './system.ts';
export { VfsError, type Errno } from './vfs/errno.ts';
export type {
  SystemConfig,
  SystemStats,
  MountOptions,
  MountResult,
  MountReport,
  KernelMetadata,
  Residency,
  OpenFile,
  FileView,
  MemcgStat,
  MemcgOptions,
  ChargePolicy,
} from './system.ts';
export type { ArenaHandle } from './mm/arena.ts';
export { PAGE_SIZE, MAX_POOL_BYTES } from './mm/arena.ts';
export { NR_MEMCG } from './mm/memcontrol.ts';
export type { RealInodePolicy } from './fs/erofs/ishare.ts';
export { ErofsError, isErofsError, type ErofsErrorCode } from './erofs/errors.ts';
