// @ishare/core/kernel: the kernel model below the System — its per-thread handle (Kernel), the arena
// and its layouts' sizes, the counters, and the pieces tests and benchmarks look at directly.
// The emitted .d.ts uses Node's types (Buffer, worker_threads, streams): this directive, kept in the
// emitted .d.ts, makes a consumer's compiler load @types/node without "types": ["node"] in its tsconfig
// (TypeScript 6+ loads no @types package by default).
/// <reference types="node" preserve="true" />
export { System } from '../system.ts';
export type {
  SystemConfig,
  SystemStats,
  MountOptions,
  MountResult,
  MountReport,
  KernelMetadata,
  Residency,
  OpenFile,
  OpenFlags,
  FadviseAdvice,
  FileView,
  MemcgStat,
  MemcgOptions,
  ChargePolicy,
} from '../system.ts';
export { Kernel } from '../vfs/kernel.ts';
export { VfsError, type Errno } from '../vfs/errno.ts';
export { Arena, PAGE_SIZE, MAX_POOL_BYTES, type ArenaHandle, type ArenaConfig } from '../mm/arena.ts';
export { readCounters, WINDOWS, readWindows, type WindowName } from '../mm/counters.ts';
export { CTR, type CounterName } from '../fs/erofs/counters.ts';
export { FRAME_WORDS } from '../mm/pagepool.ts';
export { INODE_WORDS } from '../vfs/inode.ts';
export { PAGE_BUCKET_WORDS } from '../vfs/pagecache.ts';
export type { RealInodePolicy } from '../fs/erofs/ishare.ts';
export { zpclLock, zpclUnlock, zpclWord } from '../fs/erofs/zpcluster.ts';
export { Overlay, OVL_OPAQUE_XATTR, type OvlInode, type OvlResolved } from '../fs/overlay/namei.ts';
export { erofsNameiOps } from '../fs/erofs/namei.ts';
export type { NameiOps, LowerEntry } from '../vfs/file.ts';
