// The reader pool: piscina workers attached to one System's arena. Work is split into tasks of a few
// files each so that the workers really run side by side on the same page cache.
import { Piscina } from 'piscina';
import { availableParallelism } from 'node:os';
import type { System } from '@ishare/core';
import type { ReaderTask, ReaderResult } from './tasks.ts';
import { claimBufferBytes } from './claim.ts';
import { fileRangesBuffer } from './ranges.ts';
import { encodeFileList, sameSets, snapshotSets, type FileSets } from './filelist.ts';

export interface PoolOptions {
  /** Worker threads (default: the machine's cores). */
  workers?: number;
  /** Worker module override (the stress harness runs its own worker on the same arena). */
  filename?: string;
}

export interface ReadSummary {
  files: number;
  bytes: number;
  errors: string[];
  /** sha256 per path, when asked. */
  hashes?: Map<string, string>;
  /** Files read per worker thread id (evidence that work really spread). */
  perThread: Map<number, number>;
  /** Bytes read per worker thread id (readClaimed: with `split`, one file's stripes spread over them). */
  perThreadBytes?: Map<number, number>;
}

export class ReaderPool {
  readonly workers: number;
  private readonly pool: Piscina;
  /** The last readClaimed file list, encoded (filelist.ts), and the sets it was made from. */
  private list: { sets: FileSets; buf: SharedArrayBuffer } | undefined;

  constructor(sys: System, opts: PoolOptions = {}) {
    const n = opts.workers ?? availableParallelism();
    if (!Number.isInteger(n) || n < 1 || n > 64) throw new RangeError('workers must be an integer from 1 to 64');
    this.workers = n;
    this.pool = new Piscina({
      // From source the thread first registers tsx (worker-entry.mjs); built, worker.js is plain JS.
      filename:
        opts.filename ??
        new URL(import.meta.url.endsWith('.ts') ? './worker-entry.mjs' : './worker.js', import.meta.url).href,
      workerData: { handle: sys.handle },
      minThreads: n,
      maxThreads: n,
      idleTimeout: 60_000,
    });
  }

  run(task: ReaderTask): Promise<ReaderResult> {
    return this.pool.run(task) as Promise<ReaderResult>;
  }

  /**
   * Read every given file of a mount in full, spread over the workers in batches. With `hash`, each
   * file's sha256 is returned. `onProgress` is called with files done.
   */
  async readFiles(
    mount: number,
    paths: readonly string[],
    opts: { hash?: boolean; batch?: number; onProgress?: (done: number) => void } = {},
  ): Promise<ReadSummary> {
    const batch = opts.batch ?? Math.max(1, Math.min(64, Math.ceil(paths.length / (this.workers * 8))));
    const tasks: Promise<ReaderResult>[] = [];
    const slices: (readonly string[])[] = [];
    let done = 0;
    for (let i = 0; i < paths.length; i += batch) {
      const slice = paths.slice(i, i + batch);
      slices.push(slice);
      tasks.push(
        this.run({ kind: 'readFiles', mount, paths: slice, hash: opts.hash }).then((r) => {
          done += slice.length;
          opts.onProgress?.(done);
          return r;
        }),
      );
    }
    const results = await Promise.all(tasks);
    const out: ReadSummary = { files: 0, bytes: 0, errors: [], perThread: new Map() };
    if (opts.hash) out.hashes = new Map();
    results.forEach((r, i) => {
      out.files += r.files;
      out.bytes += r.bytes;
      out.errors.push(...r.errors);
      out.perThread.set(r.threadId, (out.perThread.get(r.threadId) ?? 0) + r.files);
      if (out.hashes && r.hashes) slices[i].forEach((p, j) => out.hashes!.set(p, r.hashes![j]));
    });
    return out;
  }

  /**
   * Read every file of every given mount in full: one task per worker, each claiming files one at a time
   * from its own range of the list, then from the back of the others' (ranges.ts; no per-batch messages;
   * a worker that finishes early takes another's last file).
   * With `memcg`, every worker reads inside that memory cgroup. With `split` (bytes), a file bigger than
   * that is read by every worker at once, in stripes of about that size (a compressed file's cut at
   * extent ends, so each pcluster is one worker's): the kernel's readahead spread over CPUs.
   */
  async readClaimed(
    sets: readonly { mount: number; paths: readonly string[] }[],
    opts: { chunk?: number; view?: boolean; memcg?: number; split?: number } = {},
  ): Promise<ReadSummary> {
    if (opts.split !== undefined && !(Number.isSafeInteger(opts.split) && opts.split >= 0))
      throw new RangeError('split must be a whole number of bytes (0: whole files)');
    // Encoded once while the runs go over the same files (a bench's passes): not copied per run and worker.
    if (!this.list || !sameSets(this.list.sets, sets))
      this.list = { sets: snapshotSets(sets), buf: encodeFileList(sets) };
    const files = this.list.buf;
    const nfiles = sets.reduce((n, s) => n + s.paths.length, 0);
    const ranges = fileRangesBuffer(nfiles, this.workers);
    const split =
      opts.split !== undefined && opts.split > 0 && this.workers > 1
        ? { bytes: opts.split, claim: new SharedArrayBuffer(claimBufferBytes(this.workers)), slots: this.workers }
        : undefined;
    const tasks: Promise<ReaderResult>[] = [];
    for (let w = 0; w < this.workers; w++)
      tasks.push(
        this.run({
          kind: 'readClaimed',
          files,
          ranges,
          slots: this.workers,
          chunk: opts.chunk,
          view: opts.view,
          memcg: opts.memcg,
          split,
        }),
      );
    const results = await Promise.all(tasks);
    const perThreadBytes = new Map<number, number>();
    const out: ReadSummary = { files: 0, bytes: 0, errors: [], perThread: new Map(), perThreadBytes };
    for (const r of results) {
      out.files += r.files;
      out.bytes += r.bytes;
      out.errors.push(...r.errors);
      out.perThread.set(r.threadId, (out.perThread.get(r.threadId) ?? 0) + r.files);
      perThreadBytes.set(r.threadId, (perThreadBytes.get(r.threadId) ?? 0) + r.bytes);
    }
    return out;
  }

  async destroy(): Promise<void> {
    await this.pool.destroy();
  }
}
