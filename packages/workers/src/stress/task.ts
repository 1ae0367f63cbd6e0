// What the stress controller sends each worker, and what a worker reports back. Plain values only.
export interface StressImage {
  readonly image: string;
  readonly domainId: string;
  /** Directory holding the source's bytes of this image's files (reference.ts): the byte oracle. */
  readonly reference: string;
  readonly files: readonly { readonly path: string; readonly size: number }[];
  /** Relative chance this image is picked for an op. */
  readonly weight: number;
  /** Relative chance the controller focuses the workers on a file of this image (chaos.ts). */
  readonly focusWeight: number;
}

export interface OpWeights {
  readonly whole: number; // open, read the whole file, close
  readonly range: number; // open, read a random range, close
  readonly readahead: number; // open, readahead a random range, read a bit of it, close
  readonly hold: number; // open and keep open across later ops (open/close churn)
  readonly mmap: number; // open, mmap, close; read through the mapping now and in later ops (page faults)
  readonly fadvise: number; // open, read a range, fadvise(DONTNEED) a range (on a shared file: every image's pages), close
}

export const DEFAULT_WEIGHTS: OpWeights = { whole: 25, range: 35, readahead: 15, hold: 15, mmap: 10, fadvise: 5 };

export interface StressTask {
  readonly worker: number;
  readonly seed: number;
  readonly control: SharedArrayBuffer;
  readonly images: readonly StressImage[];
  readonly weights: OpWeights;
  /** Ops this worker runs before it stops by itself; 0 = until told to stop. */
  readonly maxOps: number;
  /** Size of each image's hot set (files most ops go to, so that workers collide). */
  readonly hot: number;
  /**
   * Chance that an op reads the controller's focus file instead (Control.focusImage/focusFile): every
   * worker on one file while the controller drops its pages, evicts its inodes or unmounts its image.
   */
  readonly focus: number;
}

/**
 * Which checker caught a violation: the lock checks, the data-race detector, an invariant (a reference
 * assertion in the core, or the quiescence checks), the byte oracle, liveness (hang, unmount that cannot
 * finish), or an error nothing expected.
 */
export type DetectorName = 'lock-check' | 'race-detector' | 'invariant' | 'byte-oracle' | 'liveness' | 'error';

export interface Violation {
  readonly detector: DetectorName;
  /** 'lock-check' | 'data-race' | 'debug-assertion' | 'quiescent-invariant' | 'byte-oracle' | 'hang' | 'unmount-stalled' | 'unexpected-error' */
  readonly invariant: string;
  readonly message: string;
  readonly thread?: number; // worker index
  readonly trail: string[];
}

export interface StressWorkerReport {
  readonly worker: number;
  readonly threadId: number;
  readonly ops: number;
  readonly reads: number;
  readonly bytes: number;
  readonly byKind: Record<string, number>;
  /** Expected failures (an open racing an unmount). */
  readonly benign: number;
  readonly violation?: Violation;
  readonly trail: string[];
}
