// @ishare/core/stress: planted bugs (variants installed through the hook table), the preemption
// points, and the checks that catch them — invariants, lock and race checks, forged fingerprints.
export { BUG, BUG_DESCRIPTIONS, BUG_CATEGORY } from '../debug/bugs/index.ts';
export type { BugName, BugCategory } from '../debug/bugs/index.ts';
export { POINT, POINT_NAMES, lastPoints as lastPointsOf } from '../mm/points.ts';
export { checkQuiescent } from '../debug/invariants.ts';
export { CheckFailure, InvariantViolation, takeCheckFailure, type Detector } from '../mm/checkfail.ts';
export { PROTECTED as LOCK_PROTECTED } from '../mm/lockdep.ts';
export { forgeFingerprint } from '../debug/forge.ts';
