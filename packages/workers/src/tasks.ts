// Messages between the main thread and reader workers: plain values and arena handles only.

/** Read whole files of one mount (each file: open, read sequentially, close). */
export interface ReadFilesTask {
  readonly kind: 'readFiles';
  /** Memory cgroup id the reads run in (System.memcgCreate; absent = the root): pages they bring in are charged there. */
  readonly memcg?: number;
  readonly mount: number;
  /** Paths are in the overlay of these mounts (top first; `mount` is the top one): a layered container. */
  readonly layers?: readonly number[];
  readonly paths: readonly string[];
  /** Return the sha256 of each file's bytes (for byte-exact checks). */
  readonly hash?: boolean;
  /** Bytes per read call (default 128 KiB). */
  readonly chunk?: number;
}

/**
 * Read whole files of several mounts, each worker claiming files from its own range of the list and then
 * from the back of the others' (ranges.ts, `ranges`, one range per task): one message per worker per
 * run however many files, and the work spreads file by file as it goes, not by batches fixed in advance.
 */
export interface ReadClaimedTask {
  readonly kind: 'readClaimed';
  /** Memory cgroup id the reads run in (System.memcgCreate; absent = the root): pages they bring in are charged there. */
  readonly memcg?: number;
  /** Files to read: a list encoded by filelist.ts (mount and path of each file). */
  readonly files: SharedArrayBuffer;
  /** The run's file ranges (ranges.ts), `slots` of them, one per task. */
  readonly ranges: SharedArrayBuffer;
  readonly slots: number;
  readonly chunk?: number;
  /** Zero-copy: take pinned views of each chunk (System.view) and release them, copying nothing. */
  readonly view?: boolean;
  /**
   * Parallel readahead of big files: a file bigger than `split` bytes is cut into stripes of about that
   * size (a compressed one at extent ends) which every worker of the run claims from, through the
   * slots of `claim` (claim.ts; `slots` of them, one per task). Absent: each file is read by one worker.
   */
  readonly split?: { readonly bytes: number; readonly claim: SharedArrayBuffer; readonly slots: number };
}

/** Read (or only populate, with readahead) byte ranges. */
export interface RangesTask {
  readonly kind: 'ranges';
  /** Memory cgroup id the reads run in (System.memcgCreate; absent = the root): pages they bring in are charged there. */
  readonly memcg?: number;
  readonly mount: number;
  /** Paths are in the overlay of these mounts (top first; `mount` is the top one): a layered container. */
  readonly layers?: readonly number[];
  /** [path, offset, length] triples. */
  readonly ranges: readonly (readonly [string, number, number])[];
  readonly readahead?: boolean;
  readonly hash?: boolean;
}

export type ReaderTask = ReadFilesTask | ReadClaimedTask | RangesTask;

export interface ReaderResult {
  readonly files: number;
  readonly bytes: number;
  readonly hashes?: string[];
  /** Ranges that failed (a missing path in a trace, say): "path: message". */
  readonly errors: string[];
  readonly threadId: number;
}
