// Stress settings of this thread, read from the arena (set by System.create from the stress options):
// which checks run (lock checks, the race detector, the in-core invariants — the check options only),
// the race-window points and their jitter, and the planted bugs (`--inject`), whose variants replace
// steps in the production step tables (debug/bugs/). Which checks run never depends on the bugs.
import { CHECK_LOCKS, CHECK_RACES, CHECK_INVARIANTS, declareHeaderWord, type Arena } from '../mm/arena.ts';
import { lockdepConfigure, SITE_NAMES, PROTECTED } from '../mm/lockdep.ts';
// Every layer's protected structures, use sites and points declared before any report names them.
import '../fs/erofs/locks.ts';
import '../fs/erofs/points.ts';
import { kcsanConfigure } from '../mm/kcsan.ts';
import { invariantsConfigure } from '../mm/checkfail.ts';
import { pointsConfigure, pointsRefresh } from '../mm/points.ts';
import { installBugs } from './bugs/index.ts';

export { BUG, BUGS, BUG_DESCRIPTIONS, BUG_CATEGORY, type BugName, type BugCategory } from './bugs/index.ts';

let myThreadId = 0;

// The planted-bug mask (`--inject`): a header word of the arena this module owns.
declareHeaderWord('debug.inject');
/** The planted bugs of arena `a` (a mask of BUG bits). */
export function injectMask(a: Arena): number {
  return Atomics.load(a.i32, a.headerWord('debug.inject'));
}
export function setInjectMask(a: Arena, mask: number): void {
  Atomics.store(a.i32, a.headerWord('debug.inject'), mask);
}

/** Enable this thread's checks, points and planted bugs from the arena's settings (at attach/create). */
export function hooksAttach(a: Arena, threadId: number): void {
  myThreadId = threadId;
  configureChecks(a);
  pointsConfigure(a, threadId, a.jitter !== 0 || a.checks !== 0, a.jitter, a.seed);
  installBugs(injectMask(a));
}

function configureChecks(a: Arena): void {
  const c = a.checks;
  lockdepConfigure((c & CHECK_LOCKS) !== 0, (c & (CHECK_LOCKS | CHECK_RACES)) !== 0);
  kcsanConfigure((c & CHECK_RACES) !== 0, myThreadId, a.raceSample || 200, (a.raceStallUs || 200) / 1000, a.seed, {
    sites: SITE_NAMES,
    prots: PROTECTED.map((p) => p.name),
  });
  invariantsConfigure((c & CHECK_INVARIANTS) !== 0);
}

/** Re-read the arena settings (the stress controller may change them at run time). */
export function hooksRefresh(a: Arena): void {
  configureChecks(a);
  pointsRefresh(true, a.jitter);
  installBugs(injectMask(a));
}
