// A stress worker: attached to the shared kernel, it runs a seeded random mix of reads, range reads,
// readaheads and open/close churn on the mounted images until told to stop, checking every byte it
// reads against the source's bytes of that file (the oracle: the source tree, or an extraction by tar or
// upstream fsck.erofs, checked against mkfs's manifest by the controller — never our EROFS reader).
// It pauses when asked so the controller can check the kernel at quiescence.
import { workerData } from 'node:worker_threads';
import { readFileSync } from 'node:fs';
import { System, ErofsError, VfsError, type ArenaHandle, type OpenFile } from '@ishare/core';
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
    (e instanceof ErofsError || e instanceof VfsError) &&
    e.code === 'ENOENT' &&
    /mount \d+ (is not mounted|is being unmounted)/.test(e.message)
  );
}

const KINDS = ['whole', 'range', 'readahead', 'hold', 'mmap', 'fadvise'] as const;
type Kind = (typeof KINDS)[number];

/** One worker's run: its op loop, the files and mappings it holds, its trail and its findings. */
class StressWorker {
  private readonly control: Control;
  private readonly rng: Rng;
  private readonly trail: string[] = [];
  private readonly byKind: Record<Kind, number> = { whole: 0, range: 0, readahead: 0, hold: 0, mmap: 0, fadvise: 0 };
  private readonly kindWeights: number[];
  private readonly imageWeights: number[];
  private readonly held: { file: OpenFile; img: number }[] = [];
  // Mappings that outlived their files (they pin only the shared inode); faulted in by later mmap ops.
  private readonly maps: { map: OpenFile; img: number }[] = [];
  private buf = Buffer.allocUnsafe(256 * 1024);
  private readonly holderCache = new Map<number, (readonly [number, number])[]>();
  private readonly pathIndexes: (Map<string, number> | undefined)[] = [];
  private ops = 0;
  private reads = 0;
  private bytes = 0;
  private benign = 0;
  private violation: Violation | undefined;

  private memcg = 0;

  /**
   * Run in the worker's container cgroup (the controller replaces it as chaos). One a chaos step removed
   * since it was named is not online: the worker stays where it is, and charges go to its parent.
   */
  private enterMemcg(): void {
    const want = this.control.memcgOf(this.task.worker);
    if (want === this.memcg) return;
    try {
      sys.setMemcg(want);
      this.memcg = want;
    } catch {
      // removed already: the next op tries the next one
    }
  }

  constructor(private readonly task: StressTask) {
    this.control = new Control(task.control);
    this.rng = new Rng(task.seed);
    const w = task.weights;
    this.kindWeights = [w.whole, w.range, w.readahead, w.hold, w.mmap, w.fadvise];
    this.imageWeights = task.images.map((i) => i.weight);
  }

  run(): StressWorkerReport {
    const { task, control } = this;
    control.started();
    try {
      while (this.violation === undefined && (task.maxOps === 0 || this.ops < task.maxOps)) {
        const st = control.state;
        if (st === STOP || control.violation) break;
        if (st === PAUSE) {
          if (!this.pause()) break;
          continue;
        }
        control.beat(task.worker);
        this.ops++;
        this.enterMemcg();
        this.step();
      }
    } finally {
      try {
        this.closeHeld();
      } catch (e) {
        // A reference rule broken by the files and mappings still held is a finding like any other.
        // eslint-disable-next-line no-unsafe-finally -- a crash while closing outranks the run's own outcome
        if (!(e instanceof CheckFailure)) throw e;
        this.violation ??= this.found(e, `closing held files: ${e.message}`);
        control.flagViolation();
      }
    }
    return {
      worker: task.worker,
      threadId: sys.kernel.threadId,
      ops: this.ops,
      reads: this.reads,
      bytes: this.bytes,
      byKind: this.byKind,
      benign: this.benign,
      violation: this.violation,
      trail: this.trail.slice(-10),
    };
  }

  private note(s: string): void {
    this.trail.push(s);
    if (this.trail.length > TRAIL) this.trail.shift();
  }

  private found(e: CheckFailure, message: string): Violation {
    return {
      detector: e.detector,
      invariant: checkInvariant(e),
      message,
      thread: this.task.worker,
      trail: [...this.trail],
    };
  }

  private closeHeld(): void {
    while (this.held.length) sys.close(this.held.shift()!.file);
    while (this.maps.length) sys.munmap(this.maps.shift()!.map);
  }

  /** The controller asked for a pause: close what is held, then wait. False once a violation is found. */
  private pause(): boolean {
    try {
      this.closeHeld();
    } catch (e) {
      if (!(e instanceof CheckFailure)) throw e;
      this.violation = this.found(e, `closing held files: ${e.message}`);
      this.control.flagViolation();
      return false;
    }
    const cf = takeCheckFailure();
    if (cf) {
      this.violation = this.found(cf, `closing held files: ${cf.message}`);
      this.control.flagViolation();
      return false;
    }
    this.control.pauseHere();
    return true;
  }

  /**
   * One op: an image and a file (the controller's focus file, else half the time from the hot set), a
   * kind, its outcome judged.
   */
  private step(): void {
    const { task, rng, control } = this;
    let img = rng.weighted(this.imageWeights);
    let pick = -1;
    const focus = control.focusImage;
    if (focus >= 0 && rng.next() < task.focus) {
      // The focus file: half the time in its image (one mapping, one pcluster table for all), half the time
      // through any image that has a file of that path (the same content, as a rule: the readers of one
      // image then map through the inodes of another, which the controller unmounts).
      const holders = rng.next() < 0.5 ? this.holders(focus, control.focusFile) : [];
      [img, pick] = holders.length ? holders[rng.int(holders.length)] : [focus, control.focusFile];
    }
    let kind = KINDS[rng.weighted(this.kindWeights)];
    let refill = false;
    const stopping = control.stopping;
    if (stopping >= 0 && focus >= 0) {
      // The controller is unmounting an image holding the focus file (chaos.ts): drop the file's pages and
      // read it whole again through another image holding it — the fill maps through the stopping image's
      // inode (the backing list's head) while the unmount sweeps.
      const others = this.holders(focus, control.focusFile).filter(([i]) => i !== stopping);
      if (!this.letGo(stopping)) return;
      if (others.length) {
        [img, pick] = others[rng.int(others.length)];
        kind = 'whole';
        refill = true;
      }
    }
    const files = task.images[img].files;
    if (files.length === 0) return;
    if (pick < 0 || pick >= files.length)
      pick = rng.next() < 0.5 ? rng.int(Math.min(task.hot, files.length)) : rng.int(files.length);
    const file = files[pick];
    const m = this.control.mountOf(img);
    if (m < 0) {
      this.benign++;
      return;
    }
    this.byKind[kind]++;
    try {
      this.op(kind, img, m, file.path, refill);
    } catch (e) {
      this.judge(e, file.path);
    }
    // Lock checks and the race detector report at the end of the op (they never throw under a lock);
    // what they saw comes before whatever went wrong after it.
    const cf = takeCheckFailure();
    if (cf) this.violation = this.found(cf, `${file.path}: ${cf.message}`);
    if (this.violation) this.control.flagViolation();
  }

  /**
   * Close the files this worker holds open in image `img` (the unmount waits for them). False when that
   * found a violation (judged like an op's failure).
   */
  private letGo(img: number): boolean {
    try {
      for (let j = this.held.length - 1; j >= 0; j--) {
        if (this.held[j].img === img) sys.close(this.held.splice(j, 1)[0].file);
      }
    } catch (e) {
      this.judge(e, 'closing held files');
    }
    const cf = takeCheckFailure();
    if (cf) this.violation ??= this.found(cf, `closing held files: ${cf.message}`);
    if (this.violation) this.control.flagViolation();
    return this.violation === undefined;
  }

  /** The images holding a file of the path of image img's file `file`, with its index in each. */
  private holders(img: number, file: number): (readonly [number, number])[] {
    const key = img * 65536 + file;
    let h = this.holderCache.get(key);
    if (h) return h;
    const path = this.task.images[img]?.files[file]?.path;
    h = [];
    if (path !== undefined) {
      for (let i = 0; i < this.task.images.length; i++) {
        const idx = this.pathIndex(i).get(path);
        if (idx !== undefined) h.push([i, idx]);
      }
    }
    this.holderCache.set(key, h);
    return h;
  }

  private pathIndex(img: number): Map<string, number> {
    let m = this.pathIndexes[img];
    if (!m) {
      m = new Map(this.task.images[img].files.map((f, i) => [f.path, i]));
      this.pathIndexes[img] = m;
    }
    return m;
  }

  /** What an op's exception means: a finding of a detector, a benign refusal, or an unexpected error. */
  private judge(e: unknown, path: string): void {
    const where = { thread: this.task.worker, trail: [...this.trail] };
    if (e instanceof OracleError) {
      this.violation = { detector: 'byte-oracle', invariant: 'byte-oracle', message: e.message, ...where };
    } else if (e instanceof CheckFailure) {
      this.violation = this.found(e, `${path}: ${e.message}`);
    } else if (isBenign(e)) {
      this.benign++;
    } else {
      const message = `${path}: ${(e as Error).message ?? String(e)}`;
      this.violation = { detector: 'error', invariant: 'unexpected-error', message, ...where };
    }
  }

  private op(kind: Kind, img: number, m: number, path: string, refill = false): void {
    const { task, rng } = this;
    const name = task.images[img].image;
    let f: OpenFile | undefined = sys.open(m, path);
    try {
      if (kind === 'whole') {
        if (refill) {
          const dropped = sys.fadvise(f, 0, 0, 'dontneed');
          this.note(`fadvise DONTNEED ${name}:${path} m${m} → ${dropped} pages dropped (refill)`);
          this.control.refillBegun();
        }
        if (this.buf.length < f.size) this.buf = Buffer.allocUnsafe(f.size);
        const n = sys.read(f, 0, f.size, this.buf);
        this.note(`whole ${name}:${path} m${m} ${n}B`);
        this.verify(img, path, 0, this.buf, n);
        return;
      }
      const off = f.size ? rng.int(f.size) : 0;
      const len = 1 + rng.int(Math.min(this.buf.length, Math.max(1, f.size - off)));
      if (kind === 'readahead') {
        sys.readahead(f, off, len);
        this.note(`readahead ${name}:${path} m${m} @${off}+${len}`);
      }
      const n = sys.read(f, off, Math.min(len, 8192), this.buf);
      this.note(`${kind} ${name}:${path} m${m} @${off}+${Math.min(len, 8192)} → ${n}B`);
      this.verify(img, path, off, this.buf, n);
      if (kind === 'hold') {
        this.held.push({ file: f, img });
        f = undefined;
        if (this.held.length > 2) sys.close(this.held.shift()!.file);
      } else if (kind === 'fadvise') {
        this.fadvise(f, img, m);
      } else if (kind === 'mmap' && f.mapping !== f.inode) {
        this.maps.push({ map: sys.mmap(f), img });
        sys.close(f);
        f = undefined;
        this.faultIn(this.maps[rng.int(this.maps.length)]);
        if (this.maps.length > 3) sys.munmap(this.maps.shift()!.map);
      }
    } finally {
      if (f) sys.close(f);
    }
  }

  /** Drops the pages of this content for every image sharing it, while the other workers read them. */
  private fadvise(f: OpenFile, img: number, m: number): void {
    const rng = this.rng;
    const aoff = rng.int(Math.max(1, f.size));
    const alen = rng.next() < 0.3 ? 0 : 1 + rng.int(Math.max(1, f.size - aoff));
    const dropped = sys.fadvise(f, aoff, alen, 'dontneed');
    this.note(
      `fadvise DONTNEED ${this.task.images[img].image}:${f.path} m${m} @${aoff}+${alen || 'EOF'} → ${dropped} pages dropped`,
    );
  }

  /** A page fault through an old mapping: a range read verified like any other. */
  private faultIn(entry: { map: OpenFile; img: number }): void {
    const { map, img } = entry;
    const name = this.task.images[img].image;
    const off = map.size ? this.rng.int(map.size) : 0;
    const len = Math.min(8192, Math.max(1, map.size - off));
    try {
      const n = sys.read(map, off, len, this.buf);
      this.note(`fault ${name}:${map.path} (mapped, file closed) @${off}+${len} → ${n}B`);
      this.verify(img, map.path, off, this.buf, n);
    } catch (e) {
      // Every image holding the file was unmounted or evicted since: SIGBUS, as in the kernel.
      if (!(e instanceof ErofsError && e.code === 'EIO' && /no live backing inode/.test(e.message))) throw e;
      this.note(`fault ${name}:${map.path} (mapped, file closed): no backing inode left (SIGBUS)`);
      this.benign++;
    }
  }

  private verify(img: number, path: string, off: number, got: Uint8Array, n: number): void {
    const name = this.task.images[img].image;
    const want = oracle.get(this.task.images[img].reference, path);
    const end = Math.min(off + n, want.length);
    const expectLen = Math.max(0, end - off);
    if (n !== expectLen) throw new OracleError(`${path} in ${name}: read ${n} bytes at ${off}, expected ${expectLen}`);
    for (let i = 0; i < n; i++) {
      if (got[i] !== want[off + i]) {
        throw new OracleError(
          `${path} in ${name}: wrong byte at offset ${off + i} (got ${got[i]}, expected ${want[off + i]})`,
        );
      }
    }
    this.reads++;
    this.bytes += n;
  }
}

export default function run(task: StressTask): StressWorkerReport {
  return new StressWorker(task).run();
}

class OracleError extends Error {}
