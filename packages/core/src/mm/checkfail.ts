// A check of the kernel's rules failed while stressing. Every checker raises a subclass, so a report can
// say which one caught what: the lock checks (lockdep.ts), the data-race detector (kcsan.ts), or an
// invariant (debug/hooks.ts InvariantViolation: reference rules, quiescence).
export type Detector = 'lock-check' | 'race-detector' | 'invariant';

export class CheckFailure extends Error {
  readonly detector: Detector;
  constructor(detector: Detector, message: string) {
    super(message);
    this.detector = detector;
    this.name = 'CheckFailure';
  }
}
