// A check of the kernel's rules failed while stressing. Every checker raises a subclass, so a report can
// say which one caught what: the lock checks (lockdep.ts), the data-race detector (kcsan.ts), or an
// invariant (InvariantViolation below: reference rules, quiescence).
export type Detector = 'lock-check' | 'race-detector' | 'invariant';

export class CheckFailure extends Error {
  readonly detector: Detector;
  constructor(detector: Detector, message: string) {
    super(message);
    this.detector = detector;
    this.name = 'CheckFailure';
  }
}

// Lock checks and the race detector fire at use sites, usually with locks held: throwing there would
// leave a spinlock held forever and hang every thread. Like lockdep and KCSAN, they report and carry on;
// the thread's first failure waits here until a safe point (the end of a system call: System's entry
// points, the stress worker's op loop, the controller's chaos step) raises it.
let pending: CheckFailure | undefined;

export function reportCheckFailure(f: CheckFailure): void {
  pending ??= f;
}

/** The first unreported check failure of this thread, if any (and forget it). */
export function takeCheckFailure(): CheckFailure | undefined {
  const f = pending;
  pending = undefined;
  return f;
}

/**
 * A debug assertion failed: a reference rule of the design was broken (DBG_BUGON in the kernel). Raised
 * only while the invariant checks are on (`invariantsOn`; the arena's CHECK_INVARIANTS setting).
 */
export class InvariantViolation extends CheckFailure {
  constructor(message: string) {
    super('invariant', message);
    this.name = 'InvariantViolation';
  }
}

/**
 * The in-core invariant checks (DBG_BUGON sites) run in this thread. Set from the arena's check options
 * only — never from which planted bug, if any, is installed.
 */
export let invariantsOn = false;

export function invariantsConfigure(on: boolean): void {
  invariantsOn = on;
}
