// @ishare/core/format: the EROFS on-disk format — the reader (ErofsImage and the pure parsers), the
// format's constants and types, the writer (mkfs), container-image inputs, and upstream fsck.erofs.
// The emitted .d.ts uses Node's types (Buffer, worker_threads, streams): this directive, kept in the
// emitted .d.ts, makes a consumer's compiler load @types/node without "types": ["node"] in its tsconfig
// (TypeScript 6+ loads no @types package by default).
/// <reference types="node" preserve="true" />
export * from '../erofs/index.ts';
export { availableAlgs } from '../erofs/zmap.ts';
export { mkfs, mkfsLayers, layerBlobName, readManifest, writeManifest, MANIFEST_FORMAT } from '../erofs/mkfs/index.ts';
export type {
  MkfsOptions,
  MkfsReport,
  ContainerReport,
  SourceManifest,
  ManifestEntry,
  MkfsLayersOptions,
  MkfsLayersReport,
  LayerBlobReport,
} from '../erofs/mkfs/index.ts';
export { detectContainer } from '../oci/store.ts';
export type { ContainerFormat } from '../oci/store.ts';
export { resolveContainerImage } from '../oci/resolve.ts';
export type { ContainerImage, ResolveOptions } from '../oci/resolve.ts';
export { fsckOnPath, fsckVersion, fsckExtract, regularFilesUnder } from '../upstream/fsck.ts';
export type { FsckResult } from '../upstream/fsck.ts';
