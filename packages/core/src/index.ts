// @ishare/core: the EROFS reader/writer and the shared-memory kernel with inode page-cache sharing.
export * from './erofs/index.ts';
export { mkfs } from './erofs/mkfs/index.ts';
export type { MkfsOptions, MkfsReport } from './erofs/mkfs/index.ts';
export { System } from './system.ts';
export type { SystemConfig, SystemStats, MountOptions, MountResult, MountReport, OpenFile, FileView } from './system.ts';
export type { ArenaHandle } from './mm/arena.ts';
export { PAGE_SIZE, MAX_POOL_BYTES } from './mm/arena.ts';
export type { RealInodePolicy } from './fs/erofs/ishare.ts';
export { BUG, BUG_DESCRIPTIONS, POINT, POINT_NAMES, lastPoints as lastPointsOf, InvariantViolation } from './debug/hooks.ts';
export { checkQuiescent } from './debug/invariants.ts';
export { forgeFingerprint } from './debug/forge.ts';
export type { BugName } from './debug/hooks.ts';
export { CTR } from './mm/counters.ts';
export type { CounterName } from './mm/counters.ts';
