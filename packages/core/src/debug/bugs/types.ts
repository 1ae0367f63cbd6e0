// A planted bug: a variant of one production step, installed in this thread's step table when the
// stress harness's `--inject` names it. The production code does not know it exists.

/**
 * race: needs two threads — with lock checks off, one worker with no chaos and no jitter runs clean;
 * logic: a single-thread mistake, caught by one thread alone.
 */
export type BugCategory = 'race' | 'logic';

export interface PlantedBug {
  readonly category: BugCategory;
  readonly description: string;
  /** Put this bug's version of the step it breaks into the step table (of this thread). */
  install(): void;
}
