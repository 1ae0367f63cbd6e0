// The stress controller (main thread): mounts the images with sharing on, starts one long task per
// worker, and while they run injects chaos — inode eviction, unmount/remount, drop caches, pool
// shrinking — pauses everyone now and then to check the kernel's invariants at quiescence, and watches
// heartbeats for hangs. It stops at the first violation and reports it with the threads' trails.
import { Piscina } from 'piscina';
import { System, type RealInodePolicy } from '@ishare/core';
import { BUG, CheckFailure, takeCheckFailure, lastPointsOf, checkQuiescent, type BugName } from '@ishare/core/stress';
import { readWindows, type WindowName } from '@ishare/core/kernel';
import { checkInvariant } from './check-invariant.ts';
import { Control, RUN, PAUSE, STOP, MAX_WORKERS, MAX_IMAGES } from './control.ts';
import { Rng } from './rng.ts';
import { Chaos, HOT, FOCUS } from './chaos.ts';
import { buildDecoys } from './decoys.ts';
import { prepareReference, type Reference, type ReferenceSpec } from './reference.ts';
import { checkMemory } from '../experiment.ts';
import {
  DEFAULT_WEIGHTS,
  type OpWeights,
  type StressImage,
  type StressTask,
  type StressWorkerReport,
  type Violation,
} from './task.ts';

export interface StressOptions {
  /**
   * Images and what their files must read as (reference.ts): the source tree or tar they were built
   * from, and the manifest mkfs recorded then; without either, upstream fsck.erofs extracts the image.
   * `devices`: a multi-device image's extra devices in table order (an fsmeta's layer blobs), given to
   * every mount and remount (device=) and to fsck.erofs (--device).
   */
  images: ({ image: string; domainId?: string; devices?: readonly string[] } & ReferenceSpec)[];
  /** fsck.erofs used to extract images that come without a source (default: the one on PATH). */
  fsck?: string;
  /** Mount with `verify`: files share only once their content is proven to match the fingerprint. */
  verify?: boolean;
  /**
   * Mount with superblock_share: an image given twice is one superblock, whose inodes the chaos's
   * unmount of one of its mounts must leave to the other.
   */
  superblockShare?: boolean;
  /**
   * Mount the poison decoy too: a forged fingerprint in the same domain and of the same size (default:
   * only with verify). Without verify this is the attack mainline accepts: the byte oracle reports it.
   */
  poison?: boolean;
  workers: number;
  /** 'both' alternates the two real-inode policies at every quiescent check. */
  policy: RealInodePolicy | 'both';
  /** Run for this long (default 10 s unless ops is given). */
  seconds?: number;
  /** Or stop after this many worker ops in total. */
  ops?: number;
  seed: number;
  /** Probability (0..1) that a named race point pauses/yields. */
  jitter: number;
  inject: BugName[];
  poolMiB: number;
  decoys: boolean;
  weights?: OpWeights;
  chaos?: boolean;
  chaosEveryMs?: number;
  /** Lock checks at every use site of a protected structure (default on). */
  lockChecks?: boolean;
  /** The watchpoint data-race detector (default on), its mean accesses between watchpoints and stall. */
  raceDetector?: boolean;
  /** The in-core invariant checks and the quiescent checks (default on). */
  invariants?: boolean;
  raceSample?: number;
  raceStallUs?: number;
  checkEveryMs?: number;
  watchdogMs?: number;
  onTick?: (elapsedMs: number, ops: number) => void;
}

export interface StressReport {
  seed: number;
  workers: number;
  /** 'both' alternates the two real-inode policies at every quiescent check. */
  policy: RealInodePolicy | 'both';
  inject: BugName[];
  jitter: number;
  verify: boolean;
  /** Mounted with superblock_share (an image given twice is one superblock). */
  superblockShare: boolean;
  poison: boolean;
  /** Where each image's expected bytes came from (source tree, tar extraction, fsck.erofs extraction). */
  references: { image: string; origin: string }[];
  /** verify mounts: files that proved their content and joined, files refused (content ≠ fingerprint). */
  verifiedJoins: number;
  verifyRefusals: number;
  /** Which detectors ran: lock checks, the race detector (and its watchpoints set), invariants and the byte oracle always. */
  detectors: { lockChecks: boolean; raceDetector: boolean; invariants: boolean; raceWatchpoints: number };
  elapsedMs: number;
  /** The run's length in seconds (elapsedMs / 1000), the unit `windows` is read against. */
  seconds: number;
  /**
   * Race windows (core's WINDOWS): how many times each lockless path or retry met the race it exists
   * for during the run — a window the workload does not open is one no detector can judge.
   */
  windows: Record<WindowName, number>;
  ops: number;
  opsPerSec: number;
  reads: number;
  readsPerSec: number;
  bytes: number;
  byKind: Record<string, number>;
  benign: number;
  chaos: Record<string, number>;
  quiescentChecks: number;
  pageCacheHitRate: number;
  sharedPageFraction: number;
  locks: { name: string; acquisitions: number; spins: number; sleeps: number }[];
  servedBy: { image: string; domainId: string; pages: number; sharedPages: number }[];
  /** Mount warnings, e.g. an image without fingerprints mounted unshared. */
  warnings: string[];
  counters: Record<string, number>;
  violation?: Violation & { detectedAfterMs: number; chaosTrail: string[]; lastPoints?: string[] };
}

/** A failure in the controller's own kernel calls (chaos, final unmount): which checker raised it. */
function controllerViolation(e: unknown, prefix: string): Violation {
  const msg = (e as Error).message ?? String(e);
  if (e instanceof CheckFailure)
    return { detector: e.detector, invariant: checkInvariant(e), message: prefix + msg, trail: [] };
  if (/unmount/.test(msg))
    return { detector: 'liveness', invariant: 'unmount-stalled', message: prefix + msg, trail: [] };
  return { detector: 'error', invariant: 'unexpected-error', message: prefix + msg, trail: [] };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function runStress(opts: StressOptions): Promise<StressReport> {
  if (opts.workers < 1 || opts.workers > MAX_WORKERS - 1) throw new RangeError(`workers must be 1..${MAX_WORKERS - 1}`);
  const inject = opts.inject.reduce((m, b) => m | BUG[b], 0);
  // Every worker also holds private readers (the byte oracle) beside the shared pool.
  checkMemory(opts.poolMiB * 1024 * 1024, opts.workers, 0, true);
  const all: StressInput[] = opts.images.map((i) => ({ ...i, domainId: i.domainId ?? 'stress', decoy: false }));
  const poison = opts.poison ?? !!opts.verify;
  // Every child process (upstream mkfs.erofs for the decoys, fsck.erofs --extract or tar for the byte
  // oracle) is spawned before the System allocates its arena: fork() write-protects every private
  // page of the parent, so a spawn after the arena exists makes the run's next write to each frame
  // take a copy-on-write fault (bench/spawn.ts measured it).
  const decoys = opts.decoys || poison ? await buildDecoys(undefined, { poison }) : undefined;
  const refs: Reference[] = [];
  let sys: System | undefined;
  try {
    // Without the other decoys, poison still needs its victim X beside W.
    if (decoys)
      for (const d of decoys.decoys)
        if (opts.decoys || /[/\\][xw]\.img$/.test(d.image)) all.push({ ...d, decoy: true });
    for (const x of all) refs.push(prepareReference(x.image, x, opts.fsck, x.devices));
    sys = System.create({
      poolMiB: opts.poolMiB,
      policy: opts.policy === 'any' ? 'any' : 'processing',
      inject,
      jitter: opts.jitter,
      seed: opts.seed,
      lockStats: true,
      lockChecks: opts.lockChecks ?? true,
      raceDetector: opts.raceDetector ?? true,
      invariants: opts.invariants ?? true,
      raceSample: opts.raceSample,
      raceStallUs: opts.raceStallUs,
    });
    return await new StressRun(opts, sys, all, refs, poison).run();
  } finally {
    sys?.detach();
    for (const r of refs) r.remove();
    decoys?.remove();
  }
}

type StressInput = {
  image: string;
  domainId: string;
  decoy: boolean;
  compressed?: boolean;
  devices?: readonly string[];
} & ReferenceSpec;
type Found = NonNullable<StressReport['violation']>;

/** One run on mounted images: setup, the workers, the controller's loop, the stop and the report. */
class StressRun {
  private readonly a: System['arena'];
  private readonly control = new Control();
  private readonly images: StressImage[] = [];
  private readonly warnings: string[] = [];
  private readonly served: StressReport['servedBy'];
  private readonly chaosTrail: string[] = [];
  private readonly chaos: Chaos;
  private readonly reports: StressWorkerReport[] = [];
  private readonly watchdogMs: number;
  private violation: Found | undefined;
  private finished = 0;
  private quiescentChecks = 0;
  private t0 = Date.now();

  constructor(
    private readonly opts: StressOptions,
    private readonly sys: System,
    private readonly all: StressInput[],
    private readonly refs: Reference[],
    private readonly poison: boolean,
  ) {
    this.a = sys.arena;
    this.watchdogMs = opts.watchdogMs ?? 15_000;
    this.served = all.map((i) => ({ image: i.image, domainId: i.domainId, pages: 0, sharedPages: 0 }));
    this.chaos = new Chaos({
      sys,
      control: this.control,
      images: this.images,
      rng: new Rng(opts.seed ^ 0x5eed),
      watchdogMs: this.watchdogMs,
      mount: (i) => this.mount(i),
      harvest: (i, m) => {
        this.harvest(i, m);
      },
      note: (s) => {
        this.noteChaos(s);
      },
    });
  }

  async run(): Promise<StressReport> {
    if (this.all.length > MAX_IMAGES) throw new RangeError(`at most ${MAX_IMAGES} images`);
    this.mountAll();
    const pool = new Piscina({
      // From source the thread first registers tsx (entry.mjs); built, worker.js is plain JS.
      filename: new URL(import.meta.url.endsWith('.ts') ? './entry.mjs' : './worker.js', import.meta.url).href,
      workerData: { handle: this.sys.handle },
      minThreads: this.opts.workers,
      maxThreads: this.opts.workers,
      idleTimeout: 60_000,
    });
    this.t0 = Date.now();
    const tasks = this.startWorkers(pool);
    await this.awaitStart();
    await this.loop();
    await this.stop(pool, tasks);
    const elapsedMs = Date.now() - this.t0;
    this.collect(elapsedMs);
    return this.report(elapsedMs);
  }

  private mountOpts(i: number): {
    inodeShare: boolean;
    domainId: string;
    verify: boolean;
    superblockShare: boolean;
    devices?: readonly string[];
  } {
    const devices = this.all[i].devices;
    return {
      // A multi-device image (an fsmeta and its layer blobs) gets its devices on every mount, remounts too.
      ...(devices !== undefined ? { devices } : {}),
      inodeShare: true,
      domainId: this.all[i].domainId,
      verify: !!this.opts.verify,
      // The decoys are never mounted twice: only the user's images share superblocks.
      superblockShare: !!this.opts.superblockShare && !this.all[i].decoy,
    };
  }

  /** Mount image i; the first mount's warning goes into the report (a remount's is the same one). */
  private mount(i: number, first = false): number {
    const { mount, warning } = this.sys.mount(this.all[i].image, this.mountOpts(i));
    if (warning && first) this.warnings.push(warning);
    return mount;
  }

  /** Mount every image; the file list the workers draw from is our reader's: it must be the source's. */
  private mountAll(): void {
    const { all, refs, control } = this;
    control.nimages = all.length;
    const ndecoys = all.filter((x) => x.decoy).length;
    const userWeight = ndecoys ? 0.85 / Math.max(1, this.opts.images.length) : 1;
    const decoyWeight = this.opts.images.length ? 0.15 / Math.max(1, ndecoys) : 1;
    for (let i = 0; i < all.length; i++) {
      const mount = this.mount(i, true);
      control.setMountOf(i, mount);
      const files = this.sys.listFiles(mount).map(({ path, size }) => ({ path, size }));
      const want = refs[i].files;
      const extra = files.find((f) => want.get(f.path) !== f.size);
      const listed = new Set(files.map((f) => f.path));
      const missing = [...want.keys()].find((p) => !listed.has(p));
      if (!this.violation && (extra || missing)) {
        this.fail({
          detector: 'byte-oracle',
          invariant: 'byte-oracle',
          message: extra
            ? `${all[i].image}: our reader lists ${extra.path} (${extra.size} bytes), the ${refs[i].origin} has ${want.has(extra.path) ? `${want.get(extra.path)} bytes` : 'no such file'}`
            : `${all[i].image}: ${missing} of the ${refs[i].origin} is missing from our reader's listing`,
          trail: [],
        });
        this.violation = { ...this.violation!, detectedAfterMs: 0 };
      }
      this.images.push({
        image: all[i].image,
        domainId: all[i].domainId,
        reference: refs[i].root,
        files,
        weight: all[i].decoy ? decoyWeight : userWeight,
        // The focus goes to the user's images and the compressed decoys alike (pcluster races need both
        // workers on one compressed file), less often to the small uncompressed decoys.
        focusWeight: all[i].compressed ? 4 : all[i].decoy ? 1 : 2,
      });
    }
  }

  private harvest(i: number, m: number): void {
    const s = this.sys.stats().mounts.find((x) => x.mount === m);
    if (s) {
      this.served[i].pages += s.pages;
      this.served[i].sharedPages += s.sharedPages;
    }
  }

  private noteChaos(s: string): void {
    this.chaosTrail.push(`${Date.now() - this.t0}ms ${s}`);
    if (this.chaosTrail.length > 30) this.chaosTrail.shift();
  }

  private fail(v: Violation, extra: { lastPoints?: string[] } = {}): void {
    this.violation ??= { ...v, detectedAfterMs: Date.now() - this.t0, chaosTrail: [...this.chaosTrail], ...extra };
    this.control.flagViolation();
  }

  private lastPoints(): { lastPoints: string[] } {
    return { lastPoints: lastPointsOf(this.a, this.opts.workers + 1) };
  }

  private startWorkers(pool: Piscina): Promise<void>[] {
    const { opts } = this;
    const perWorkerOps = opts.ops ? Math.ceil(opts.ops / opts.workers) : 0;
    this.chaos.startContainers(opts.workers);
    return Array.from({ length: opts.workers }, (_, w) => {
      const task: StressTask = {
        worker: w,
        seed: (opts.seed + w * 7919) >>> 0,
        control: this.control.sab,
        images: this.images,
        weights: opts.weights ?? DEFAULT_WEIGHTS,
        maxOps: perWorkerOps,
        hot: HOT,
        focus: FOCUS,
      };
      return (pool.run(task) as Promise<StressWorkerReport>).then(
        (r) => {
          this.reports.push(r);
          this.finished++;
        },
        (e: unknown) => {
          this.finished++;
          this.violation ??= {
            detector: 'error',
            invariant: 'unexpected-error',
            message: `worker ${w} died: ${(e as Error).message}`,
            thread: w,
            trail: [],
            detectedAfterMs: Date.now() - this.t0,
            chaosTrail: [],
          };
          this.control.flagViolation();
        },
      );
    });
  }

  /**
   * Wait until every worker's task has begun. A worker thread loads its modules first (from source,
   * through tsx: seconds on a loaded machine), and a thread that has not begun can neither beat nor
   * pause, so the run's clock, chaos, quiescent checks and the hang watch start only once all have —
   * a slow start is not a hang. A start that never comes still is one, on a longer bound.
   */
  private async awaitStart(): Promise<void> {
    const { opts, control } = this;
    const limitMs = Math.max(8 * this.watchdogMs, 120_000);
    const begun = Date.now();
    while (control.startedWorkers < opts.workers && this.finished === 0 && !control.violation) {
      if (Date.now() - begun > limitMs) {
        const message = `${opts.workers - control.startedWorkers} workers did not start within ${limitMs} ms`;
        this.fail({ detector: 'liveness', invariant: 'hang', message, trail: [] }, this.lastPoints());
        return;
      }
      await sleep(5);
    }
    this.t0 = Date.now();
  }

  /** The controller's loop: chaos, quiescent checks and the hang watch until the run's end. */
  private async loop(): Promise<void> {
    const { opts, control } = this;
    const seconds = opts.seconds ?? (opts.ops ? 0 : 10);
    const chaosEvery = opts.chaosEveryMs ?? 5;
    const checkEvery = opts.checkEveryMs ?? 500;
    const lastBeat = new Array<number>(opts.workers).fill(-1);
    const lastBeatAt = new Array<number>(opts.workers).fill(Date.now());
    let lastCheck = Date.now();
    while (this.finished < opts.workers && !control.violation) {
      const el = Date.now() - this.t0;
      if (seconds > 0 && el >= seconds * 1000) break;
      if (opts.chaos !== false) this.chaosOnce();
      const cf = takeCheckFailure();
      if (cf) this.fail(controllerViolation(cf, 'controller: '));
      if (Date.now() - lastCheck >= checkEvery) {
        await this.quiesceCheck();
        this.quiescentChecks++;
        lastCheck = Date.now();
      }
      this.checkHang(lastBeat, lastBeatAt);
      opts.onTick?.(
        el,
        [...Array(opts.workers).keys()].reduce((s, w) => s + control.heartbeat(w), 0),
      );
      await sleep(chaosEvery);
    }
  }

  private chaosOnce(): void {
    try {
      this.chaos.once();
    } catch (e) {
      this.noteChaos(`chaos failed: ${(e as Error).message}`);
      this.fail(controllerViolation(e, 'controller: '), this.lastPoints());
    }
  }

  private checkHang(lastBeat: number[], lastBeatAt: number[]): void {
    const { opts, control } = this;
    const now = Date.now();
    for (let w = 0; w < opts.workers; w++) {
      const hb = control.heartbeat(w);
      if (hb !== lastBeat[w]) {
        lastBeat[w] = hb;
        lastBeatAt[w] = now;
      } else if (
        this.finished < opts.workers &&
        now - lastBeatAt[w] > this.watchdogMs &&
        control.state === RUN &&
        !this.reports.some((r) => r.worker === w)
      ) {
        const message = `worker ${w} made no progress for ${now - lastBeatAt[w]} ms`;
        this.fail({ detector: 'liveness', invariant: 'hang', message, thread: w, trail: [] }, this.lastPoints());
      }
    }
  }

  /** Pause every worker, check the kernel at quiescence, switch the policy ('both'), resume. */
  private async quiesceCheck(): Promise<void> {
    const { opts, control, sys } = this;
    control.resetPaused();
    control.setState(PAUSE);
    const deadline = Date.now() + this.watchdogMs;
    while (control.paused < opts.workers - this.finished && !control.violation) {
      if (Date.now() > deadline) {
        const message = `workers did not reach the pause within ${this.watchdogMs} ms (${control.paused}/${opts.workers - this.finished})`;
        this.fail({ detector: 'liveness', invariant: 'hang', message, trail: [] }, this.lastPoints());
        return;
      }
      await sleep(1);
    }
    if (!control.violation) {
      sys.setPoolLimit(this.a.nframes);
      const v = this.opts.invariants === false ? [] : checkQuiescent(this.a);
      const cf = takeCheckFailure();
      if (cf) this.fail(controllerViolation(cf, 'quiescent check: '));
      if (v.length)
        this.fail({ detector: 'invariant', invariant: 'quiescent-invariant', message: v.join('; '), trail: [] });
    }
    if (opts.policy === 'both') sys.policy = sys.policy === 'any' ? 'processing' : 'any';
    control.resetPaused();
    control.setState(RUN);
  }

  private async stop(pool: Piscina, tasks: Promise<void>[]): Promise<void> {
    const { opts } = this;
    this.control.setState(STOP);
    const stopDeadline = Date.now() + this.watchdogMs;
    while (this.finished < opts.workers && Date.now() < stopDeadline) await sleep(5);
    if (this.finished < opts.workers) {
      const message = `${opts.workers - this.finished} workers did not stop within ${this.watchdogMs} ms`;
      this.fail({ detector: 'liveness', invariant: 'hang', message, trail: [] }, this.lastPoints());
    } else {
      await Promise.all(tasks);
    }
    await pool.destroy();
  }

  /** After the stop: the workers' findings, the last quiescent check, the final unmount. */
  private collect(elapsedMs: number): void {
    const { sys, control, all } = this;
    // Worker-found violations carry their trail; the first one reported wins.
    for (const r of this.reports.sort((x, y) => x.worker - y.worker)) {
      const v = this.violation;
      if (r.violation && (!v || (v.invariant === 'unexpected-error' && v.message.startsWith('worker'))))
        this.violation = { ...r.violation, detectedAfterMs: elapsedMs, chaosTrail: [...this.chaosTrail] };
    }
    if (!this.violation && this.finished === this.opts.workers) {
      sys.setPoolLimit(this.a.nframes);
      const v = this.opts.invariants === false ? [] : checkQuiescent(this.a);
      this.quiescentChecks++;
      if (v.length)
        this.fail({ detector: 'invariant', invariant: 'quiescent-invariant', message: v.join('; '), trail: [] });
    }
    for (let i = 0; i < all.length; i++) {
      const m = control.mountOf(i);
      if (m >= 0) this.harvest(i, m);
    }
  }

  private report(elapsedMs: number): StressReport {
    const { opts, sys, control, all, reports } = this;
    const st = sys.stats();
    const ops = reports.reduce((s, r) => s + r.ops, 0);
    const reads = reports.reduce((s, r) => s + r.reads, 0);
    const byKind: Record<string, number> = {};
    for (const r of reports) for (const [k, v] of Object.entries(r.byKind)) byKind[k] = (byKind[k] ?? 0) + v;
    const hits = st.counters.HITS;
    const misses = st.counters.MISSES;
    if (!this.violation) {
      try {
        for (let i = 0; i < all.length; i++)
          if (control.mountOf(i) >= 0) sys.unmount(control.mountOf(i), this.watchdogMs);
      } catch (e) {
        this.fail(controllerViolation(e, ''));
      }
      const cf = takeCheckFailure();
      if (cf) this.fail(controllerViolation(cf, 'final unmount: '));
    }
    return {
      seed: opts.seed,
      workers: opts.workers,
      policy: opts.policy,
      inject: opts.inject,
      jitter: opts.jitter,
      verify: !!opts.verify,
      superblockShare: !!opts.superblockShare,
      poison: this.poison,
      references: all.map((x, i) => ({ image: x.image, origin: this.refs[i].origin })),
      verifiedJoins: st.counters.ISHARE_VERIFIED,
      verifyRefusals: st.counters.ISHARE_VERIFY_REFUSED,
      detectors: {
        lockChecks: opts.lockChecks ?? true,
        raceDetector: opts.raceDetector ?? true,
        invariants: opts.invariants ?? true,
        raceWatchpoints: st.counters.RACE_WATCHPOINTS,
      },
      elapsedMs,
      seconds: elapsedMs / 1000,
      windows: readWindows(st.counters),
      ops,
      opsPerSec: ops / (elapsedMs / 1000),
      reads,
      readsPerSec: reads / (elapsedMs / 1000),
      bytes: reports.reduce((s, r) => s + r.bytes, 0),
      byKind,
      benign: reports.reduce((s, r) => s + r.benign, 0),
      chaos: this.chaos.counts,
      quiescentChecks: this.quiescentChecks,
      pageCacheHitRate: hits + misses ? hits / (hits + misses) : 0,
      sharedPageFraction: st.pageCacheBytes ? st.sharedPageCacheBytes / st.pageCacheBytes : 0,
      locks: st.locks,
      servedBy: this.served,
      warnings: this.warnings,
      counters: st.counters,
      violation: this.violation,
    };
  }
}
