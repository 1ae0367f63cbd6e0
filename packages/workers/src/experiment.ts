// The memory experiment of the seed's cover letter: mount images, read every regular file (or replay a
// trace) with the worker pool, and measure the page cache — once with private page caches and once
// with inode page-cache sharing. Used by `ishare read`, `ishare compare`, the demo, bench and tests.
//
// The figure is only meaningful if nothing left the cache while it was measured: the pool is sized
// from the data to read (or checked against it when given), and a run in which any page was reclaimed
// or any inode evicted is refused rather than reported.
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import {
  System,
  isErofsError,
  PAGE_SIZE,
  type KernelMetadata,
  type RealInodePolicy,
  type SystemStats,
} from '@ishare/core';
import { ErofsImage } from '@ishare/core/format';
import { Overlay, erofsNameiOps } from '@ishare/core/kernel';
import { ReaderPool } from './pool.ts';
import type { ReaderResult, ReadFilesTask, RangesTask } from './tasks.ts';

type ReaderTask = ReadFilesTask | RangesTask;
import type { TraceOp } from './trace.ts';
import { describeBudget, memoryBudget, type MemoryBudget } from './memory.ts';

const MiB = 1024 * 1024;
/** Largest pool picked automatically; bigger runs must ask for it. */
export const AUTO_POOL_CAP_MIB = 4096;
export const MAX_POOL_MIB = 16384;
export const MAX_WORKERS = 64;

export type Phase = 'read' | 'no share' | 'share';

export interface ExperimentProgress {
  readonly phase: Phase;
  readonly done: number;
  readonly total: number;
  /**
   * What done/total count: images mounted and workers started (the phase's set-up, before the clock),
   * then whole files, or trace ranges × containers.
   */
  readonly unit: 'mounts' | 'files' | 'ranges';
}

export interface ExperimentOptions {
  readonly images: readonly string[];
  /**
   * Layered containers (index-aligned with `images`): where set, container i is the read-only overlay of
   * these layer images (bottom first, as the image lists them), each mounted once for this container —
   * containerd's EROFS snapshotter layout — and `images[i]` only names it.
   */
  readonly layers?: readonly (readonly string[] | undefined)[];
  /** Reader threads (default: the machine's cores, at most 64). */
  readonly workers?: number;
  /** Page pool in MiB (default: sized from the data to read, at most AUTO_POOL_CAP_MIB). */
  readonly poolMiB?: number;
  readonly domainId?: string;
  readonly policy?: RealInodePolicy;
  /** Mount option verify: a file shares only once its content is proven to match its fingerprint. */
  readonly verify?: boolean;
  /**
   * Mount option superblock_share (both phases): mounts of one image file reuse one superblock, so an
   * image given twice is one set of inodes and page caches.
   */
  readonly superblockShare?: boolean;
  /** Replay these reads in every image instead of reading every file. */
  readonly trace?: readonly TraceOp[];
  /**
   * One trace per image (index-aligned with `images`), as the seed runs one container per image, each
   * with its own workload. Exclusive with `trace`.
   */
  readonly traces?: readonly (readonly TraceOp[])[];
  readonly onProgress?: (p: ExperimentProgress) => void;
  /**
   * Extra devices of multi-device images, by image (as named in `images`), in table order: mount's
   * device=. An image not listed finds its devices by tag beside it (erofs/devices.ts).
   */
  readonly devices?: Readonly<Record<string, readonly string[]>>;
}

export interface RunReadOptions extends ExperimentOptions {
  readonly inodeShare?: boolean;
  /** After the reads, each file's residency as fincore(1) reads it (ImageStats.fincore). */
  readonly fincore?: boolean;
}

/** One file's row of fincore(1): resident bytes and pages of its mapping, its size. */
export interface FileResidency {
  /** The path inside the image. */
  readonly file: string;
  readonly res: number;
  readonly pages: number;
  readonly size: number;
}

export interface ImageStats {
  readonly image: string;
  /** A layered container: its layer images, bottom first (one mount each). */
  readonly layers?: readonly string[];
  /** inode_share requested and the image has fingerprints. */
  readonly shareActive: boolean;
  readonly warning?: string;
  /** Regular files read (or, for a trace, distinct files touched) in this image. */
  readonly files: number;
  /** Trace ranges replayed against this image (0 without a trace). */
  readonly ranges: number;
  readonly bytes: number;
  /**
   * Pages this image's device supplied (block-mapped; tails inlined in the metadata are not counted),
   * and how many of them filled a shared inode's cache.
   */
  readonly pages: number;
  readonly sharedPages: number;
  /** Device read calls (one per contiguous piece of a page) against this image. */
  readonly deviceReads: number;
  /** With `fincore`: every file read (or touched by the trace), as fincore(1) lists it after the reads. */
  readonly fincore?: FileResidency[];
}

export interface PhaseStats {
  readonly inodeShare: boolean;
  /** Frames holding file data × page size: what fincore would sum over the mounted files. */
  readonly pageCacheBytes: number;
  /** Of which in shared inodes' page caches. */
  readonly sharedPageCacheBytes: number;
  readonly filePages: number;
  readonly devicePages: number;
  readonly deviceBytes: number;
  readonly deviceReads: number;
  readonly hits: number;
  readonly misses: number;
  /** Shared inodes created (one per distinct (domain, fingerprint) met). */
  readonly sharedInodes: number;
  /** Inodes attached to a shared inode. */
  readonly filesShared: number;
  /** Of those, inodes that joined a shared inode another inode had created: their pages were not cached again. */
  readonly inodesJoined: number;
  /** Same fingerprint, different size: refused, read through a private cache. */
  readonly sizeMismatch: number;
  /** Mounted with verify; files whose content proved their fingerprint before joining; files refused. */
  readonly verify: boolean;
  readonly verifiedJoins: number;
  readonly verifyRefusals: number;
  /** Same fingerprint and size, but one compressed and the other not (different data paths): refused. */
  readonly dataPathMismatch: number;
  /** Fingerprint xattr of the wrong length or prefix: refused, read through a private cache. */
  readonly badFingerprint: number;
  /** Where the real inode for a shared read came from (v7: processing list first; mainline: any). */
  readonly realInodeFromProcessing: number;
  readonly realInodeFromBacking: number;
  /**
   * Compressed files: pclusters read and decoded; times a reader slept on a pcluster another thread was
   * decoding; of those, times it then found every page it needed filled by that decode (attached to it,
   * as z_erofs attaches to an in-flight pcluster) and decoded nothing.
   */
  readonly pclustersDecoded: number;
  readonly pclusterWaits: number;
  readonly pclusterAttach: number;
  readonly files: number;
  readonly bytes: number;
  readonly elapsedMs: number;
  readonly perImage: ImageStats[];
  /** Mounted with superblock_share. */
  readonly superblockShare: boolean;
  /** What the kernel held beside the page cache after the reads (superblocks, inode records, ...). */
  readonly metadata: KernelMetadata;
}

export interface TraceSummary {
  /** Ops in the trace (with one trace per image: in all of them). */
  readonly ops: number;
  /** Ops × images that have the path: the reads actually replayed per phase. */
  readonly replayed: number;
  /** Ops whose path is a regular file in none of the images replaying them (skipped). */
  readonly missingOps: number;
  readonly missingPaths: number;
  /** Up to 10 of them. */
  readonly missingExamples: string[];
}

export interface ReadResult extends PhaseStats {
  readonly images: string[];
  readonly policy: RealInodePolicy;
  readonly domainId: string;
  readonly workers: number;
  readonly poolBytes: number;
  readonly pageSize: number;
  readonly trace?: TraceSummary;
}

export interface ServedBy {
  readonly image: string;
  readonly pages: number;
  readonly sharedPages: number;
}

export interface CompareResult {
  readonly images: string[];
  readonly policy: RealInodePolicy;
  readonly domainId: string;
  readonly workers: number;
  readonly poolBytes: number;
  readonly pageSize: number;
  readonly noShare: PhaseStats;
  readonly share: PhaseStats;
  /** (1 − share / noShare) × 100, two decimals. */
  readonly reductionPercent: number;
  /** Device pages each image supplied in the share phase: who filled the shared caches. */
  readonly servedBy: ServedBy[];
  /**
   * What the kernel held beside the page cache in the sharing phase (superblocks, inode records, arena
   * bytes, ...); each phase's own is `noShare.metadata` / `share.metadata`.
   */
  readonly metadata: KernelMetadata;
  readonly trace?: TraceSummary;
  readonly elapsedMs: number;
}

/** The measurement cannot be trusted (or cannot start): the message says what to change. */
export class ExperimentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExperimentError';
  }
}

/** The page pool is too small for the data: raise poolMiB (`--pool-mib`) to at least `neededMiB`. */
export class PoolTooSmallError extends ExperimentError {
  readonly neededMiB: number;
  constructor(message: string, neededMiB: number) {
    super(message);
    this.name = 'PoolTooSmallError';
    this.neededMiB = neededMiB;
  }
}

/** The pool (and the threads around it) would not fit in the memory the process may use. */
export class MemoryLimitError extends ExperimentError {
  readonly poolMiB: number;
  readonly availableMiB: number;
  constructor(message: string, poolMiB: number, availableMiB: number) {
    super(message);
    this.name = 'MemoryLimitError';
    this.poolMiB = poolMiB;
    this.availableMiB = availableMiB;
  }
}

// ---- planning (main thread, no kernel) ----------------------------------------------------------

export interface ImagePlan {
  readonly image: string;
  /** Its extra devices as given (mount's device=), if any. */
  readonly devices: readonly string[] | undefined;
  /** Layer images, top first (mount order for the overlay); absent for a flat image. */
  readonly layersTop?: readonly string[];
  /** Regular files to read in full, or empty with a trace. */
  readonly paths: string[];
  /** Trace ranges that apply to this image, in trace order. */
  readonly ranges: [string, number, number][];
  /** Distinct inodes that will be touched ("layer:nid") → their page count. */
  readonly touched: Map<string, number>;
  /** Regular files in the image (in all its layers): inode slots it may need. */
  readonly regularFiles: number;
}

export interface Plan {
  readonly images: ImagePlan[];
  readonly pagesBound: number;
  readonly trace?: TraceSummary;
}

function pagesOf(size: number): number {
  return Math.ceil(size / PAGE_SIZE);
}

/** What planning needs of a container: its regular files and path resolution, flat or through an overlay. */
interface PlanView {
  files(): { path: string; key: string; size: number }[];
  resolve(path: string): { key: string; size: number; type: string };
  regularFiles: number;
  close(): void;
}

function openView(
  image: string,
  layersTop: readonly string[] | undefined,
  devices: readonly string[] | undefined,
): PlanView {
  if (!layersTop) {
    const img = ErofsImage.open(image, undefined, devices !== undefined ? { paths: devices } : undefined);
    return {
      files: () => {
        const out: { path: string; key: string; size: number }[] = [];
        for (const { path, inode } of img.walk())
          if (inode.type === 'file') out.push({ path, key: `0:${inode.nid}`, size: inode.size });
        return out;
      },
      resolve: (path) => {
        const ino = img.resolve(path);
        return { key: `0:${ino.nid}`, size: ino.size, type: ino.type };
      },
      get regularFiles() {
        let n = 0;
        for (const { inode } of img.walk()) if (inode.type === 'file') n++;
        return n;
      },
      close: () => img.close(),
    };
  }
  const imgs: ErofsImage[] = [];
  try {
    for (const l of layersTop) imgs.push(ErofsImage.open(l));
  } catch (e) {
    for (const i of imgs) i.close();
    throw e;
  }
  const ovl = new Overlay(imgs.map(erofsNameiOps));
  let regular = 0;
  for (const img of imgs) for (const { inode } of img.walk()) if (inode.type === 'file') regular++;
  return {
    files: () => ovl.regularFiles().map((f) => ({ path: f.path, key: `${f.layer}:${f.nid}`, size: f.size })),
    resolve: (path) => {
      const r = ovl.resolve(path);
      return { key: `${r.layer}:${r.nid}`, size: r.entry.size, type: r.entry.type };
    },
    regularFiles: regular,
    close: () => {
      for (const i of imgs) i.close();
    },
  };
}

export function planImages(
  images: readonly string[],
  layersOf: (i: number) => readonly string[] | undefined,
  traceOf: (i: number) => readonly TraceOp[] | undefined,
  devicesOf: (image: string) => readonly string[] | undefined,
): Plan {
  const plans: ImagePlan[] = [];
  // Per distinct trace: which of its ops some image replaying it could serve.
  const foundByTrace = new Map<readonly TraceOp[], boolean[]>();
  for (const [imageIndex, image] of images.entries()) {
    const trace = traceOf(imageIndex);
    let found: boolean[] = [];
    if (trace) {
      found = foundByTrace.get(trace) ?? new Array<boolean>(trace.length).fill(false);
      foundByTrace.set(trace, found);
    }
    const layers = layersOf(imageIndex);
    const layersTop = layers ? [...layers].reverse() : undefined;
    let img: PlanView;
    try {
      img = openView(image, layersTop, layersTop ? undefined : devicesOf(image));
    } catch (e) {
      // With several images, a message that does not say which one is no help.
      if (isErofsError(e))
        throw new ExperimentError(e.message.startsWith(`${image}: `) ? e.message : `${image}: ${e.message}`);
      throw e;
    }
    try {
      const touched = new Map<string, number>();
      const paths: string[] = [];
      const ranges: [string, number, number][] = [];
      const regularFiles = img.regularFiles;
      if (!trace) {
        for (const f of img.files()) {
          paths.push(f.path);
          touched.set(f.key, pagesOf(f.size));
        }
      }
      if (trace) {
        // What a container would see: the path resolved inside this image, symlinks followed.
        const resolved = new Map<string, { key: string; size: number } | null>();
        trace.forEach((op, i) => {
          let r = resolved.get(op.path);
          if (r === undefined) {
            r = null;
            try {
              const ino = img.resolve(op.path);
              if (ino.type === 'file') r = { key: ino.key, size: ino.size };
            } catch {
              // Not in this image: another container's file.
            }
            resolved.set(op.path, r);
          }
          if (r === null) return;
          found[i] = true;
          // A read past the end returns nothing; clamp so a worker never sizes a buffer by a wild length.
          const length = Math.min(op.length, Math.max(0, r.size - op.offset));
          if (length === 0) return;
          ranges.push([op.path, op.offset, length]);
          touched.set(r.key, pagesOf(r.size));
        });
      }
      plans.push({
        image,
        devices: layersTop ? undefined : devicesOf(image),
        ...(layersTop ? { layersTop } : {}),
        paths,
        ranges,
        touched,
        regularFiles,
      });
    } catch (e) {
      if (isErofsError(e)) throw new ExperimentError(`${image}: ${e.message}`);
      throw e;
    } finally {
      img.close();
    }
  }
  let pagesBound = 0;
  for (const p of plans) for (const n of p.touched.values()) pagesBound += n;
  let summary: TraceSummary | undefined;
  if (foundByTrace.size > 0) {
    const missing = new Set<string>();
    let missingOps = 0;
    let ops = 0;
    for (const [trace, found] of foundByTrace) {
      ops += trace.length;
      trace.forEach((op, i) => {
        if (!found[i]) {
          missingOps++;
          missing.add(op.path);
        }
      });
    }
    summary = {
      ops,
      replayed: plans.reduce((s, p) => s + p.ranges.length, 0),
      missingOps,
      missingPaths: missing.size,
      missingExamples: [...missing].slice(0, 10),
    };
  }
  return summary ? { images: plans, pagesBound, trace: summary } : { images: plans, pagesBound };
}

/** Pool bytes: the caller's, checked against the data; or the data plus headroom, capped. */
function choosePool(pagesBound: number, poolMiB: number | undefined): number {
  const needed = pagesBound * PAGE_SIZE;
  const neededMiB = Math.max(1, Math.ceil(needed / MiB));
  if (poolMiB !== undefined) {
    if (!(poolMiB > 0 && poolMiB <= MAX_POOL_MIB))
      throw new ExperimentError(`pool size must be from 1 to ${MAX_POOL_MIB} MiB, got ${poolMiB}`);
    const bytes = Math.floor(poolMiB * MiB);
    if (bytes < needed) {
      throw new PoolTooSmallError(
        `the page pool (${poolMiB} MiB) is smaller than the data to read (${neededMiB} MiB): ` +
          `raise --pool-mib to at least ${neededMiB}, or the figure would include reclaimed pages`,
        neededMiB,
      );
    }
    return Math.max(bytes, 16 * PAGE_SIZE);
  }
  // Headroom is not needed for correctness (a page is never allocated twice) but keeps the allocator
  // away from its slow path; the floor keeps tiny inputs above the pool's minimum.
  const auto = Math.max(16, Math.ceil((needed * 1.05) / MiB) + 8);
  if (auto > AUTO_POOL_CAP_MIB) {
    throw new PoolTooSmallError(
      `the data to read needs a ${neededMiB} MiB page pool, more than the automatic limit of ` +
        `${AUTO_POOL_CAP_MIB} MiB: pass --pool-mib ${neededMiB} (or more) if the machine has the memory`,
      neededMiB,
    );
  }
  return auto * MiB;
}

// Beyond the pool: the main thread and each worker's heap, module code and read buffers. A margin for
// the up-front check (a run that needs more still reports what it measured), not a measured figure.
const BASE_OVERHEAD_MIB = 96;
const WORKER_OVERHEAD_MIB = 48;

/** Refuse a pool the process could not hold: better one line now than an OOM kill (exit 137) later. */
export function checkMemory(
  poolBytes: number,
  workers: number,
  neededBytes: number,
  userPool: boolean,
  budget: MemoryBudget = memoryBudget(),
): void {
  const poolMiB = Math.ceil(poolBytes / MiB);
  const overheadMiB = BASE_OVERHEAD_MIB + workers * WORKER_OVERHEAD_MIB;
  if ((poolMiB + overheadMiB) * MiB <= budget.availableBytes) return;
  const availMiB = Math.floor(budget.availableBytes / MiB);
  const neededMiB = Math.max(1, Math.ceil(neededBytes / MiB));
  const hint =
    neededBytes === 0
      ? 'lower --pool-mib'
      : neededMiB + overheadMiB > availMiB
        ? `the data to read needs ${neededMiB} MiB of page cache: read fewer or smaller images, or run where more memory is free`
        : userPool
          ? `lower --pool-mib (the data needs at least ${neededMiB})`
          : `pass --pool-mib ${neededMiB}`;
  throw new MemoryLimitError(
    `the page pool (${poolMiB} MiB) and ${workers} worker${workers === 1 ? '' : 's'} (about ${overheadMiB} MiB more) ` +
      `do not fit in the ${availMiB} MiB this process may use (${describeBudget(budget)}): ${hint}`,
    poolMiB,
    availMiB,
  );
}

export function defaultWorkers(): number {
  return Math.max(1, Math.min(MAX_WORKERS, availableParallelism()));
}

function checkWorkers(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > MAX_WORKERS)
    throw new ExperimentError(`workers must be an integer from 1 to ${MAX_WORKERS}, got ${n}`);
}

/**
 * Tasks interleaved across images (image 0's first batch, image 1's first batch, ...), so that workers
 * read the same content from different images at the same time — the case where the real-inode policy
 * matters.
 */
export function buildTasks(
  plans: readonly ImagePlan[],
  mounts: readonly (readonly number[])[],
  workers: number,
): { task: ReaderTask; units: number }[] {
  const perImage: { task: ReaderTask; units: number }[][] = plans.map((p, i) => {
    const out: { task: ReaderTask; units: number }[] = [];
    // A layered container reads through the overlay of its mounts (top first); the top one names it.
    const where = p.layersTop ? { mount: mounts[i][0], layers: mounts[i] } : { mount: mounts[i][0] };
    if (p.paths.length > 0) {
      const batch = Math.max(1, Math.min(64, Math.ceil(p.paths.length / (workers * 8))));
      for (let j = 0; j < p.paths.length; j += batch) {
        const paths = p.paths.slice(j, j + batch);
        out.push({ task: { kind: 'readFiles', ...where, paths }, units: paths.length });
      }
    } else if (p.ranges.length > 0) {
      // Consecutive ranges stay in one task: the worker keeps each file open across them, so the
      // readahead window grows on sequential reads as it would for the traced process.
      const batch = Math.max(16, Math.min(1024, Math.ceil(p.ranges.length / (workers * 8))));
      for (let j = 0; j < p.ranges.length; j += batch) {
        const ranges = p.ranges.slice(j, j + batch);
        out.push({ task: { kind: 'ranges', ...where, ranges }, units: ranges.length });
      }
    }
    return out;
  });
  const tasks: { task: ReaderTask; units: number }[] = [];
  for (let k = 0; perImage.some((l) => k < l.length); k++) for (const l of perImage) if (k < l.length) tasks.push(l[k]);
  return tasks;
}

// ---- one measured phase ---------------------------------------------------------------------------

interface PhaseInput {
  readonly plan: Plan;
  readonly phase: Phase;
  readonly inodeShare: boolean;
  readonly workers: number;
  readonly poolBytes: number;
  readonly policy: RealInodePolicy;
  readonly domainId: string;
  readonly verify: boolean;
  readonly superblockShare: boolean;
  readonly fincore?: boolean;
  readonly onProgress?: (p: ExperimentProgress) => void;
}

/** fincore over the files the plan read in mount m (after the measurement: opening them changes no figure). */
function fincoreOf(sys: System, m: number, x: ImagePlan): FileResidency[] {
  const paths = x.paths.length > 0 ? x.paths : [...new Set(x.ranges.map(([path]) => path))];
  return paths.map((file) => {
    const r = sys.residency(m, file);
    return { file, res: r.bytes, pages: r.pages, size: r.size };
  });
}

async function runPhase(p: PhaseInput): Promise<PhaseStats> {
  const plans = p.plan.images;
  const inodes = plans.reduce((s, x) => s + x.regularFiles, 0);
  // Every inode of every image plus as many shared inodes must fit: running out would evict inodes,
  // and an evicted inode takes its pages with it.
  const sys = System.create({
    poolBytes: p.poolBytes,
    inodeSlots: Math.min(1 << 24, Math.max(1024, 2 * inodes + 1024)),
    mountSlots: Math.max(4, plans.reduce((s, x) => s + (x.layersTop?.length ?? 1), 0) + 1),
    policy: p.policy,
  });
  const pool = new ReaderPool(sys, { workers: p.workers });
  const mounted: number[] = [];
  /** Per container: its mounts (top first for a layered one). */
  const mountsOf: number[][] = [];
  try {
    const warnings: (string | undefined)[] = [];
    const active: boolean[] = [];
    // Set-up counts as one step per image mounted, plus one for the workers' start.
    const setup = plans.reduce((s, x) => s + (x.layersTop?.length ?? 1), 0) + 1;
    p.onProgress?.({ phase: p.phase, done: 0, total: setup, unit: 'mounts' });
    for (const x of plans) {
      const ms: number[] = [];
      let warning: string | undefined;
      let shareActive = false;
      // Each layer once per container, as the snapshotter mounts a container's layers.
      for (const image of x.layersTop ?? [x.image]) {
        const r = sys.mount(image, {
          inodeShare: p.inodeShare,
          domainId: p.domainId,
          verify: p.verify,
          superblockShare: p.superblockShare,
          ...(x.layersTop === undefined && x.devices !== undefined ? { devices: x.devices } : {}),
        });
        mounted.push(r.mount);
        ms.push(r.mount);
        warning ??= r.warning;
        shareActive ||= r.shareActive;
        p.onProgress?.({ phase: p.phase, done: mounted.length, total: setup, unit: 'mounts' });
      }
      mountsOf.push(ms);
      warnings.push(warning);
      active.push(shareActive);
    }
    // Start every worker (thread boot, loader, arena attach) before the clock does.
    await Promise.all(
      Array.from({ length: p.workers }, () => pool.run({ kind: 'ranges', mount: mounted[0], ranges: [] })),
    );
    p.onProgress?.({ phase: p.phase, done: setup, total: setup, unit: 'mounts' });
    sys.dropCaches();
    sys.resetStats();

    const tasks = buildTasks(plans, mountsOf, p.workers);
    const unit = plans.some((x) => x.ranges.length > 0) ? 'ranges' : 'files';
    const total = tasks.reduce((s, t) => s + t.units, 0);
    let done = 0;
    p.onProgress?.({ phase: p.phase, done, total, unit });
    const t0 = performance.now();
    const results: ReaderResult[] = await Promise.all(
      tasks.map(({ task, units }) =>
        pool.run(task).then((r) => {
          done += units;
          p.onProgress?.({ phase: p.phase, done, total, unit });
          return r;
        }),
      ),
    );
    const elapsedMs = performance.now() - t0;

    // Each error already names the file; the image it was read from is the task's mount.
    const errors = results.flatMap((r, i) =>
      r.errors.map((e) => `${plans[mountsOf.findIndex((ms) => ms[0] === tasks[i].task.mount)]?.image ?? '?'}: ${e}`),
    );
    if (errors.length > 0) throw new ExperimentError(`${errors.length} reads failed, first: ${errors[0]}`);
    const st = sys.stats();
    checkMeasurement(st, p.poolBytes);

    const bytesPerMount = new Map<number, number>();
    tasks.forEach(({ task }, i) =>
      bytesPerMount.set(task.mount, (bytesPerMount.get(task.mount) ?? 0) + results[i].bytes),
    );
    const perImage: ImageStats[] = plans.map((x, i) => {
      const ms = st.mounts.filter((r) => mountsOf[i].includes(r.mount));
      const m = {
        pages: ms.reduce((s, r) => s + r.pages, 0),
        sharedPages: ms.reduce((s, r) => s + r.sharedPages, 0),
        reads: ms.reduce((s, r) => s + r.reads, 0),
      };
      const w = warnings[i];
      return {
        image: x.image,
        ...(x.layersTop ? { layers: [...x.layersTop].reverse() } : {}),
        shareActive: active[i],
        ...(w !== undefined ? { warning: w } : {}),
        files: x.paths.length > 0 ? x.paths.length : x.touched.size,
        ranges: x.ranges.length,
        bytes: bytesPerMount.get(mountsOf[i][0]) ?? 0,
        pages: m.pages,
        sharedPages: m.sharedPages,
        deviceReads: m.reads,
        // Residency by path is a flat mount's (a layered container's files are its layers' inodes): not
        // reported for layered containers yet.
        ...(p.fincore && !x.layersTop ? { fincore: fincoreOf(sys, mountsOf[i][0], x) } : {}),
      };
    });
    const c = st.counters;
    const stats: PhaseStats = {
      inodeShare: p.inodeShare,
      pageCacheBytes: st.pageCacheBytes,
      sharedPageCacheBytes: st.sharedPageCacheBytes,
      filePages: st.filePages,
      devicePages: c.DEVICE_PAGES,
      deviceBytes: c.DEVICE_PAGES * st.pageSize,
      deviceReads: c.DEVICE_READS,
      hits: c.HITS,
      misses: c.MISSES,
      sharedInodes: c.ISHARE_CREATED,
      filesShared: c.ISHARE_FILLED,
      inodesJoined: Math.max(0, c.ISHARE_FILLED - c.ISHARE_CREATED),
      sizeMismatch: c.ISHARE_SIZE_MISMATCH,
      verify: p.verify,
      verifiedJoins: c.ISHARE_VERIFIED,
      verifyRefusals: c.ISHARE_VERIFY_REFUSED,
      dataPathMismatch: c.ISHARE_DATAPATH_MISMATCH,
      badFingerprint: c.ISHARE_BAD_FINGERPRINT,
      realInodeFromProcessing: c.REALINODE_PROCESSING,
      realInodeFromBacking: c.REALINODE_BACKING,
      pclustersDecoded: c.Z_PCLUSTERS,
      pclusterWaits: c.Z_PCLUSTER_WAITS,
      pclusterAttach: c.Z_PCLUSTER_SKIPPED,
      files: perImage.reduce((s, x) => s + x.files, 0),
      bytes: results.reduce((s, r) => s + r.bytes, 0),
      elapsedMs: Math.round(elapsedMs * 10) / 10,
      perImage,
      superblockShare: p.superblockShare,
      metadata: st.metadata,
    };
    for (const m of mounted.splice(0)) sys.unmount(m);
    return stats;
  } finally {
    for (const m of mounted) {
      try {
        sys.unmount(m);
      } catch {
        // Already failing: the first error is the one to report.
      }
    }
    await pool.destroy();
    sys.detach();
  }
}

/**
 * Refuse a measurement during which the cache lost anything: a reclaimed page or an evicted inode means
 * the figure undercounts what the reads needed.
 */
export function checkMeasurement(st: SystemStats, poolBytes: number): void {
  const c = st.counters;
  const lost = c.RECLAIMED + c.ENOMEM;
  if (lost > 0) {
    const mib = Math.ceil(poolBytes / MiB);
    throw new PoolTooSmallError(
      `the page pool (${mib} MiB) was too small: ${c.RECLAIMED} pages were reclaimed during the ` +
        `measurement, so the figure would be wrong; raise --pool-mib above ${mib}`,
      mib * 2,
    );
  }
  if (c.INODES_EVICTED > 0 || c.SHARED_INODES_EVICTED > 0) {
    throw new ExperimentError(
      `${c.INODES_EVICTED + c.SHARED_INODES_EVICTED} inodes were evicted during the measurement (inode table too small)`,
    );
  }
}

// ---- entry points ---------------------------------------------------------------------------------

/** The domain_id the experiments mount with unless told otherwise (inode_share needs one). */
export const DEFAULT_DOMAIN_ID = 'ishare';

function common(
  o: ExperimentOptions,
  minImages: number,
): { plan: Plan; workers: number; poolBytes: number; policy: RealInodePolicy; domainId: string } {
  if (o.images.length < minImages)
    throw new ExperimentError(`need at least ${minImages} image${minImages > 1 ? 's' : ''}, got ${o.images.length}`);
  const workers = o.workers ?? defaultWorkers();
  checkWorkers(workers);
  const policy = o.policy ?? 'processing';
  if (policy !== 'processing' && policy !== 'any')
    throw new ExperimentError(`policy must be processing or any, got ${String(policy)}`);
  if (o.trace !== undefined && o.traces !== undefined)
    throw new ExperimentError('give either one trace for every image or one trace per image, not both');
  const traces = o.traces;
  if (traces !== undefined && traces.length !== o.images.length) {
    throw new ExperimentError(`one trace per image: ${o.images.length} images but ${traces.length} traces`);
  }
  if (o.layers !== undefined && o.layers.length !== o.images.length)
    throw new ExperimentError(`layers: ${o.images.length} images but ${o.layers.length} layer lists`);
  if (o.layers?.some((l) => l !== undefined && l.length === 0))
    throw new ExperimentError('a layered container needs at least one layer');
  const plan = planImages(
    o.images,
    (i) => o.layers?.[i],
    (i) => (traces !== undefined ? traces[i] : o.trace),
    (image) => (o.devices !== undefined && Object.hasOwn(o.devices, image) ? o.devices[image] : undefined),
  );
  const domainId = o.domainId ?? DEFAULT_DOMAIN_ID;
  if (domainId === '') throw new ExperimentError('domain id must not be empty (inode_share needs one)');
  const poolBytes = choosePool(plan.pagesBound, o.poolMiB);
  checkMemory(poolBytes, workers, plan.pagesBound * PAGE_SIZE, o.poolMiB !== undefined);
  return { plan, workers, poolBytes, policy, domainId };
}

/** Mount every image (sharing or not), read every regular file (or replay the trace), report. */
export async function runRead(o: RunReadOptions): Promise<ReadResult> {
  const c = common(o, 1);
  const stats = await runPhase({
    plan: c.plan,
    phase: 'read',
    inodeShare: o.inodeShare ?? false,
    fincore: o.fincore ?? false,
    verify: o.verify ?? false,
    superblockShare: o.superblockShare ?? false,
    workers: c.workers,
    poolBytes: c.poolBytes,
    policy: c.policy,
    domainId: c.domainId,
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
  });
  return {
    images: [...o.images],
    policy: c.policy,
    domainId: c.domainId,
    workers: c.workers,
    poolBytes: c.poolBytes,
    pageSize: PAGE_SIZE,
    ...stats,
    ...(c.plan.trace ? { trace: c.plan.trace } : {}),
  };
}

/** The seed's table: the same reads without sharing, then with it, each on a fresh kernel. */
export async function runCompare(o: ExperimentOptions): Promise<CompareResult> {
  const c = common(o, 2);
  const t0 = performance.now();
  const phase = (share: boolean): Promise<PhaseStats> =>
    runPhase({
      plan: c.plan,
      phase: share ? 'share' : 'no share',
      inodeShare: share,
      verify: o.verify ?? false,
      superblockShare: o.superblockShare ?? false,
      workers: c.workers,
      poolBytes: c.poolBytes,
      policy: c.policy,
      domainId: c.domainId,
      ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    });
  const noShare = await phase(false);
  const share = await phase(true);
  const reduction = noShare.pageCacheBytes > 0 ? (1 - share.pageCacheBytes / noShare.pageCacheBytes) * 100 : 0;
  return {
    images: [...o.images],
    policy: c.policy,
    domainId: c.domainId,
    workers: c.workers,
    poolBytes: c.poolBytes,
    pageSize: PAGE_SIZE,
    noShare,
    share,
    reductionPercent: Math.round(reduction * 100) / 100,
    servedBy: share.perImage.map((x) => ({ image: x.image, pages: x.pages, sharedPages: x.sharedPages })),
    metadata: share.metadata,
    ...(c.plan.trace ? { trace: c.plan.trace } : {}),
    elapsedMs: Math.round((performance.now() - t0) * 10) / 10,
  };
}
