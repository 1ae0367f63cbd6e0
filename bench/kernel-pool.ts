// Persistent Node reader threads for the kernel-side figures. Started (and waited for) before any
// timing, so that like our ReaderPool their startup is not measured; one message per thread per run.
import { Worker } from 'node:worker_threads';
import { fileRangesBuffer } from '../packages/workers/src/ranges.ts';
import { COPY_STRIPE } from './read-loop.ts';

export interface KernelRunMessage {
  readonly run: number;
  readonly paths: readonly string[];
  /**
   * The run's files (or the copy's stripes) dealt out as one range per thread with stealing, as our
   * ReaderPool deals them (packages/workers/src/ranges.ts), so both sides split the work alike.
   */
  readonly ranges: SharedArrayBuffer;
  readonly slots: number;
  readonly chunk: number;
  /** Copy this buffer out in 4 KiB pieces instead of reading files. */
  readonly copyFrom?: SharedArrayBuffer;
}

export interface KernelRunReply {
  readonly run: number;
  readonly files: number;
  readonly bytes: number;
  readonly error?: string;
}

export class KernelReaderPool {
  private readonly workers: Worker[];
  private run = 0;

  private constructor(workers: Worker[]) {
    this.workers = workers;
  }

  static async start(threads: number): Promise<KernelReaderPool> {
    const url = new URL('./kernel-worker-entry.mjs', import.meta.url);
    const workers = Array.from({ length: threads }, () => new Worker(url));
    const pool = new KernelReaderPool(workers);
    // A run over no files proves every thread has loaded its code.
    await pool.read([], 4096);
    return pool;
  }

  get threads(): number {
    return this.workers.length;
  }

  /** Every thread reads the files it claims; resolves when all have answered. */
  read(paths: readonly string[], chunk: number): Promise<{ files: number; bytes: number }> {
    return this.send(paths, chunk);
  }

  /** Every thread copies the stripes of `src` it claims (the bare per-page copy, no cache). */
  copy(src: SharedArrayBuffer, chunk: number): Promise<{ files: number; bytes: number }> {
    return this.send([], chunk, src);
  }

  private send(
    paths: readonly string[],
    chunk: number,
    copyFrom?: SharedArrayBuffer,
  ): Promise<{ files: number; bytes: number }> {
    const run = ++this.run;
    const items = copyFrom ? Math.ceil(copyFrom.byteLength / COPY_STRIPE) : paths.length;
    const ranges = fileRangesBuffer(items, this.workers.length);
    const slots = this.workers.length;
    const replies = this.workers.map(
      (w) =>
        new Promise<KernelRunReply>((resolve, reject) => {
          const onMessage = (r: KernelRunReply): void => {
            if (r.run !== run) return;
            w.off('message', onMessage);
            w.off('error', onError);
            resolve(r);
          };
          const onError = (e: Error): void => {
            w.off('message', onMessage);
            reject(e);
          };
          w.on('message', onMessage);
          w.once('error', onError);
          const msg: KernelRunMessage = { run, paths, ranges, slots, chunk, copyFrom };
          w.postMessage(msg);
        }),
    );
    return Promise.all(replies).then((rs) => {
      const err = rs.find((r) => r.error !== undefined);
      if (err) throw new Error(`kernel reader: ${err.error}`);
      return { files: rs.reduce((s, r) => s + r.files, 0), bytes: rs.reduce((s, r) => s + r.bytes, 0) };
    });
  }

  async destroy(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
