// The violation name for a failure raised by one of the core's checkers (shared by worker and controller).
import type { CheckFailure } from '@ishare/core/stress';

export function checkInvariant(e: CheckFailure): string {
  return e.detector === 'lock-check' ? 'lock-check' : e.detector === 'race-detector' ? 'data-race' : 'debug-assertion';
}
