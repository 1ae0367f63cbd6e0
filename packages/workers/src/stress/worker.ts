// A stress worker: attached to the shared kernel, it runs a seeded random mix of reads, range reads,
// readaheads and open/close churn on the mounted images until told to stop, checking every byte it
// reads against the source's bytes of that file (the oracle: the source tree, or an extraction by tar or
// upstream fsck.erofs, checked against mkfs's manifest by the controller — never our EROFS reader).
// It pauses when asked so the controller can check the kernel at quiescence.
import { workerData } from 'node:worker_threads';
import { readFileSync } from 'node:fs';
import { System, ErofsError, type ArenaHandle, type OpenFile } from '@ishare/core';
import { CheckFailure, takeCheckFailure } from '@ishare/core/stress';
import { Control, PAUSE, STOP } from './control.ts';
import { checkInvariant } from './check-invariant.ts';
import { Rng } from './rng.ts';
import type { StressTask, StressWorkerReport, Violation } from './task.ts';

const sys = System.attach((workerData as { handle: ArenaHandle }).handle);
const TRAIL = 40;

class Oracle {
  private readonly data = new Map<string, Buffer>();
  private bytes = 0;
  get(reference: string, path: string): Buffer {
    const key = reference + '\0' + path;
    let d = this.data.get(key);
    if (d) return d;
    d = readFileSync(reference + path);
    if (this.bytes > 512 * 1024 * 1024) {
      this.data.clear();
      this.bytes = 0;
    }
    this.data.set(key, d);
    this.bytes += d.length;
    return d;
  }
}
const oracle = new Oracle();

function isBenign(e: unknown): boolean {
  // An open racing the controller's unmount of that image: the kernel refuses it, as it should.
  return (
    e instanceof ErofsError && e.code === 'ENOENT' && /mount \d+ (is not mounted|is being unmounted)/.test(e.message)
  );
}

export default function run(task: StressTask): StressWorkerReport {
  const control = new Control(task.control);
  const rng = new Rng(task.seed);
  const trail: string[] = [];
  const note = (s: string): void => {
    trail.push(s);
    if (trail.length > TRAIL) trail.shift();
  };
  const byKind: Record<string, number> = { whole: 0, range: 0, readahead: 0, hold: 0, mmap: 0, fadvise: 0 };
  const kinds = ['whole', 'range', 'readahead', 'hold', 'mmap', 'fadvise'] as const;
  const w = task.weights;
  const kindWeights = [w.whole, w.range, w.readahead, w.hold, w.mmap, w.fadvise];
  const imageWeights = task.images.map((i) => i.weight);
  const held: { file: OpenFile; img: number }[] = [];
  // Mappings that outlived their files (they pin only the shared inode); faulted in by later mmap ops.
  const maps: { map: OpenFile; img: number }[] = [];
  let buf = Buffer.allocUnsafe(256 * 1024);
  let ops = 0;
  let reads = 0;
  let bytes = 0;
  let benign = 0;
  let violation: Violation | undefined;

  const closeHeld = (): void => {
    while (held.length) sys.close(held.shift()!.file);
    while (maps.length) sys.munmap(maps.shift()!.map);
  };
  /** A page fault through an old mapping: a range read verified like any other. */
  const faultIn = (entry: { map: OpenFile; img: number }): void => {
    const { map, img } = entry;
    const off = map.size ? rng.int(map.size) : 0;
    const len = Math.min(8192, Math.max(1, map.size - off));
    try {
      const n = sys.read(map, off, len, buf);
      note(`fault ${task.images[img].image}:${map.path} (mapped, file closed) @${off}+${len} → ${n}B`);
      verify(img, map.path, off, buf, n);
    } catch (e) {
      // Every image holding the file was unmounted or evicted since: SIGBUS, as in the kernel.
      if (!(e instanceof ErofsError && e.code === 'EIO' && /no live backing inode/.test(e.message))) throw e;
      note(`fault ${task.images[img].image}:${map.path} (mapped, file closed): no backing inode left (SIGBUS)`);
      benign++;
    }
  };
  const verify = (img: number, path: string, off: number, got: Uint8Array, n: number): void => {
    const want = oracle.get(task.images[img].reference, path);
    const end = Math.min(off + n, want.length);
    const expectLen = Math.max(0, end - off);
    if (n !== expectLen)
      throw new OracleError(`${path} in ${task.images[img].image}: read ${n} bytes at ${off}, expected ${expectLen}`);
    for (let i = 0; i < n; i++) {
      if (got[i] !== want[off + i]) {
        throw new OracleError(
          `${path} in ${task.images[img].image}: wrong byte at offset ${off + i} (got ${got[i]}, expected ${want[off + i]})`,
        );
      }
    }
    reads++;
    bytes += n;
  };

  try {
    while (violation === undefined && (task.maxOps === 0 || ops < task.maxOps)) {
      const st = control.state;
      if (st === STOP || control.violation) break;
      if (st === PAUSE) {
        try {
          closeHeld();
        } catch (e) {
          if (!(e instanceof CheckFailure)) throw e;
          violation = {
            detector: e.detector,
            invariant: checkInvariant(e),
            message: `closing held files: ${e.message}`,
            thread: task.worker,
            trail: [...trail],
          };
          control.flagViolation();
          break;
        }
        const cf = takeCheckFailure();
        if (cf) {
          violation = {
            detector: cf.detector,
            invariant: checkInvariant(cf),
            message: `closing held files: ${cf.message}`,
            thread: task.worker,
            trail: [...trail],
          };
          control.flagViolation();
          break;
        }
        control.pauseHere();
        continue;
      }
      control.beat(task.worker);
      ops++;
      const img = rng.weighted(imageWeights);
      const files = task.images[img].files;
      if (files.length === 0) continue;
      const file = rng.next() < 0.5 ? files[rng.int(Math.min(task.hot, files.length))] : files[rng.int(files.length)];
      const kind = kinds[rng.weighted(kindWeights)];
      const m = control.mountOf(img);
      if (m < 0) {
        benign++;
        continue;
      }
      byKind[kind]++;
      let f: OpenFile | undefined;
      try {
        f = sys.open(m, file.path);
        if (kind === 'whole') {
          if (buf.length < f.size) buf = Buffer.allocUnsafe(f.size);
          const n = sys.read(f, 0, f.size, buf);
          note(`whole ${task.images[img].image}:${file.path} m${m} ${n}B`);
          verify(img, file.path, 0, buf, n);
        } else {
          const off = f.size ? rng.int(f.size) : 0;
          const len = 1 + rng.int(Math.min(buf.length, Math.max(1, f.size - off)));
          if (kind === 'readahead') {
            sys.readahead(f, off, len);
            note(`readahead ${task.images[img].image}:${file.path} m${m} @${off}+${len}`);
          }
          const n = sys.read(f, off, Math.min(len, 8192), buf);
          note(`${kind} ${task.images[img].image}:${file.path} m${m} @${off}+${Math.min(len, 8192)} → ${n}B`);
          verify(img, file.path, off, buf, n);
          if (kind === 'hold') {
            held.push({ file: f, img });
            f = undefined;
            if (held.length > 2) sys.close(held.shift()!.file);
          } else if (kind === 'fadvise') {
            // Drops the pages of this content for every image sharing it, while the other workers read them.
            const aoff = rng.int(Math.max(1, f.size));
            const alen = rng.next() < 0.3 ? 0 : 1 + rng.int(Math.max(1, f.size - aoff));
            const dropped = sys.fadvise(f, aoff, alen, 'dontneed');
            note(
              `fadvise DONTNEED ${task.images[img].image}:${file.path} m${m} @${aoff}+${alen || 'EOF'} → ${dropped} pages dropped`,
            );
          } else if (kind === 'mmap' && f.mapping !== f.inode) {
            maps.push({ map: sys.mmap(f), img });
            sys.close(f);
            f = undefined;
            faultIn(maps[rng.int(maps.length)]);
            if (maps.length > 3) sys.munmap(maps.shift()!.map);
          }
        }
      } catch (e) {
        if (e instanceof OracleError) {
          violation = {
            detector: 'byte-oracle',
            invariant: 'byte-oracle',
            message: e.message,
            thread: task.worker,
            trail: [...trail],
          };
        } else if (e instanceof CheckFailure) {
          violation = {
            detector: e.detector,
            invariant: checkInvariant(e),
            message: `${file.path}: ${e.message}`,
            thread: task.worker,
            trail: [...trail],
          };
        } else if (isBenign(e)) {
          benign++;
        } else {
          violation = {
            detector: 'error',
            invariant: 'unexpected-error',
            message: `${file.path}: ${(e as Error).message ?? String(e)}`,
            thread: task.worker,
            trail: [...trail],
          };
        }
      } finally {
        if (f) sys.close(f);
      }
      // Lock checks and the race detector report at the end of the op (they never throw under a lock);
      // what they saw comes before whatever went wrong after it.
      const cf = takeCheckFailure();
      if (cf)
        violation = {
          detector: cf.detector,
          invariant: checkInvariant(cf),
          message: `${file.path}: ${cf.message}`,
          thread: task.worker,
          trail: [...trail],
        };
      if (violation) control.flagViolation();
    }
  } finally {
    try {
      closeHeld();
    } catch (e) {
      // A reference rule broken by the files and mappings still held is a finding like any other.
      // eslint-disable-next-line no-unsafe-finally -- a crash while closing outranks the run's own outcome
      if (!(e instanceof CheckFailure)) throw e;
      violation ??= {
        detector: e.detector,
        invariant: checkInvariant(e),
        message: `closing held files: ${e.message}`,
        thread: task.worker,
        trail: [...trail],
      };
      control.flagViolation();
    }
  }
  return {
    worker: task.worker,
    threadId: sys.kernel.threadId,
    ops,
    reads,
    bytes,
    byKind,
    benign,
    violation,
    trail: trail.slice(-10),
  };
}

class OracleError extends Error {}
