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
import { ErofsImage, System } from '../packages/core/src/index.ts';
import { upstreamTool } from '../test/helpers/erofs-utils.ts';
import { ReaderPool } from '../packages/workers/src/index.ts';
import { prepareInputs } from '../packages/cli/src/image-cache.ts';
import { bundledSourceDirs } from '../packages/cli/src/bundled.ts';
import { parseBenchArgs, BenchUsageError, USAGE, REPO_ROOT, type BenchOptions } from './args.ts';
import { detectEvictor, type Evictor } from './evict.ts';
import { LoopMounts } from './loop.ts';
import { KernelReaderPool } from './kernel-pool.ts';
import { readClaimed } from './read-loop.ts';
import { sample, BusyMeter } from './machine.ts';
import { SCENARIOS, RATIOS, type Family, type ScenarioSpec } from './scenarios.ts';
import { MiB, scenarioResult, ratioResult, type ScenarioResult, type RatioResult } from './stats.ts';
import { scenarioTable, ratioTable, writeResults } from './report.ts';

interface Dataset {
  readonly label: string;
  readonly images: string[];
  /** Source trees, one per image (undefined: images given as they are, or sources that are not directories). */
  readonly sources?: string[];
  /** Why there are no tree figures. */
  readonly noTrees?: string;
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

/** Compressed images of `sources` by upstream mkfs.erofs (cached under $ISHARE_CACHE or .cache, bench-z/). */
function compressedImages(sources: readonly string[], alg: string): string[] {
  const dir = join(process.env.ISHARE_CACHE ?? join(REPO_ROOT, '.cache'), 'bench-z');
  mkdirSync(dir, { recursive: true });
  const mkfsErofs = upstreamTool('mkfs.erofs');
  return sources.map((src) => {
    const key = createHash('sha256').update(`${alg}\0${src}\0${treeKey(src)}`).digest('hex').slice(0, 16);
    const image = join(dir, `${alg}-${key}.img`);
    if (!existsSync(image)) {
      log(`building ${image} from ${src} (mkfs.erofs -z${alg} -Eztailpacking)`);
      execFileSync(mkfsErofs, ['-T0', `-z${alg}`, '-Eztailpacking', `${image}.tmp`, src], { stdio: ['ignore', 'ignore', 'inherit'] });
      renameSync(`${image}.tmp`, image);
    }
    return image;
  });
}

async function dataset(o: BenchOptions): Promise<Dataset> {
  if (o.images) return { label: o.images.join(', '), images: [...o.images] };
  const sources = o.sources ? [...o.sources] : bundledSourceDirs();
  if (o.compress) {
    const label = `${o.sources ? sources.join(', ') : 'bundled typescript-5.6.2 + typescript-5.6.3'}, compressed -z${o.compress}`;
    return { label, images: compressedImages(sources, o.compress), sources };
  }
  const prepared = await prepareInputs(sources, { ...(o.platform !== undefined ? { platform: o.platform } : {}), onBuild: (input, image) => log(`building ${image} from ${input}`) });
  const label = o.sources ? sources.join(', ') : 'bundled typescript-5.6.2 + typescript-5.6.3';
  const images = prepared.map((p) => p.image);
  // Tar archives and container images have no tree on disk for Node to read.
  if (prepared.some((p) => p.kind !== 'dir')) return { label, images, noTrees: 'a source is not a directory (a tar archive or a container image)' };
  return { label, images, sources };
}

function check(what: string, got: Count, want: Count): void {
  // The bare copy moves bytes, not files.
  if ((got.files !== want.files && !what.startsWith('mem.')) || got.bytes !== want.bytes) {
    throw new Error(`${what}: read ${got.files} files / ${got.bytes} bytes, expected ${want.files} / ${want.bytes}`);
  }
}

/** Our pool reads every file of every mount, the mounts at once (so both workers always have work). */
async function oursPool(pool: ReaderPool, mounts: readonly MountedImage[]): Promise<Count> {
  const rs = await Promise.all(mounts.map((m) => pool.readFiles(m.mount, m.paths)));
  const errors = rs.flatMap((r) => r.errors);
  if (errors.length > 0) throw new Error(`ours: ${errors.length} read errors, first: ${errors[0]}`);
  return { files: rs.reduce((s, r) => s + r.files, 0), bytes: rs.reduce((s, r) => s + r.bytes, 0) };
}

/** Our page cache from the main thread: the worker's read loop without the pool in between. */
function oursMain(sys: System, mounts: readonly MountedImage[], buf: Buffer): Count {
  let files = 0;
  let bytes = 0;
  for (const m of mounts) {
    for (const p of m.paths) {
      const f = sys.open(m.mount, p);
      try {
        for (let pos = 0; pos < f.size; ) {
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
  const startedAt = new Date().toISOString();
  const loadStart = loadavg();
  const data = await dataset(o);

  // Our kernel: mounted without inode sharing, so that it caches what the kernel's would (one copy per
  // image), and a pool big enough that nothing is reclaimed during a pass.
  // Compressed images hold more file bytes than image bytes: size the pool by whichever is larger.
  let total = 0;
  for (const img of data.images) {
    let fileBytes = 0;
    const im = ErofsImage.open(img);
    try {
      for (const { inode } of im.walk()) if (inode.type === 'file') fileBytes += inode.size;
    } finally {
      im.close();
    }
    total += Math.max(statSync(img).size, fileBytes);
  }
  const poolMiB = Math.ceil((total * 1.25) / MiB) + 64;
  const sys = System.create({ poolMiB });
  const mounts: MountedImage[] = data.images.map((image) => {
    const { mount } = sys.mount(image);
    return { image, mount, paths: sys.listFiles(mount).map((f) => f.path) };
  });
  const want: Count = { files: 0, bytes: 0 };
  for (const m of mounts) for (const f of sys.listFiles(m.mount)) { want.files++; want.bytes += f.size; }
  // The same images again, with inode_share in one domain, without and with verify (the poisoning
  // defence): one domain each, so the two never share pages with each other.
  const imageRel = mounts.map((m) => m.paths);
  const mountAs = (mounts: 'share' | 'verify'): MountedImage[] => data.images.map((image, i) => {
    const { mount } = sys.mount(image, { inodeShare: true, domainId: `bench-${mounts}`, verify: mounts === 'verify' });
    return { image, mount, paths: imageRel[i] };
  });
  const sharedMounts = { share: mountAs('share'), verify: mountAs('verify') };
  let verifyCounters: { verifiedJoins: number; refusals: number; filesShared: number } | undefined;

  const skipped = new Map<Family | 'cold', string>();
  let treePaths: string[] = [];
  if (data.sources) {
    treePaths = data.sources.flatMap((src, i) => imageRel[i].map((p) => src + p));
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
    const r = LoopMounts.open(data.images);
    loop = r.mounts;
    if (!loop) skipped.set('loop', `loop mount not permitted: ${r.reason}`);
  }
  if (skipped.has('loop')) log(`skipping loop-mount figures: ${skipped.get('loop')}`);
  if (skipped.has('tree')) log(`skipping tree figures: ${skipped.get('tree')}`);
  const loopPaths = loop ? imageRel.flatMap((rel, i) => loop!.paths(i, rel)) : [];

  const runs = new Map<string, number[]>(SCENARIOS.map((s) => [s.id, []]));
  const cpuRuns = new Map<string, number[]>(SCENARIOS.map((s) => [s.id, []]));
  const pools = new Map<number, ReaderPool>();
  const kpools = new Map<number, KernelReaderPool>();
  const buf = Buffer.allocUnsafe(o.chunk);
  let coldCounters: Record<string, number> | undefined;
  const meters = new Map<string, BusyMeter>(SCENARIOS.map((s) => [s.id, new BusyMeter()]));
  const allTimed = new BusyMeter();
  try {
    for (const w of [1, 2]) {
      pools.set(w, new ReaderPool(sys, { workers: w }));
      kpools.set(w, await KernelReaderPool.start(w));
    }
    interface Timing { ms: number; cpuMs: number; from: ReturnType<typeof sample>; to: ReturnType<typeof sample> }
    const record = (measure: boolean, id: string, t: Timing): void => {
      if (!measure) return;
      runs.get(id)!.push(t.ms);
      cpuRuns.get(id)!.push(t.cpuMs);
      meters.get(id)!.add(t.from, t.to);
      allTimed.add(t.from, t.to);
    };
    const timed = async (what: string, f: () => Count | Promise<Count>): Promise<Timing> => {
      const from = sample();
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const c = await f();
      const ms = performance.now() - t0;
      const cpu = process.cpuUsage(c0);
      const to = sample();
      check(what, c, want);
      return { ms, cpuMs: (cpu.user + cpu.system) / 1000, from, to };
    };
    const evictImages = (): void => evictor!.evict(data.images);
    // Touched once, so that the copies read memory, not fresh zero pages.
    const copySrc = new SharedArrayBuffer(want.bytes);
    Buffer.from(copySrc).fill(0x5a);

    const families: Record<Family, (measure: boolean, last: boolean) => Promise<void>> = {
      ours: async (measure, last) => {
        for (const w of [1, 2]) {
          const pool = pools.get(w)!;
          if (evictor) {
            sys.dropCaches();
            evictImages();
            if (last && w === 1) sys.resetStats();
            record(measure, `ours.cold.${w}w`, await timed(`ours.cold.${w}w`, () => oursPool(pool, mounts)));
            if (last && w === 1) coldCounters = { ...sys.stats().counters };
          }
          record(measure, `ours.warm.${w}w`, await timed(`ours.warm.${w}w`, () => oursPool(pool, mounts)));
          sys.dropCaches();
          kernelMain(data.images, buf); // the image files in the kernel's cache, whatever ran before
          record(measure, `ours.fill.${w}w`, await timed(`ours.fill.${w}w`, () => oursPool(pool, mounts)));
          for (const v of ['share', 'verify'] as const) {
            sys.dropCaches(); // pages and inodes: every file is filled — and, with verify, proven — again
            kernelMain(data.images, buf);
            if (last && v === 'verify') sys.resetStats();
            record(measure, `ours.fill-${v}.${w}w`, await timed(`ours.fill-${v}.${w}w`, () => oursPool(pool, sharedMounts[v])));
            if (last && v === 'verify') {
              const c = sys.stats().counters;
              verifyCounters = { verifiedJoins: c.ISHARE_VERIFIED, refusals: c.ISHARE_VERIFY_REFUSED, filesShared: c.ISHARE_FILLED };
            }
          }
        }
        record(measure, 'ours.warm.main', await timed('ours.warm.main', () => oursMain(sys, mounts, buf)));
      },
      tree: async (measure) => {
        if (skipped.has('tree')) return;
        for (const t of [1, 2]) {
          const kp = kpools.get(t)!;
          if (evictor) {
            evictor.evict(treePaths);
            record(measure, `tree.cold.${t}t`, await timed(`tree.cold.${t}t`, () => kp.read(treePaths, o.chunk)));
          } else kernelMain(treePaths, buf);
          record(measure, `tree.warm.${t}t`, await timed(`tree.warm.${t}t`, () => kp.read(treePaths, o.chunk)));
        }
        record(measure, 'tree.warm.main', await timed('tree.warm.main', () => kernelMain(treePaths, buf)));
      },
      mem: async (measure) => {
        for (const t of [1, 2]) {
          const kp = kpools.get(t)!;
          record(measure, `mem.copy.${t}t`, await timed(`mem.copy.${t}t`, () => kp.copy(copySrc, o.chunk)));
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
          record(measure, `loop.warm.${t}t`, await timed(`loop.warm.${t}t`, () => kp.read(loopPaths, o.chunk)));
          loop.remount(() => kernelMain(data.images, buf));
          record(measure, `loop.fill.${t}t`, await timed(`loop.fill.${t}t`, () => kp.read(loopPaths, o.chunk)));
        }
      },
    };

    const order: Family[] = ['ours', 'tree', 'loop', 'mem'];
    for (let rep = 0; rep <= o.reps; rep++) {
      const measure = rep > 0;
      // Rotate which family goes first, so that slow drift in the machine's load is spread over all.
      const fams = order.map((_, i) => order[(i + rep) % order.length]);
      log(rep === 0 ? 'warm-up pass (not counted)' : `repetition ${rep}/${o.reps} (${fams.join(', ')})`);
      const passes = measure ? o.passes : 1;
      for (const f of fams) for (let p = 0; p < passes; p++) await families[f](measure, rep === o.reps && p === passes - 1);
    }
  } finally {
    for (const p of pools.values()) await p.destroy();
    for (const p of kpools.values()) await p.destroy();
    loop?.close();
    sys.detach();
  }

  const reasonFor = (s: ScenarioSpec): string | undefined =>
    (s.family !== 'ours' && skipped.get(s.family)) || (s.cache === 'cold' && skipped.get('cold')) || undefined;
  const results: ScenarioResult[] = SCENARIOS.map((s) => scenarioResult(s, want.files, want.bytes, runs.get(s.id)!, cpuRuns.get(s.id)!, meters.get(s.id)!.report(), reasonFor(s)));
  const byId = new Map(results.map((r) => [r.id, r]));
  const ratios: RatioResult[] = RATIOS.map((r) => ratioResult(r, byId));
  const loadEnd = loadavg();
  const busy = allTimed.report() ?? null;
  const cpuList = cpus();

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
    options: { reps: o.reps, passes: o.passes, quick: o.quick, warmupPasses: 1, chunkBytes: o.chunk, poolMiB, loop: o.loop, evict: o.evict },
    data: { label: data.label, images: data.images, sources: data.sources ?? null, files: want.files, bytes: want.bytes, mib: Math.round((want.bytes / MiB) * 100) / 100 },
    eviction: evictNote,
    skipped: Object.fromEntries(skipped),
    scenarios: results,
    ratios,
    /** Our counters over the last measured cold pass with 1 worker (device reads, readahead calls...). */
    oursColdCounters: coldCounters ?? null,
    /** The last measured verify fill: files proven before sharing, refused, attached to shared inodes. */
    verifyCounters: verifyCounters ?? null,
  };
  const file = writeResults(o.outDir, startedAt, json);

  const la = (xs: number[]): string => xs.map((x) => x.toFixed(2)).join(' ');
  process.stdout.write(
    `ishare bench — ${data.label}\n` +
      `${want.files} files, ${(want.bytes / MiB).toFixed(1)} MiB per pass; ${o.reps} repetitions × ${o.passes} passes after one warm-up; chunk ${o.chunk} B\n` +
      `${cpuList.length} cpus (${cpuList[0]?.model ?? '?'}), node ${process.version}, load average ${la(loadStart)} at start, ${la(loadEnd)} at end\n` +
      (busy ? `CPUs busy during the timed samples: ${busy.busyCpus} of ${cpuList.length} on average — this bench ${busy.benchCpus}, everything else ${busy.otherCpus}\n` : '') +
      `kernel cache eviction: ${evictNote}\n\n` +
      `${scenarioTable(results)}\n\n${ratioTable(ratios)}\n\nresults: ${file}\n`,
  );
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  },
);
