// `pnpm bench`: read throughput of our shared page cache against the kernel's, measured side by side,
// interleaved in one run (issue 3). Every repetition reads every regular file of every image once per
// scenario; the first repetition warms up (thread startup, JIT) and is not counted. See scenarios.ts
// for what each figure means and README.md ("Benchmarks") for how to read them.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';
import { performance } from 'node:perf_hooks';
import { ErofsImage } from '@ishare/core/format';
import { System } from '@ishare/core';
import { upstreamTool } from '../test/helpers/erofs-utils.ts';
import { ReaderPool } from '@ishare/workers';
import { prepareInputs } from '../packages/cli/src/image-cache.ts';
import { bundledSourceDirs } from '../packages/cli/src/bundled.ts';
import { UsageError } from '../packages/cli/src/errors.ts';
import { parseBenchArgs, BenchUsageError, USAGE, DEFAULT_PASS_MIB, type BenchOptions } from './args.ts';
import { treeCopies, derivedTree, imageCopies, benchCacheDir } from './derive.ts';
import { runScale } from './scale.ts';
import { runMemcg } from './memcg.ts';
import { runLayoutBench } from './layout.ts';
import { runMetadataBench } from './metadata.ts';
import { detectEvictor, type Evictor } from './evict.ts';
import { startSpawner, stopSpawner } from './spawn.ts';
import { LoopMounts } from './loop.ts';
import { KernelReaderPool } from './kernel-pool.ts';
import { readClaimed } from './read-loop.ts';
import { sample, BusyMeter } from './machine.ts';
import { kthreadSnapshot, kthreadDelta, erofsMounts, type KThreadCpu } from './kthreads.ts';
import { SCENARIOS, RATIOS, type Family, type ScenarioSpec } from './scenarios.ts';
import { MiB, scenarioResult, ratioResult, type ScenarioResult, type RatioResult } from './stats.ts';
import { scenarioTable, ratioTable, writeResults, writeMarkdownReport } from './report.ts';
import { bimodalLine } from './modes.ts';
import { compressedSummary, compressedLines, type ZFillCounters } from './compressed.ts';

/** Warm reads each worker of a pool does before anything is measured (see the JIT warm-up in main). */
const JIT_WARM_MIB = 1024;

interface Dataset {
  readonly label: string;
  readonly images: string[];
  /** Source trees, one per image (undefined: images given as they are, or sources that are not directories). */
  readonly sources?: string[];
  /** Why there are no tree figures. */
  readonly noTrees?: string;
}

type MountMode = 'none' | 'share' | 'verify';

/** The images a family mounts, each `copies` times (see mountSet for the domains). */
interface MountSet {
  readonly mounts: MountedImage[];
  readonly mode: MountMode;
}

interface MountedImage {
  readonly image: string;
  readonly mount: number;
  /** Image-relative paths of its regular files ('/a/b'). */
  readonly paths: string[];
}

interface Count {
  files: number;
  bytes: number;
}

const log = (s: string): void => {
  process.stderr.write(`${s}\n`);
};

/** What a compressed image of `src` depends on: every entry's path, size and mtime. */
function treeKey(src: string): string {
  const h = createHash('sha256');
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((x, y) => (x.name < y.name ? -1 : 1))) {
      const p = join(d, e.name);
      const st = lstatSync(p);
      h.update(`${p.slice(src.length)}\0${st.size}\0${st.mtimeMs}\0`);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(src);
  return h.digest('hex');
}

/** mkfs.erofs arguments besides -z<alg>; part of each cached image's key, so a change rebuilds. */
const Z_ARGS = ['-T0', '-Eztailpacking', '--xattr-inode-digest'];

/**
 * Compressed images of the trees `sources` by upstream mkfs.erofs (cached under .cache/bench/z), with
 * fingerprints, so that the sharing families can mount them with inode_share as they do our images.
 */
function compressedImages(sources: readonly string[], alg: string): string[] {
  const dir = join(benchCacheDir(), 'z');
  mkdirSync(dir, { recursive: true });
  const mkfsErofs = upstreamTool('mkfs.erofs');
  return sources.map((src) => {
    const key = createHash('sha256')
      .update(`${alg}\0${Z_ARGS.join(' ')}\0${src}\0${treeKey(src)}`)
      .digest('hex')
      .slice(0, 16);
    const image = join(dir, `${alg}-${key}.img`);
    if (!existsSync(image)) {
      log(`building ${image} from ${src} (mkfs.erofs -z${alg} ${Z_ARGS.join(' ')})`);
      const tmp = `${image}.tmp-${process.pid}`;
      execFileSync(mkfsErofs, [...Z_ARGS, `-z${alg}`, tmp, src], { stdio: ['ignore', 'ignore', 'inherit'] });
      renameSync(tmp, image);
    }
    return image;
  });
}

/** Images of directory trees the way this run builds them: compressed with --compress, else ours through the image cache. */
async function buildImages(trees: readonly string[], o: BenchOptions): Promise<string[]> {
  if (o.compress) return compressedImages(trees, o.compress);
  return (await prepareInputs([...trees], { onBuild: (input, image) => log(`building ${image} from ${input}`) })).map(
    (p) => p.image,
  );
}

const fileBytesOf = new Map<string, number>();

/** Bytes of an image's regular files: what one pass over it reads (more than the image when compressed). */
function imageFileBytes(img: string): number {
  const known = fileBytesOf.get(img);
  if (known !== undefined) return known;
  let n = 0;
  const im = ErofsImage.open(img);
  try {
    for (const { inode } of im.walk()) if (inode.type === 'file') n += inode.size;
  } finally {
    im.close();
  }
  fileBytesOf.set(img, n);
  return n;
}

async function dataset(o: BenchOptions): Promise<Dataset> {
  if (o.images) return { label: o.images.join(', '), images: [...o.images] };
  const sources = o.sources ? [...o.sources] : bundledSourceDirs();
  const named = o.sources ? sources.join(', ') : 'bundled typescript-5.6.2 + typescript-5.6.3';
  if (o.compress) {
    // mkfs.erofs builds from directories only; anything else is the user's to fix.
    for (const src of sources) {
      let dir = false;
      try {
        dir = statSync(src).isDirectory();
      } catch {
        // not there: said below
      }
      if (!dir) throw new BenchUsageError(`--compress builds its images from directories: ${src} is not one`);
    }
    return { label: `${named}, compressed -z${o.compress}`, images: compressedImages(sources, o.compress), sources };
  }
  const prepared = await prepareInputs(sources, {
    ...(o.platform !== undefined ? { platform: o.platform } : {}),
    onBuild: (input, image) => log(`building ${image} from ${input}`),
  });
  const images = prepared.map((p) => p.image);
  // Tar archives and container images have no tree on disk for Node to read.
  if (prepared.some((p) => p.kind !== 'dir'))
    return { label: named, images, noTrees: 'a source is not a directory (a tar archive or a container image)' };
  return { label: named, images, sources };
}

function check(what: string, got: Count, want: Count): void {
  // The bare copy moves bytes, not files.
  if ((got.files !== want.files && !what.startsWith('mem.')) || got.bytes !== want.bytes) {
    throw new Error(`${what}: read ${got.files} files / ${got.bytes} bytes, expected ${want.files} / ${want.bytes}`);
  }
}

/** Our pool reads every file of every mount, each worker claiming files from its range, then others'. */
async function oursPool(
  pool: ReaderPool,
  mounts: readonly MountedImage[],
  chunk: number,
  view = false,
  split = 0,
): Promise<Count> {
  const r = await pool.readClaimed(
    mounts.map((m) => ({ mount: m.mount, paths: m.paths })),
    { chunk, view, split },
  );
  if (r.errors.length > 0) throw new Error(`ours: ${r.errors.length} read errors, first: ${r.errors[0]}`);
  return { files: r.files, bytes: r.bytes };
}

/**
 * The set mounted (share: with inode_share, copy c in domain_id `c<c>`; verify: the same with the verify
 * option, in domains `v<c>` of its own), or, when sharing was asked for an image without fingerprints,
 * why not; nothing stays mounted then.
 */
function mountSet(sys: System, byCopy: readonly (readonly string[])[], mode: MountMode): MountSet | string {
  const mounts: MountedImage[] = [];
  for (let c = 0; c < byCopy.length; c++) {
    for (const image of byCopy[c]) {
      const r = sys.mount(
        image,
        mode === 'none'
          ? {}
          : { inodeShare: true, domainId: `${mode === 'verify' ? 'v' : 'c'}${c}`, verify: mode === 'verify' },
      );
      mounts.push({ image, mount: r.mount, paths: sys.listFiles(r.mount).map((f) => f.path) });
      if (mode !== 'none' && !r.shareActive) {
        for (const m of mounts) sys.unmount(m.mount);
        return `${image}: inode_share not active (${r.warning ?? 'no fingerprints'})`;
      }
    }
  }
  return { mounts, mode };
}

/** Our page cache from the main thread: the worker's read loop without the pool in between. */
function oursMain(sys: System, mounts: readonly MountedImage[], buf: Buffer): Count {
  let files = 0;
  let bytes = 0;
  for (const m of mounts) {
    for (const p of m.paths) {
      const f = sys.open(m.mount, p);
      try {
        for (let pos = 0; pos < f.size;) {
          const n = sys.read(f, pos, buf.length, buf, 0);
          if (n === 0) break;
          pos += n;
        }
        bytes += f.size;
      } finally {
        sys.close(f);
      }
      files++;
    }
  }
  return { files, bytes };
}

function kernelMain(paths: readonly string[], buf: Buffer): Count {
  let next = 0;
  return readClaimed(paths, buf, () => next++);
}

async function main(): Promise<number> {
  let opts: BenchOptions | undefined;
  try {
    opts = parseBenchArgs(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof BenchUsageError)) throw e;
    process.stderr.write(`bench: ${e.message}\n${USAGE}\n`);
    return 2;
  }
  if (opts === undefined) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const o = opts;
  if (o.scale) return runScale(o, log);
  if (o.memcg) return runMemcg(o, log);
  if (o.layout) return runLayoutBench(o, log);
  if (o.metadata) return runMetadataBench(o, log);
  const startedAt = new Date().toISOString();
  const loadStart = loadavg();
  const data = await dataset(o);

  // Our kernel: the `ours` set is mounted without inode sharing, so that it caches what the kernel's
  // would (one copy per image). Every family fills its own set before its warm samples, so the pool
  // only needs to hold the largest set at once (nothing is reclaimed during a pass). Compressed images
  // hold more file bytes than image bytes: each image counts for whichever is larger.
  const fileBytes = data.images.reduce((n, img) => n + imageFileBytes(img), 0);
  const copies = o.copies ?? Math.max(1, Math.min(64, Math.ceil((DEFAULT_PASS_MIB * MiB) / Math.max(1, fileBytes))));
  // Images with nothing in common (every file of each tree changed by one byte), built as the data's
  // images are (compressed with --compress), before the pool is sized: it must hold their set too.
  const disjointImages = data.sources
    ? await buildImages(
        data.sources.map((src, i) => derivedTree(src, 1 + i, 1.0)),
        o,
      )
    : undefined;
  const perCopy = Math.max(
    ...[data.images, disjointImages ?? []].map((imgs) =>
      imgs.reduce((n, img) => n + Math.max(statSync(img).size, imageFileBytes(img)), 0),
    ),
  );
  const poolMiB = Math.ceil((perCopy * copies * 1.25) / MiB) + 64;
  const warmRounds = o.warmRounds ?? (o.quick ? 1 : 3);
  // Commands (cache eviction, loop mounts) run through a helper forked now, before the arena exists: a
  // fork of the bench itself would make the next sample page-fault on every frame it writes (spawn.ts).
  log(`commands run ${startSpawner()}`);
  const sys = System.create({
    poolMiB,
    inodeSlots: 65536 * 4,
    mountSlots: Math.min(1024, 5 * copies * data.images.length + 8),
  });
  const sets = new Map<Family, MountSet>();
  // Each copy of the data reads its own image files (copies of the images), as each copy of the trees
  // is its own files: nothing of a copy is in the kernel's cache because another copy was read.
  const imagesByCopy = imageCopies(data.images, copies);
  const allImages = imagesByCopy.flat();
  const oursSet = mountSet(sys, imagesByCopy, 'none') as MountSet;
  sets.set('ours', oursSet);
  const mounts = oursSet.mounts;
  const want: Count = { files: 0, bytes: 0 };
  for (const m of mounts)
    for (const f of sys.listFiles(m.mount)) {
      want.files++;
      want.bytes += f.size;
    }
  const base = mounts.slice(0, data.images.length);
  const imageRel = base.map((m) => m.paths);
  let verifyCounters: { verifiedJoins: number; refusals: number; filesShared: number } | undefined;

  const skipped = new Map<Family | 'cold', string>();
  const treePaths: string[] = [];
  if (data.sources) {
    const copiesOf = data.sources.map((src) => treeCopies(src, copies));
    for (let c = 0; c < copies; c++)
      data.sources.forEach((_, i) => treePaths.push(...imageRel[i].map((p) => copiesOf[i][c] + p)));
    const mismatch = treePaths.find((p) => {
      try {
        return !statSync(p).isFile();
      } catch {
        return true;
      }
    });
    if (mismatch) throw new Error(`${mismatch}: in the image but not a regular file of the source tree (stale image?)`);
  } else {
    skipped.set('tree', data.noTrees ?? 'no source trees (--images given)');
  }

  // Sharing: the same images with inode_share, without and with verify; and the images with nothing
  // in common, without and with inode_share.
  for (const [fam, mode] of [
    ['share', 'share'],
    ['verify', 'verify'],
  ] as const) {
    const set = mountSet(sys, imagesByCopy, mode);
    if (typeof set === 'string') skipped.set(fam, set);
    else sets.set(fam, set);
  }
  if (disjointImages) {
    const disjointByCopy = imageCopies(disjointImages, copies);
    sets.set('disjoint', mountSet(sys, disjointByCopy, 'none') as MountSet);
    const ds = mountSet(sys, disjointByCopy, 'share');
    if (typeof ds === 'string') skipped.set('disjoint-share', ds);
    else sets.set('disjoint-share', ds);
  } else {
    skipped.set(
      'disjoint',
      `${data.noTrees ?? 'no source trees (--images given)'}: no trees to derive images with nothing in common from`,
    );
    skipped.set('disjoint-share', skipped.get('disjoint')!);
  }

  let evictor: Evictor | undefined;
  let evictNote: string;
  if (!o.evict) {
    evictNote = 'disabled by --no-evict';
    skipped.set('cold', evictNote);
  } else {
    const r = detectEvictor(data.images[0]);
    evictor = r.evictor;
    evictNote = r.evictor ? `${r.evictor.method}; ${r.evictor.verified}` : `unavailable: ${r.reason}`;
    if (!r.evictor) skipped.set('cold', `cannot drop the kernel's page cache here: ${r.reason}`);
  }
  log(`kernel cache eviction: ${evictNote}`);

  let loop: LoopMounts | undefined;
  if (!o.loop) skipped.set('loop', 'disabled by --no-loop');
  else {
    const r = LoopMounts.open(mounts.map((m) => m.image));
    loop = r.mounts;
    if (!loop) skipped.set('loop', `loop mount not permitted: ${r.reason}`);
  }
  if (skipped.has('loop')) log(`skipping loop-mount figures: ${skipped.get('loop')}`);
  if (skipped.has('tree')) log(`skipping tree figures: ${skipped.get('tree')}`);
  const loopPaths = loop ? mounts.flatMap((m, i) => loop.paths(i, m.paths)) : [];

  const runs = new Map<string, number[]>(SCENARIOS.map((s) => [s.id, []]));
  const cpuRuns = new Map<string, number[]>(SCENARIOS.map((s) => [s.id, []]));
  /** Loop-mount samples: the kernel threads' CPU (EROFS and loop workers) beside the readers' (kthreads.ts). */
  const kthreadRuns = new Map<string, (KThreadCpu | null)[]>(SCENARIOS.map((s) => [s.id, []]));
  const pools = new Map<number, ReaderPool>();
  const kpools = new Map<number, KernelReaderPool>();
  const buf = Buffer.allocUnsafe(o.chunk);
  let coldCounters: Record<string, number> | undefined;
  /** Device pages and device reads of the last measured fill of each set (1 worker). */
  const fillDevice = new Map<Family, { pages: number; reads: number; cachedPages: number }>();
  /** Compressed images: what our last measured fills decoded, by worker count. */
  const zFill = new Map<number, ZFillCounters>();
  const meters = new Map<string, BusyMeter>(SCENARIOS.map((s) => [s.id, new BusyMeter()]));
  const allTimed = new BusyMeter();
  try {
    for (const w of [1, 2]) {
      pools.set(w, new ReaderPool(sys, { workers: w }));
      kpools.set(w, await KernelReaderPool.start(w));
    }
    interface Timing {
      ms: number;
      cpuMs: number;
      kthreads: KThreadCpu | null;
      from: ReturnType<typeof sample>;
      to: ReturnType<typeof sample>;
    }
    const record = (measure: boolean, id: string, t: Timing): void => {
      if (!measure) return;
      runs.get(id)!.push(t.ms);
      cpuRuns.get(id)!.push(t.cpuMs);
      kthreadRuns.get(id)!.push(t.kthreads);
      meters.get(id)!.add(t.from, t.to);
      allTimed.add(t.from, t.to);
    };
    // A warm sample reads the data `warmRounds` times: from a warm cache one pass of the default data
    // takes ours ~35 ms, under the 100 ms that makes a sample stable.
    const timed = async (what: string, f: () => Count | Promise<Count>, rounds = 1): Promise<Timing> => {
      // Only the loop mount's samples: kernel threads work for its reads (ours and the tree's make none).
      const k0 = what.startsWith('loop.') ? kthreadSnapshot() : null;
      const m0 = k0 ? erofsMounts(loop?.dirs ?? []) : null;
      const from = sample();
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const c: Count = { files: 0, bytes: 0 };
      for (let r = 0; r < rounds; r++) {
        const x = await f();
        c.files += x.files;
        c.bytes += x.bytes;
      }
      const ms = performance.now() - t0;
      const cpu = process.cpuUsage(c0);
      const to = sample();
      let kthreads: KThreadCpu | null = null;
      if (k0 && m0) {
        const k1 = kthreadSnapshot();
        const m1 = erofsMounts(loop?.dirs ?? []);
        kthreads = kthreadDelta(k0, k1, { loops: m0.loops, foreign: Math.max(m0.foreign, m1.foreign) });
      }
      check(what, c, { files: want.files * rounds, bytes: want.bytes * rounds });
      return { ms, cpuMs: (cpu.user + cpu.system) / 1000, kthreads, from, to };
    };
    const evictImages = (): void => evictor!.evict(allImages);
    // Touched once, so that the copies read memory, not fresh zero pages.
    const copySrc = new SharedArrayBuffer(want.bytes);
    Buffer.from(copySrc).fill(0x5a);

    /** A set's fill (cache dropped, image files in the kernel's cache) then warm samples. */
    const fillWarm = async (fam: Family, measure: boolean, last: boolean): Promise<void> => {
      const set = sets.get(fam);
      if (!set) return;
      const images = [...new Set(set.mounts.map((m) => m.image))];
      for (const w of [1, 2]) {
        const pool = pools.get(w)!;
        sys.dropCaches();
        kernelMain(images, buf); // the image files in the kernel's cache, whatever ran before
        const before = sys.stats().counters;
        record(
          measure,
          `${fam}.fill.${w}w`,
          await timed(`${fam}.fill.${w}w`, () => oursPool(pool, set.mounts, o.chunk, false, o.split)),
        );
        if (last && fam === 'ours') {
          const c = sys.stats().counters;
          zFill.set(w, {
            pclusters: c.Z_PCLUSTERS - before.Z_PCLUSTERS,
            waits: c.Z_PCLUSTER_WAITS - before.Z_PCLUSTER_WAITS,
            attached: c.Z_PCLUSTER_SKIPPED - before.Z_PCLUSTER_SKIPPED,
            decodedSectors: c.Z_DECODED_SECTORS - before.Z_DECODED_SECTORS,
            tailsReused: c.Z_TAIL_REUSED - before.Z_TAIL_REUSED,
          });
        }
        if (last && w === 1) {
          const after = sys.stats();
          const c = after.counters;
          fillDevice.set(fam, {
            pages: c.DEVICE_PAGES - before.DEVICE_PAGES,
            reads: c.DEVICE_READS - before.DEVICE_READS,
            cachedPages: after.filePages,
          });
          if (fam === 'verify') {
            verifyCounters = {
              verifiedJoins: c.ISHARE_VERIFIED - before.ISHARE_VERIFIED,
              refusals: c.ISHARE_VERIFY_REFUSED - before.ISHARE_VERIFY_REFUSED,
              filesShared: c.ISHARE_FILLED - before.ISHARE_FILLED,
            };
          }
        }
        record(
          measure,
          `${fam}.warm.${w}w`,
          await timed(`${fam}.warm.${w}w`, () => oursPool(pool, set.mounts, o.chunk, false, o.split), warmRounds),
        );
      }
    };

    // Two families compared with each other run one after the other in one call, and take turns going
    // first over the measured calls (x y, y x, x y, ...; an odd count gives x one more): with a fixed
    // order the unshared fill always came right after another family and the shared one right after the
    // unshared warm passes, so whatever going first or second does weighed on one side of the ratio only.
    const turns = new Map<Family, number>();
    const inTurn = async (x: Family, y: Family, measure: boolean, last: boolean): Promise<void> => {
      const n = turns.get(x) ?? 0;
      if (measure) turns.set(x, n + 1);
      for (const fam of n % 2 === 0 ? [x, y] : [y, x]) await fillWarm(fam, measure, last);
    };

    const families: Record<
      'ours' | 'tree' | 'loop' | 'mem' | 'share' | 'disjoint',
      (measure: boolean, last: boolean) => Promise<void>
    > = {
      ours: async (measure, last) => {
        if (evictor) {
          for (const w of [1, 2]) {
            sys.dropCaches();
            evictImages();
            if (last && w === 1) sys.resetStats();
            record(
              measure,
              `ours.cold.${w}w`,
              await timed(`ours.cold.${w}w`, () => oursPool(pools.get(w)!, mounts, o.chunk, false, o.split)),
            );
            if (last && w === 1) coldCounters = { ...sys.stats().counters };
          }
        }
        await fillWarm('ours', measure, last);
        record(measure, 'ours.warm.main', await timed('ours.warm.main', () => oursMain(sys, mounts, buf), warmRounds));
        for (const w of [1, 2])
          record(
            measure,
            `ours.view.${w}w`,
            await timed(`ours.view.${w}w`, () => oursPool(pools.get(w)!, mounts, o.chunk, true, o.split), warmRounds),
          );
      },
      share: async (measure, last) => {
        // Without and with verify within one call, so that load drifts alike for both.
        await inTurn('share', 'verify', measure, last);
      },
      disjoint: async (measure, last) => {
        // Unshared and shared within one call, so that load drifts alike for both.
        await inTurn('disjoint', 'disjoint-share', measure, last);
      },
      tree: async (measure) => {
        if (skipped.has('tree')) return;
        for (const t of [1, 2]) {
          const kp = kpools.get(t)!;
          if (evictor) {
            evictor.evict(treePaths);
            record(measure, `tree.cold.${t}t`, await timed(`tree.cold.${t}t`, () => kp.read(treePaths, o.chunk)));
          } else kernelMain(treePaths, buf);
          record(
            measure,
            `tree.warm.${t}t`,
            await timed(`tree.warm.${t}t`, () => kp.read(treePaths, o.chunk), warmRounds),
          );
        }
        record(measure, 'tree.warm.main', await timed('tree.warm.main', () => kernelMain(treePaths, buf), warmRounds));
      },
      mem: async (measure) => {
        for (const t of [1, 2]) {
          const kp = kpools.get(t)!;
          record(measure, `mem.copy.${t}t`, await timed(`mem.copy.${t}t`, () => kp.copy(copySrc, o.chunk), warmRounds));
        }
      },
      loop: async (measure) => {
        if (!loop) return;
        for (const t of [1, 2]) {
          const kp = kpools.get(t)!;
          if (evictor) {
            loop.remount(evictImages);
            record(measure, `loop.cold.${t}t`, await timed(`loop.cold.${t}t`, () => kp.read(loopPaths, o.chunk)));
          }
          record(
            measure,
            `loop.warm.${t}t`,
            await timed(`loop.warm.${t}t`, () => kp.read(loopPaths, o.chunk), warmRounds),
          );
          loop.remount(() => kernelMain(allImages, buf));
          record(measure, `loop.fill.${t}t`, await timed(`loop.fill.${t}t`, () => kp.read(loopPaths, o.chunk)));
        }
      },
    };

    // Each worker is its own V8 isolate and compiles the read path itself: until its hot functions are
    // optimized, V8's compiler threads work beside it, and a 2-worker pool, whose workers each read half
    // of every pass, gets there in twice the passes. One warm-up repetition left that compiling inside
    // the measured 2-worker samples (bench/thread-cpu.ts: with 3 passes of warm-up, the compiler threads
    // used 3-4x the CPU during 2-worker warm passes that they used during 1-worker ones; with 40, next to none). So
    // each pool first fills the data once and reads it warm until each of its workers read JIT_WARM_MIB.
    const jitStart = performance.now();
    for (const [w, pool] of pools) {
      sys.dropCaches();
      await oursPool(pool, mounts, o.chunk, false, o.split);
      for (let read = 0; read < JIT_WARM_MIB * w; read += want.bytes / MiB)
        await oursPool(pool, mounts, o.chunk, false, o.split);
    }
    log(
      `JIT warm-up of each pool (${JIT_WARM_MIB} MiB per worker, not counted): ${(performance.now() - jitStart).toFixed(0)} ms`,
    );

    const order = ['ours', 'share', 'tree', 'loop', 'disjoint', 'mem'] as const;
    for (let rep = 0; rep <= o.reps; rep++) {
      const measure = rep > 0;
      // Rotate which family goes first, so that slow drift in the machine's load is spread over all.
      const fams = order.map((_, i) => order[(i + rep) % order.length]);
      log(rep === 0 ? 'warm-up pass (not counted)' : `repetition ${rep}/${o.reps} (${fams.join(', ')})`);
      const passes = measure ? o.passes : 1;
      for (const f of fams) {
        // One unmeasured pass first: what a family touches (its mounts' parsed images and caches in
        // each worker, its files in the kernel's cache, the copy buffers) sat untouched while the others
        // ran, and on this project's VMs memory left alone for 10-90 s costs 1.4-7x as much to touch
        // again. The first measured pass of each repetition paid it — and with it whichever family of a
        // compared pair went first.
        if (measure) await families[f](false, false);
        for (let p = 0; p < passes; p++) await families[f](measure, rep === o.reps && p === passes - 1);
      }
    }
  } finally {
    for (const p of pools.values()) await p.destroy();
    for (const p of kpools.values()) await p.destroy();
    loop?.close();
    sys.detach();
    stopSpawner();
  }

  const reasonFor = (s: ScenarioSpec): string | undefined =>
    (s.family !== 'ours' && skipped.get(s.family)) || (s.cache === 'cold' && skipped.get('cold')) || undefined;
  const roundsOf = (s: ScenarioSpec): number => (s.cache === 'warm' || s.cache === 'view' ? warmRounds : 1);
  const results: ScenarioResult[] = SCENARIOS.map((s) =>
    scenarioResult(
      s,
      want.files * roundsOf(s),
      want.bytes * roundsOf(s),
      runs.get(s.id)!,
      cpuRuns.get(s.id)!,
      meters.get(s.id)!.report(),
      reasonFor(s),
      s.family === 'loop' ? kthreadRuns.get(s.id)! : undefined,
    ),
  );
  const byId = new Map(results.map((r) => [r.id, r]));
  const ratios: RatioResult[] = RATIOS.map((r) => ratioResult(r, byId));
  const loadEnd = loadavg();
  const busy = allTimed.report() ?? null;
  const cpuList = cpus();

  // What sharing saved on the bundled pair's fill, in device reads (last measured 1-worker fills).
  const devOurs = fillDevice.get('ours');
  const devShare = fillDevice.get('share');
  const sharing =
    devOurs && devShare
      ? {
          devicePagesUnshared: devOurs.pages,
          devicePagesShared: devShare.pages,
          deviceReadsUnshared: devOurs.reads,
          deviceReadsShared: devShare.reads,
          cachedPagesUnshared: devOurs.cachedPages,
          cachedPagesShared: devShare.cachedPages,
          fillSpeedup:
            byId.get('share.fill.1w')?.mibps && byId.get('ours.fill.1w')?.mibps
              ? Math.round(
                  (byId.get('share.fill.1w')!.mibps!.median / byId.get('ours.fill.1w')!.mibps!.median) * 1000,
                ) / 1000
              : null,
        }
      : null;

  const compressed = o.compress !== undefined ? compressedSummary(o.compress, byId, zFill, want.bytes) : null;
  const json = {
    version: 1,
    startedAt,
    finishedAt: new Date().toISOString(),
    machine: {
      cpus: cpuList.length,
      availableParallelism: availableParallelism(),
      cpuModel: cpuList[0]?.model ?? 'unknown',
      node: process.version,
      platform: process.platform,
      kernel: release(),
      totalMemMiB: Math.round(totalmem() / MiB),
      loadAverageStart: loadStart.map((x) => Math.round(x * 100) / 100),
      loadAverageEnd: loadEnd.map((x) => Math.round(x * 100) / 100),
      /** CPUs busy during the timed samples, and how many of them this bench used (the rest: others). */
      busy,
    },
    options: {
      reps: o.reps,
      passes: o.passes,
      quick: o.quick,
      warmupPasses: 1,
      chunkBytes: o.chunk,
      poolMiB,
      loop: o.loop,
      evict: o.evict,
      copies,
      warmRounds,
      compress: o.compress ?? null,
      split: o.split,
      platform: o.platform ?? null,
    },
    data: {
      label: data.label,
      images: data.images,
      sources: data.sources ?? null,
      disjointImages: disjointImages ?? null,
      copies,
      files: want.files,
      bytes: want.bytes,
      mib: Math.round((want.bytes / MiB) * 100) / 100,
    },
    eviction: evictNote,
    skipped: Object.fromEntries(skipped),
    scenarios: results,
    /** Ids of the scenarios whose samples are bimodal (each scenario's `bimodal` has the two groups). */
    bimodal: results.filter((r) => r.bimodal !== null).map((r) => r.id),
    ratios,
    /** Our counters over the last measured cold pass with 1 worker (device reads, readahead calls...). */
    oursColdCounters: coldCounters ?? null,
    /** The bundled pair with and without inode_share: device reads of a fill, pages cached. */
    sharing,
    /** The last measured verify fill (1 worker): files proven before sharing, refused, attached to shared inodes. */
    verifyCounters: verifyCounters ?? null,
    /** --compress: our fills against the loop mount's, what they decoded, and the issue's targets. */
    compressed,
  };
  const file = writeResults(o.outDir, startedAt, json);

  const la = (xs: number[]): string => xs.map((x) => x.toFixed(2)).join(' ');
  const pct = (a: number, b: number): string => `${(((a - b) / b) * 100).toFixed(1)}%`;
  const sharingLine = sharing
    ? `sharing on ${data.label}: a fill reads ${sharing.devicePagesShared} pages from the device (${sharing.deviceReadsShared} reads) shared, ` +
      `${sharing.devicePagesUnshared} (${sharing.deviceReadsUnshared}) unshared (${pct(sharing.devicePagesShared, sharing.devicePagesUnshared)}); ` +
      `page cache ${sharing.cachedPagesShared} vs ${sharing.cachedPagesUnshared} pages; shared fill ${sharing.fillSpeedup !== null ? `${sharing.fillSpeedup.toFixed(2)}×` : '—'} the unshared fill's MiB/s (1 worker)\n`
    : '';
  const verifyLine = verifyCounters
    ? `verify (last 1-worker fill): ${verifyCounters.verifiedJoins} files proven against their fingerprints before sharing, ` +
      `${verifyCounters.refusals} refused, ${verifyCounters.filesShared} attached to shared inodes\n`
    : '';
  const bimodal = results.filter((r) => r.bimodal !== null);
  const bimodalText =
    bimodal.length > 0
      ? `samples in two groups (a median hides the slow one; test: bench/modes.ts):\n${bimodal.map((r) => `  ${bimodalLine(r.id, r.bimodal!)}`).join('\n')}\n`
      : "every scenario's samples are unimodal (bench/modes.ts)\n";
  const printed =
    `ishare bench — ${data.label}${copies > 1 ? `, ${copies} copies` : ''}\n` +
    `${want.files} files, ${(want.bytes / MiB).toFixed(1)} MiB per pass (a warm sample: ${warmRounds} passes); ${o.reps} repetitions × ${o.passes} passes (each family first runs one unmeasured pass) after one warm-up; chunk ${o.chunk} B\n` +
    `${cpuList.length} cpus (${cpuList[0]?.model ?? '?'}), node ${process.version}, load average ${la(loadStart)} at start, ${la(loadEnd)} at end\n` +
    (busy
      ? `CPUs busy during the timed samples: ${busy.busyCpus} of ${cpuList.length} on average — this bench ${busy.benchCpus}, everything else ${busy.otherCpus}\n`
      : '') +
    `kernel cache eviction: ${evictNote}\n\n` +
    `${scenarioTable(results)}\n\n${ratioTable(ratios)}\n\n${bimodalText}${sharingLine}${verifyLine}` +
    (compressed ? compressedLines(compressed) : '');
  const report = writeMarkdownReport(
    o.reportDir,
    o.compress !== undefined ? `read-${o.compress}` : 'read',
    process.argv.slice(2),
    printed,
  );
  process.stdout.write(`${printed}results: ${file}\nreport: ${report}\n`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    // Bad input the user can fix (a source that is not there, --compress of a non-directory): one line, exit 2.
    if (e instanceof BenchUsageError || e instanceof UsageError) {
      process.stderr.write(`bench: ${e.message}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  },
);
