// @ishare/core: the EROFS reader/writer and the shared-memory kernel with inode page-cache sharing.
// The emitted .d.ts uses Node's types (Buffer, worker_threads, streams): this directive, kept in
// dist/index.d.ts, makes a consumer's compiler load @types/node without "types": ["node"] in its tsconfig
// (TypeScript 6+ loads no @types package by default).
/// <reference types="node" preserve="true" />
export * from './erofs/index.ts';
export { mkfs, readManifest, writeManifest, MANIFEST_FORMAT } from './erofs/mkfs/index.ts';
export type { MkfsOptions, MkfsReport, ContainerReport, SourceManifest, ManifestEntry } from './erofs/mkfs/index.ts';
export { detectContainer } from './oci/store.ts';
export type { ContainerFormat } from './oci/store.ts';
export { resolveContainerImage } from './oci/resolve.ts';
export type { ContainerImage, ResolveOptions } from './oci/resolve.ts';
export { System } from './system.ts';
export type {
  SystemConfig,
  SystemStats,
  MountOptions,
  MountResult,
  MountReport,
  OpenFile,
  FileView,
} from './system.ts';
export type { ArenaHandle } from './mm/arena.ts';
export { PAGE_SIZE, MAX_POOL_BYTES } from './mm/arena.ts';
export type { RealInodePolicy } from './fs/erofs/ishare.ts';
export {
  BUG,
  BUG_DESCRIPTIONS,
  BUG_CATEGORY,
  POINT,
  POINT_NAMES,
  lastPoints as lastPointsOf,
  InvariantViolation,
} from './debug/hooks.ts';
export { checkQuiescent } from './debug/invariants.ts';
export { CheckFailure, takeCheckFailure, type Detector } from './mm/checkfail.ts';
export { PROTECTED as LOCK_PROTECTED } from './mm/lockdep.ts';
export { forgeFingerprint } from './debug/forge.ts';
export type { BugName, BugCategory } from './debug/hooks.ts';
export { CTR } from './mm/counters.ts';
export type { CounterName } from './mm/counters.ts';
export { fsckOnPath, fsckVersion, fsckExtract, regularFilesUnder } from './upstream/fsck.ts';
export type { FsckResult } from './upstream/fsck.ts';
