// The stress controller (main thread): mounts the images with sharing on, starts one long task per
// worker, and while they run injects chaos — inode eviction, unmount/remount, drop caches, pool
// shrinking — pauses everyone now and then to check the kernel's invariants at quiescence, and watches
// heartbeats for hangs. It stops at the first violation and reports it with the threads' trails.
import { Piscina } from 'piscina';
import { System, type RealInodePolicy } from '@ishare/core';
import { BUG, CheckFailure, takeCheckFailure, lastPointsOf, checkQuiescent, type BugName } from '@ishare/core/stress';
import { checkInvariant } from './check-invariant.ts';
import { Control, RUN, PAUSE, STOP, MAX_WORKERS, MAX_IMAGES } from './control.ts';
import { Rng } from './rng.ts';
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
   */
  images: ({ image: string; domainId?: string } & ReferenceSpec)[];
  /** fsck.erofs used to extract images that come without a source (default: the one on PATH). */
  fsck?: string;
  /** Mount with `verify`: files share only once their content is proven to match the fingerprint. */
  verify?: boolean;
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
  poison: boolean;
  /** Where each image's expected bytes came from (source tree, tar extraction, fsck.erofs extraction). */
  references: { image: string; origin: string }[];
  /** verify mounts: files that proved their content and joined, files refused (content ≠ fingerprint). */
  verifiedJoins: number;
  verifyRefusals: number;
  /** Which detectors ran: lock checks, the race detector (and its watchpoints set), invariants and the byte oracle always. */
  detectors: { lockChecks: boolean; raceDetector: boolean; raceWatchpoints: number };
  elapsedMs: number;
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
  const sys = System.create({
    poolMiB: opts.poolMiB,
    policy: opts.policy === 'any' ? 'any' : 'processing',
    inject,
    jitter: opts.jitter,
    seed: opts.seed,
    lockStats: true,
    lockChecks: opts.lockChecks ?? true,
    raceDetector: opts.raceDetector ?? true,
    raceSample: opts.raceSample,
    raceStallUs: opts.raceStallUs,
  });
  const all: StressInput[] = opts.images.map((i) => ({ ...i, domainId: i.domainId ?? 'stress', decoy: false }));
  const poison = opts.poison ?? !!opts.verify;
  const decoys = opts.decoys || poison ? await buildDecoys(undefined, { poison }) : undefined;
  // Without the other decoys, poison still needs its victim X beside W.
  if (decoys)
    for (const d of decoys.decoys) if (opts.decoys || /[/\\][xw]\.img$/.test(d.image)) all.push({ ...d, decoy: true });
  const refs: Reference[] = [];
  try {
    for (const x of all) refs.push(prepareReference(x.image, x, opts.fsck));
    return await stressMounted(opts, sys, all, refs, poison);
  } finally {
    sys.detach();
    for (const r of refs) r.remove();
    decoys?.remove();
  }
}

type StressInput = { image: string; domainId: string; decoy: boolean } & ReferenceSpec;

async function stressMounted(
  opts: StressOptions,
  sys: System,
  all: StressInput[],
  refs: Reference[],
  poison: boolean,
): Promise<StressReport> {
  const a = sys.arena;
  if (all.length > MAX_IMAGES) throw new RangeError(`at most ${MAX_IMAGES} images`);
  const control = new Control();
  control.nimages = all.length;
  const images: StressImage[] = [];
  const ndecoys = all.filter((x) => x.decoy).length;
  const userWeight = ndecoys ? 0.85 / Math.max(1, opts.images.length) : 1;
  const decoyWeight = opts.images.length ? 0.15 / Math.max(1, ndecoys) : 1;
  const mountOpts = (i: number): { inodeShare: boolean; domainId: string; verify: boolean } => ({
    inodeShare: true,
    domainId: all[i].domainId,
    verify: !!opts.verify,
  });
  let setupViolation: Violation | undefined;
  const warnings: string[] = [];
  for (let i = 0; i < all.length; i++) {
    const { mount, warning } = sys.mount(all[i].image, mountOpts(i));
    if (warning) warnings.push(warning);
    control.setMountOf(i, mount);
    const files = sys.listFiles(mount).map(({ path, size }) => ({ path, size }));
    // The file list the workers draw from is our reader's: it must be the source's, path for path.
    const want = refs[i].files;
    const extra = files.find((f) => want.get(f.path) !== f.size);
    const listed = new Set(files.map((f) => f.path));
    const missing = [...want.keys()].find((p) => !listed.has(p));
    if (!setupViolation && (extra || missing)) {
      setupViolation = {
        detector: 'byte-oracle',
        invariant: 'byte-oracle',
        message: extra
          ? `${all[i].image}: our reader lists ${extra.path} (${extra.size} bytes), the ${refs[i].origin} has ${want.has(extra.path) ? `${want.get(extra.path)} bytes` : 'no such file'}`
          : `${all[i].image}: ${missing} of the ${refs[i].origin} is missing from our reader's listing`,
        trail: [],
      };
    }
    images.push({
      image: all[i].image,
      domainId: all[i].domainId,
      reference: refs[i].root,
      files,
      weight: all[i].decoy ? decoyWeight : userWeight,
    });
  }
  const served = all.map((i) => ({ image: i.image, domainId: i.domainId, pages: 0, sharedPages: 0 }));
  const harvest = (i: number, m: number): void => {
    const s = sys.stats().mounts.find((x) => x.mount === m);
    if (s) {
      served[i].pages += s.pages;
      served[i].sharedPages += s.sharedPages;
    }
  };

  const pool = new Piscina({
    // From source the thread first registers tsx (entry.mjs); built, worker.js is plain JS.
    filename: new URL(import.meta.url.endsWith('.ts') ? './entry.mjs' : './worker.js', import.meta.url).href,
    workerData: { handle: sys.handle },
    minThreads: opts.workers,
    maxThreads: opts.workers,
    idleTimeout: 60_000,
  });
  const seconds = opts.seconds ?? (opts.ops ? 0 : 10);
  const perWorkerOps = opts.ops ? Math.ceil(opts.ops / opts.workers) : 0;
  const weights = opts.weights ?? DEFAULT_WEIGHTS;
  const rng = new Rng(opts.seed ^ 0x5eed);
  const chaosTrail: string[] = [];
  const chaosCounts: Record<string, number> = { evict: 0, remount: 0, drop: 0, shrink: 0 };
  const noteChaos = (s: string): void => {
    chaosTrail.push(`${Date.now() - t0}ms ${s}`);
    if (chaosTrail.length > 30) chaosTrail.shift();
  };
  let violation: StressReport['violation'] = setupViolation
    ? { ...setupViolation, detectedAfterMs: 0, chaosTrail: [] }
    : undefined;
  if (violation) control.flagViolation();
  let finished = 0;
  const reports: StressWorkerReport[] = [];
  const t0 = Date.now();
  const tasks = Array.from({ length: opts.workers }, (_, w) => {
    const task: StressTask = {
      worker: w,
      seed: (opts.seed + w * 7919) >>> 0,
      control: control.sab,
      images,
      weights,
      maxOps: perWorkerOps,
      hot: 8,
    };
    return (pool.run(task) as Promise<StressWorkerReport>).then(
      (r) => {
        reports.push(r);
        finished++;
      },
      (e: unknown) => {
        finished++;
        violation ??= {
          detector: 'error',
          invariant: 'unexpected-error',
          message: `worker ${w} died: ${(e as Error).message}`,
          thread: w,
          trail: [],
          detectedAfterMs: Date.now() - t0,
          chaosTrail: [],
        };
        control.flagViolation();
      },
    );
  });

  const watchdogMs = opts.watchdogMs ?? 15_000;
  const fail = (v: Violation, extra: { lastPoints?: string[] } = {}): void => {
    violation ??= { ...v, detectedAfterMs: Date.now() - t0, chaosTrail: [...chaosTrail], ...extra };
    control.flagViolation();
  };
  const lastBeat = new Array<number>(opts.workers).fill(-1);
  const lastBeatAt = new Array<number>(opts.workers).fill(Date.now());
  const checkHang = (): void => {
    const now = Date.now();
    for (let w = 0; w < opts.workers; w++) {
      const hb = control.heartbeat(w);
      if (hb !== lastBeat[w]) {
        lastBeat[w] = hb;
        lastBeatAt[w] = now;
      } else if (
        finished < opts.workers &&
        now - lastBeatAt[w] > watchdogMs &&
        control.state === RUN &&
        !reports.some((r) => r.worker === w)
      ) {
        fail(
          {
            detector: 'liveness',
            invariant: 'hang',
            message: `worker ${w} made no progress for ${now - lastBeatAt[w]} ms`,
            thread: w,
            trail: [],
          },
          { lastPoints: lastPointsOf(a, opts.workers + 1) },
        );
      }
    }
  };

  const quiesceCheck = async (): Promise<void> => {
    control.resetPaused();
    control.setState(PAUSE);
    const deadline = Date.now() + watchdogMs;
    while (control.paused < opts.workers - finished && !control.violation) {
      if (Date.now() > deadline) {
        fail(
          {
            detector: 'liveness',
            invariant: 'hang',
            message: `workers did not reach the pause within ${watchdogMs} ms (${control.paused}/${opts.workers - finished})`,
            trail: [],
          },
          { lastPoints: lastPointsOf(a, opts.workers + 1) },
        );
        return;
      }
      await sleep(1);
    }
    if (!control.violation) {
      sys.setPoolLimit(a.nframes);
      const v = checkQuiescent(a);
      const cf = takeCheckFailure();
      if (cf) fail(controllerViolation(cf, 'quiescent check: '));
      if (v.length) fail({ detector: 'invariant', invariant: 'quiescent-invariant', message: v.join('; '), trail: [] });
    }
    if (opts.policy === 'both') sys.policy = sys.policy === 'any' ? 'processing' : 'any';
    control.resetPaused();
    control.setState(RUN);
  };

  const chaosOnce = (): void => {
    const kind = rng.weighted([3, 1, 1, 1]);
    try {
      if (kind === 0) {
        const n = sys.evictInodes(8 + rng.int(64));
        chaosCounts.evict++;
        noteChaos(`evicted ${n} unused inodes`);
      } else if (kind === 1) {
        // The image to stop is picked as the workload picks images to read: mostly the user's.
        const i = rng.weighted(images.map((x) => x.weight));
        const m = control.mountOf(i);
        control.setMountOf(i, -1);
        harvest(i, m);
        // Correct code unmounts in milliseconds (workers hold files for a few ops at most).
        sys.unmount(m, Math.min(watchdogMs, 3000));
        const { mount } = sys.mount(all[i].image, mountOpts(i));
        control.setMountOf(i, mount);
        chaosCounts.remount++;
        noteChaos(`unmounted ${all[i].image} (m${m}) and remounted it as m${mount}`);
      } else if (kind === 2) {
        sys.dropCaches();
        chaosCounts.drop++;
        noteChaos('dropped caches');
      } else {
        const frames = Math.floor(a.nframes * (0.25 + rng.next() * 0.75));
        sys.setPoolLimit(frames);
        chaosCounts.shrink++;
        noteChaos(`pool limited to ${frames} frames`);
      }
    } catch (e) {
      noteChaos(`chaos failed: ${(e as Error).message}`);
      fail(controllerViolation(e, 'controller: '), { lastPoints: lastPointsOf(a, opts.workers + 1) });
    }
  };

  const chaosEvery = opts.chaosEveryMs ?? 15;
  const checkEvery = opts.checkEveryMs ?? 500;
  let lastCheck = Date.now();
  let quiescentChecks = 0;
  while (finished < opts.workers && !control.violation) {
    const el = Date.now() - t0;
    if (seconds > 0 && el >= seconds * 1000) break;
    if (opts.chaos !== false) chaosOnce();
    const cf = takeCheckFailure();
    if (cf) fail(controllerViolation(cf, 'controller: '));
    if (Date.now() - lastCheck >= checkEvery) {
      await quiesceCheck();
      quiescentChecks++;
      lastCheck = Date.now();
    }
    checkHang();
    opts.onTick?.(
      el,
      [...Array(opts.workers).keys()].reduce((s, w) => s + control.heartbeat(w), 0),
    );
    await sleep(chaosEvery);
  }
  control.setState(STOP);
  const stopDeadline = Date.now() + watchdogMs;
  while (finished < opts.workers && Date.now() < stopDeadline) await sleep(5);
  if (finished < opts.workers) {
    fail(
      {
        detector: 'liveness',
        invariant: 'hang',
        message: `${opts.workers - finished} workers did not stop within ${watchdogMs} ms`,
        trail: [],
      },
      { lastPoints: lastPointsOf(a, opts.workers + 1) },
    );
    await pool.destroy();
  } else {
    await Promise.all(tasks);
    await pool.destroy();
  }
  const elapsedMs = Date.now() - t0;
  // Worker-found violations carry their trail; the first one reported wins.
  for (const r of reports.sort((x, y) => x.worker - y.worker)) {
    if (
      r.violation &&
      (!violation || (violation.invariant === 'unexpected-error' && violation.message.startsWith('worker')))
    ) {
      violation = { ...r.violation, detectedAfterMs: elapsedMs, chaosTrail: [...chaosTrail] };
    }
  }
  if (!violation && finished === opts.workers) {
    sys.setPoolLimit(a.nframes);
    const v = checkQuiescent(a);
    quiescentChecks++;
    if (v.length) fail({ detector: 'invariant', invariant: 'quiescent-invariant', message: v.join('; '), trail: [] });
  }
  for (let i = 0; i < all.length; i++) {
    const m = control.mountOf(i);
    if (m >= 0) harvest(i, m);
  }
  const st = sys.stats();
  const ops = reports.reduce((s, r) => s + r.ops, 0);
  const reads = reports.reduce((s, r) => s + r.reads, 0);
  const byKind: Record<string, number> = {};
  for (const r of reports) for (const [k, v] of Object.entries(r.byKind)) byKind[k] = (byKind[k] ?? 0) + v;
  const hits = st.counters.HITS;
  const misses = st.counters.MISSES;
  if (!violation) {
    try {
      for (let i = 0; i < all.length; i++) if (control.mountOf(i) >= 0) sys.unmount(control.mountOf(i), watchdogMs);
    } catch (e) {
      fail(controllerViolation(e, ''));
    }
    const cf = takeCheckFailure();
    if (cf) fail(controllerViolation(cf, 'final unmount: '));
  }
  return {
    seed: opts.seed,
    workers: opts.workers,
    policy: opts.policy,
    inject: opts.inject,
    jitter: opts.jitter,
    verify: !!opts.verify,
    poison,
    references: all.map((x, i) => ({ image: x.image, origin: refs[i].origin })),
    verifiedJoins: st.counters.ISHARE_VERIFIED,
    verifyRefusals: st.counters.ISHARE_VERIFY_REFUSED,
    detectors: {
      lockChecks: opts.lockChecks ?? true,
      raceDetector: opts.raceDetector ?? true,
      raceWatchpoints: st.counters.RACE_WATCHPOINTS,
    },
    elapsedMs,
    ops,
    opsPerSec: ops / (elapsedMs / 1000),
    reads,
    readsPerSec: reads / (elapsedMs / 1000),
    bytes: reports.reduce((s, r) => s + r.bytes, 0),
    byKind,
    benign: reports.reduce((s, r) => s + r.benign, 0),
    chaos: chaosCounts,
    quiescentChecks,
    pageCacheHitRate: hits + misses ? hits / (hits + misses) : 0,
    sharedPageFraction: st.pageCacheBytes ? st.sharedPageCacheBytes / st.pageCacheBytes : 0,
    locks: st.locks,
    servedBy: served,
    warnings,
    counters: st.counters,
    violation,
  };
}
