// @ishare/core/stress: planted bugs (variants installed through the hook table), the preemption
// points, and the checks that catch them — invariants, lock and race checks, forged fingerprints.
// The emitted .d.ts uses Node's types (Buffer, worker_threads, streams): this directive, kept in the
// emitted .d.ts, makes a consumer's compiler load @types/node without "types": ["node"] in its tsconfig
// (TypeScript 6+ loads no @types package by default).
/// <reference types="node" preserve="true" />
export { BUG, BUG_DESCRIPTIONS, BUG_CATEGORY } from '../debug/bugs/index.ts';
export type { BugName, BugCategory } from '../debug/bugs/index.ts';
export { POINT_NAMES, lastPoints as lastPointsOf } from '../mm/points.ts';
export { POINT } from '../fs/erofs/points.ts';
export { checkQuiescent } from '../debug/invariants.ts';
export { CheckFailure, InvariantViolation, takeCheckFailure, type Detector } from '../mm/checkfail.ts';
export { PROTECTED as LOCK_PROTECTED } from '../mm/lockdep.ts';
export { forgeFingerprint } from '../debug/forge.ts';
export { sharedInodeView } from '../fs/erofs/ishare.ts';
export { inodeMount } from '../vfs/inode.ts';
