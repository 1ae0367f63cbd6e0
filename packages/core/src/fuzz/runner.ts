// The fuzz run: a few worker threads check images; the runner hands out indexes, bounds each image in
// time (a worker that overruns is terminated: a hang, and a fresh worker takes its place), tallies the
// outcomes and saves every failing image — regenerated here from (run seed, index) — with a text file
// describing its mutations and what went wrong.
import { Worker } from 'node:worker_threads';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeMutations, generateImage, prepareSeed, type SeedImage } from './mutate.ts';
import { FAILING_KINDS, normalizeMessage, OUTCOME_KINDS, type CheckOutcome, type OutcomeKind } from './outcome.ts';
import { DEFAULT_READ_CAP } from './reader-pass.ts';
import { DEFAULT_FSCK_TIMEOUT_MS, type WorkerInit, type WorkerMessage, type WorkerTask } from './worker.ts';
import type { Disagreement } from './differential.ts';

export const DEFAULT_TIMEOUT_MS = 2000;
export const DEFAULT_WORKERS = 2;
/** Failing images saved per run at most (a systematic bug would otherwise fill the disk). */
export const MAX_SAVED = 200;

// Run from source (tsx), a worker thread must register tsx's loader before it can load TypeScript;
// built (dist/*.js), the worker module is plain JavaScript and is the thread's entry itself.
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const BOOTSTRAP = fileURLToPath(new URL('./worker-entry.mjs', import.meta.url));
const DEFAULT_MODULE = new URL(FROM_SOURCE ? './worker-main.ts' : './worker-main.js', import.meta.url).href;

export interface FuzzOptions {
  readonly seeds: readonly { readonly name: string; readonly bytes: Uint8Array }[];
  readonly count: number;
  /** Run seed: image i of a run depends only on (seed, i). */
  readonly seed: number;
  /** First image index (default 0): continue a run, or replay one index with count 1. */
  readonly start?: number;
  readonly workers?: number;
  readonly timeoutMs?: number;
  /** Where failing images go (created on the first failure); none saved when absent. */
  readonly outDir?: string;
  /** Run the kernel pass too (default true). */
  readonly kernel?: boolean;
  readonly readCap?: number;
  readonly onProgress?: (done: number, total: number, counts: Readonly<Record<OutcomeKind, number>>) => void;
  /** Worker module URL (tests: a stand-in checker). */
  readonly workerModule?: string;
  /** Upstream fsck.erofs: run the differential pass (differential.ts) with it. */
  readonly fsck?: string;
  /** Its version line, for the report. */
  readonly fsckVersion?: string;
  /** fsck.erofs's own time limit per image (default 5000 ms), added to the image's limit. */
  readonly fsckTimeoutMs?: number;
}

export interface DifferentialFinding {
  readonly index: number;
  readonly seedImage: string;
  readonly disagreements: Disagreement[];
  readonly file?: string;
}

export interface DifferentialReport {
  readonly fsck: string;
  readonly version: string | undefined;
  /** Images both accepted, and the files compared in them. */
  readonly compared: number;
  readonly files: number;
  readonly upstreamRejected: number;
  readonly oursRejected: number;
  readonly skipped: number;
  /** Why fsck.erofs refused images our reader accepted, grouped, most frequent first. */
  readonly upstreamReasons: { message: string; count: number }[];
  /** Images where the two readers disagree: each is a finding (saved like a failure). */
  readonly findings: DifferentialFinding[];
  /** Of those, images whose every disagreement matches a known upstream bug (reported, not failing). */
  readonly upstreamBugs: number;
}

export interface FuzzFailure {
  readonly index: number;
  readonly seedImage: string;
  readonly kind: OutcomeKind;
  readonly phase: string | undefined;
  readonly message: string;
  readonly stack?: string;
  /** Saved image path, when saved. */
  readonly file?: string;
}

export interface FuzzReport {
  readonly seed: number;
  readonly start: number;
  readonly images: number;
  readonly seeds: string[];
  readonly workers: number;
  readonly timeoutMs: number;
  readonly elapsedMs: number;
  readonly imagesPerSec: number;
  readonly counts: Record<OutcomeKind, number>;
  readonly bySeed: Record<string, Record<OutcomeKind, number>>;
  /** First typed error of each image, grouped by message shape, most frequent first. */
  readonly topErrors: { message: string; code: string; count: number }[];
  readonly codes: Record<string, number>;
  readonly typedErrors: number;
  readonly filesRead: number;
  readonly verifiedUntouched: number;
  readonly guardedReads: number;
  readonly failures: FuzzFailure[];
  readonly saved: number;
  readonly differential?: DifferentialReport;
}

function zeroCounts(): Record<OutcomeKind, number> {
  return Object.fromEntries(OUTCOME_KINDS.map((k) => [k, 0])) as Record<OutcomeKind, number>;
}

/** A differential finding explained entirely by known upstream bugs. */
export function upstreamOnly(f: DifferentialFinding): boolean {
  return f.disagreements.every((d) => d.upstreamBug !== undefined);
}

export function isFailing(kind: OutcomeKind): boolean {
  return FAILING_KINDS.includes(kind);
}

interface Slot {
  worker: Worker;
  ready: boolean;
  index: number | undefined;
  timer: NodeJS.Timeout | undefined;
}

/** A small pool of terminable workers running one task at a time each. */
class Pool {
  private readonly slots: Slot[] = [];
  private closed = false;

  constructor(
    private readonly init: WorkerInit,
    size: number,
    private readonly timeoutMs: number,
    private readonly onIdle: (slot: Slot) => void,
    private readonly onResult: (index: number, seed: string, outcome: CheckOutcome) => void,
    private readonly onFatal: (e: Error) => void,
  ) {
    for (let i = 0; i < size; i++) this.slots.push(this.spawn());
  }

  private spawn(): Slot {
    const worker = new Worker(FROM_SOURCE ? BOOTSTRAP : new URL(this.init.module), {
      workerData: this.init,
      resourceLimits: { maxOldGenerationSizeMb: 1024 },
    });
    const slot: Slot = { worker, ready: false, index: undefined, timer: undefined };
    worker.on('message', (msg: WorkerMessage) => {
      if (msg.type === 'ready') {
        slot.ready = true;
        this.onIdle(slot);
        return;
      }
      clearTimeout(slot.timer);
      slot.index = undefined;
      this.onResult(msg.index, msg.seed, msg.outcome);
      this.onIdle(slot);
    });
    worker.on('error', (e: Error) => this.died(slot, e));
    worker.on('exit', (code) => {
      if (this.closed || slot.worker !== worker) return;
      if (!slot.ready) this.onFatal(new Error(`fuzz worker exited during start-up (code ${code})`));
      else this.died(slot, new Error(`worker exited with code ${code}`));
    });
    return slot;
  }

  private died(slot: Slot, e: Error): void {
    if (this.closed) return;
    if (!slot.ready) {
      this.onFatal(e);
      return;
    }
    clearTimeout(slot.timer);
    const index = slot.index;
    this.replace(slot);
    if (index !== undefined) {
      this.onResult(index, '', {
        kind: 'crash',
        phase: 'worker',
        message: `worker died: ${e.name}: ${e.message.split('\n')[0]}`,
        stack: e.stack,
        typedErrors: 0,
        filesRead: 0,
        verified: 0,
        guarded: 0,
      });
    }
  }

  private replace(slot: Slot): void {
    const i = this.slots.indexOf(slot);
    slot.ready = false;
    slot.worker.removeAllListeners();
    slot.worker.on('error', () => {});
    void slot.worker.terminate();
    this.slots[i] = this.spawn();
  }

  run(slot: Slot, task: WorkerTask, index: number): void {
    slot.index = index;
    slot.timer = setTimeout(() => {
      this.replace(slot);
      this.onResult(index, '', {
        kind: 'hang',
        phase: 'worker',
        message: `no answer within ${this.timeoutMs} ms`,
        typedErrors: 0,
        filesRead: 0,
        verified: 0,
        guarded: 0,
      });
    }, this.timeoutMs);
    slot.worker.postMessage(task);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const s of this.slots) clearTimeout(s.timer);
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}

function failureText(f: FuzzFailure): string {
  return (
    [
      `outcome: ${f.kind}${f.phase ? ` (${f.phase} pass)` : ''}`,
      `message: ${f.message}`,
      ...(f.stack ? ['stack:', f.stack] : []),
    ].join('\n') + '\n'
  );
}

/** What the workers need to check images: the checker module, seeds, scratch space and limits. */
function workerInit(opts: FuzzOptions, scratchDir: string): WorkerInit {
  return {
    module: opts.workerModule ?? DEFAULT_MODULE,
    seeds: opts.seeds.map((s) => ({ name: s.name, bytes: s.bytes })),
    runSeed: opts.seed,
    scratchDir,
    readCap: opts.readCap ?? DEFAULT_READ_CAP,
    kernel: opts.kernel ?? true,
    ...(opts.fsck !== undefined
      ? { fsck: opts.fsck, fsckTimeoutMs: opts.fsckTimeoutMs ?? DEFAULT_FSCK_TIMEOUT_MS }
      : {}),
  };
}

/** The run's outcomes as they come in: counts, error groups, failures (saved), differential findings. */
class Tally {
  readonly counts = zeroCounts();
  readonly bySeed: Record<string, Record<OutcomeKind, number>> = {};
  private readonly groups = new Map<string, { message: string; code: string; count: number }>();
  readonly codes: Record<string, number> = {};
  readonly failures: FuzzFailure[] = [];
  typedErrors = 0;
  filesRead = 0;
  verified = 0;
  guarded = 0;
  saved = 0;
  done = 0;
  private readonly diff = {
    compared: 0,
    files: 0,
    upstreamRejected: 0,
    oursRejected: 0,
    skipped: 0,
    reasons: new Map<string, number>(),
    findings: [] as DifferentialFinding[],
  };

  constructor(
    private readonly opts: FuzzOptions,
    private readonly seeds: SeedImage[],
  ) {}

  /** Save image `index` (regenerated from the run seed) with a text on what went wrong; its path. */
  private save(index: number, outcome: CheckOutcome, as: string = outcome.kind, text?: string): string | undefined {
    const opts = this.opts;
    if (!opts.outDir || this.saved >= MAX_SAVED || this.seeds.length === 0) return undefined;
    mkdirSync(opts.outDir, { recursive: true });
    const img = generateImage(this.seeds, opts.seed, index);
    const base = join(opts.outDir, `fuzz-${opts.seed}-${index}-${as}`);
    writeFileSync(`${base}.img`, img.bytes);
    const f: FuzzFailure = {
      index,
      seedImage: img.seed,
      kind: outcome.kind,
      phase: outcome.phase,
      message: outcome.message ?? '',
      stack: outcome.stack,
    };
    writeFileSync(`${base}.txt`, describeMutations(img, opts.seed) + (text ?? failureText(f)));
    this.saved++;
    return `${base}.img`;
  }

  private noteDifferential(index: number, seedImage: string, o: CheckOutcome): void {
    const d = o.differential;
    if (!d) return;
    const diff = this.diff;
    if (d.status === 'compared') {
      diff.compared++;
      diff.files += d.files;
    } else if (d.status === 'upstream-rejected') {
      diff.upstreamRejected++;
      const key = normalizeMessage(d.upstream ?? '');
      diff.reasons.set(key, (diff.reasons.get(key) ?? 0) + 1);
    } else if (d.status === 'ours-rejected') diff.oursRejected++;
    else diff.skipped++;
    if (d.disagreements.length > 0) {
      const text =
        [
          'differential: our reader and fsck.erofs --extract disagree',
          ...d.disagreements.map(
            (x) =>
              `  ${x.path}: ${x.kind}: ${x.detail}${x.upstreamBug ? ` [known upstream bug: ${x.upstreamBug}]` : ''}`,
          ),
        ].join('\n') + '\n';
      const file = this.save(index, o, 'differential', text);
      diff.findings.push({ index, seedImage, disagreements: d.disagreements, ...(file ? { file } : {}) });
    }
  }

  /** One image's outcome. */
  record(index: number, seedName: string, o: CheckOutcome): void {
    this.done++;
    this.counts[o.kind]++;
    const seedImage = seedName || (this.seeds.length ? generateImage(this.seeds, this.opts.seed, index).seed : '');
    (this.bySeed[seedImage] ??= zeroCounts())[o.kind]++;
    this.typedErrors += o.typedErrors;
    this.filesRead += o.filesRead;
    this.verified += o.verified;
    this.guarded += o.guarded;
    if (o.kind === 'error' && o.message !== undefined) {
      const key = normalizeMessage(o.message);
      const g = this.groups.get(key);
      if (g) g.count++;
      else this.groups.set(key, { message: key, code: o.code ?? '', count: 1 });
      this.codes[o.code ?? '?'] = (this.codes[o.code ?? '?'] ?? 0) + 1;
    }
    if (isFailing(o.kind)) {
      const file = this.save(index, o);
      this.failures.push({
        index,
        seedImage,
        kind: o.kind,
        phase: o.phase,
        message: o.message ?? '',
        stack: o.stack,
        file,
      });
    }
    this.noteDifferential(index, seedImage, o);
  }

  topErrors(): { message: string; code: string; count: number }[] {
    return [...this.groups.values()].sort((a, b) => b.count - a.count || a.message.localeCompare(b.message));
  }

  differential(): DifferentialReport | undefined {
    const opts = this.opts;
    if (opts.fsck === undefined) return undefined;
    const diff = this.diff;
    return {
      fsck: opts.fsck,
      version: opts.fsckVersion,
      compared: diff.compared,
      files: diff.files,
      upstreamRejected: diff.upstreamRejected,
      oursRejected: diff.oursRejected,
      skipped: diff.skipped,
      upstreamReasons: [...diff.reasons]
        .map(([message, count]) => ({ message, count }))
        .sort((a, b) => b.count - a.count || a.message.localeCompare(b.message)),
      findings: diff.findings.sort((a, b) => a.index - b.index),
      upstreamBugs: diff.findings.filter(upstreamOnly).length,
    };
  }
}

/** Hand indexes [start, start + count) to the workers until every outcome is in; fatal errors reject. */
async function checkAll(
  init: WorkerInit,
  workers: number,
  timeoutMs: number,
  start: number,
  count: number,
  tally: Tally,
  onProgress: FuzzOptions['onProgress'],
): Promise<void> {
  let pool: Pool | undefined;
  let next = start;
  const end = start + count;
  try {
    await new Promise<void>((resolve, reject) => {
      let failed = false;
      const onResult = (index: number, seedName: string, o: CheckOutcome): void => {
        tally.record(index, seedName, o);
        onProgress?.(tally.done, count, tally.counts);
        if (tally.done === count) resolve();
      };
      const onIdle = (slot: Slot): void => {
        if (failed || next >= end || !pool) return;
        const index = next++;
        pool.run(slot, { type: 'check', index }, index);
      };
      const onFatal = (e: Error): void => {
        if (failed) return;
        failed = true;
        reject(e);
      };
      if (count === 0) {
        resolve();
        return;
      }
      // fsck.erofs has its own limit; the image's limit stays what bounds our reader and kernel.
      pool = new Pool(
        init,
        workers,
        timeoutMs + (init.fsck !== undefined ? (init.fsckTimeoutMs ?? DEFAULT_FSCK_TIMEOUT_MS) : 0),
        (s) => onIdle(s),
        onResult,
        onFatal,
      );
    });
  } finally {
    await pool?.close();
  }
}

export async function runFuzz(opts: FuzzOptions): Promise<FuzzReport> {
  if (!Number.isSafeInteger(opts.count) || opts.count < 0) throw new RangeError('count must be a non-negative integer');
  const start = opts.start ?? 0;
  const workers = Math.max(1, Math.min(opts.workers ?? DEFAULT_WORKERS, Math.max(1, opts.count)));
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  // The runner maps the seeds too: it regenerates failing images to save them.
  const seeds: SeedImage[] = opts.seeds.map((s) => prepareSeed(s.name, s.bytes));
  const scratchDir = mkdtempSync(join(tmpdir(), 'ishare-fuzz-'));
  const tally = new Tally(opts, seeds);
  const t0 = performance.now();
  try {
    await checkAll(workerInit(opts, scratchDir), workers, timeoutMs, start, opts.count, tally, opts.onProgress);
  } finally {
    rmSync(scratchDir, { recursive: true, force: true });
  }
  const elapsedMs = performance.now() - t0;
  tally.failures.sort((a, b) => a.index - b.index);
  const differential = tally.differential();
  return {
    seed: opts.seed,
    start,
    images: tally.done,
    seeds: seeds.map((s) => s.name),
    workers,
    timeoutMs,
    elapsedMs,
    imagesPerSec: elapsedMs > 0 ? (tally.done * 1000) / elapsedMs : 0,
    counts: tally.counts,
    bySeed: tally.bySeed,
    topErrors: tally.topErrors(),
    codes: tally.codes,
    typedErrors: tally.typedErrors,
    filesRead: tally.filesRead,
    verifiedUntouched: tally.verified,
    guardedReads: tally.guarded,
    failures: tally.failures,
    saved: tally.saved,
    ...(differential ? { differential } : {}),
  };
}

/** Check one image (a saved failure) in a worker, with the same time limit as a run. */
export async function replayImage(
  bytes: Uint8Array,
  opts: { timeoutMs?: number; kernel?: boolean; readCap?: number; workerModule?: string; fsck?: string } = {},
): Promise<CheckOutcome> {
  const scratchDir = mkdtempSync(join(tmpdir(), 'ishare-fuzz-'));
  const init: WorkerInit = {
    module: opts.workerModule ?? DEFAULT_MODULE,
    seeds: [],
    runSeed: 0,
    scratchDir,
    readCap: opts.readCap ?? DEFAULT_READ_CAP,
    kernel: opts.kernel ?? true,
    ...(opts.fsck !== undefined ? { fsck: opts.fsck } : {}),
  };
  let pool: Pool | undefined;
  try {
    return await new Promise<CheckOutcome>((resolve, reject) => {
      let sent = false;
      pool = new Pool(
        init,
        1,
        (opts.timeoutMs ?? DEFAULT_TIMEOUT_MS) + (opts.fsck !== undefined ? DEFAULT_FSCK_TIMEOUT_MS : 0),
        (slot) => {
          if (sent) return;
          sent = true;
          pool!.run(slot, { type: 'replay', bytes }, -1);
        },
        (_i, _s, outcome) => resolve(outcome),
        reject,
      );
    });
  } finally {
    await pool?.close();
    rmSync(scratchDir, { recursive: true, force: true });
  }
}
