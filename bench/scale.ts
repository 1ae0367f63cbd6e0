// `pnpm bench --scale`: how sharing behaves as versions of one tree pile up, and how the arena holds a
// million small files.
//  1. N = 2, 5, 10 versions of one tree: the bundled pair, then versions derived from the newer one by
//     changing a seeded 10% of its files (derive.ts). All N mounted with inode_share in one domain and
//     read in full: the page cache must hold exactly the pages of distinct content, computed from the
//     source trees alone; warm MiB/s must not fall with N (N=10 ≥ 0.9× N=2); arena metadata per cached
//     file is printed.
//  2. --scale-files small files (default 10^6): one image of 10^5 small files (a generated tar), mounted
//     as many times as needed with inode_share in one arena, every file opened and read by two workers;
//     mount and read times and memory are printed.
import { statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { loadavg } from 'node:os';
import { System } from '@ishare/core';
// Record sizes, from the modules that own the layouts.
import { FRAME_WORDS, INODE_WORDS, PAGE_BUCKET_WORDS } from '@ishare/core/kernel';
import { ReaderPool } from '@ishare/workers';
import { prepareInputs } from '../packages/cli/src/image-cache.ts';
import { bundledSourceDirs } from '../packages/cli/src/bundled.ts';
import { join } from 'node:path';
import type { BenchOptions } from './args.ts';
import { derivedTree, distinctContentPages, smallFilesTar, smallFileSize } from './derive.ts';
import { MiB, median } from './stats.ts';
import { writeResults, writeMarkdownReport } from './report.ts';

const VERSIONS = [2, 5, 10] as const;
const CHANGED = 0.1;
const SMALL_PER_IMAGE = 100_000;

interface ScaleRow {
  versions: number;
  files: number;
  bytes: number;
  expectedPages: number;
  /** Pages without sharing (every file's pages): what sharing saved is the difference. */
  unsharedPages: number;
  cachedPages: number;
  sharedPages: number;
  exact: boolean;
  fillMs: number;
  warmMs: number[];
  warmMibps: number;
  /** MiB per CPU-second of the bench process (all threads) over the warm samples. */
  warmMibPerCpuSecond: number;
  inodesInUse: number;
  metadataBytesPerFile: number;
  arenaControlBytes: number;
}

const verdict = (ok: boolean): string => (ok ? 'PASS' : 'MISS');

async function readAll(
  pool: ReaderPool,
  sets: { mount: number; paths: string[] }[],
): Promise<{ files: number; bytes: number; ms: number }> {
  const t0 = performance.now();
  const r = await pool.readClaimed(sets);
  const ms = performance.now() - t0;
  if (r.errors.length > 0) throw new Error(`${r.errors.length} read errors, first: ${r.errors[0]}`);
  return { files: r.files, bytes: r.bytes, ms };
}

export async function runScale(o: BenchOptions, log: (s: string) => void): Promise<number> {
  const startedAt = new Date().toISOString();
  const loadStart = loadavg();
  const pair = o.sources && o.sources.length >= 2 ? [...o.sources.slice(0, 2)] : bundledSourceDirs();
  const trees = [...pair];
  for (let v = trees.length; v < VERSIONS[VERSIONS.length - 1]; v++) trees.push(derivedTree(pair[1], 100 + v, CHANGED));
  const images = (
    await prepareInputs(trees, { onBuild: (input, image) => log(`building ${image} from ${input}`) })
  ).map((p) => p.image);
  const samples = Math.max(3, o.reps);

  const rows: ScaleRow[] = [];
  for (const n of VERSIONS) {
    const want = distinctContentPages(trees.slice(0, n));
    let imageBytes = 0;
    for (const img of images.slice(0, n)) imageBytes += statSync(img).size;
    const sys = System.create({ poolMiB: Math.ceil((imageBytes * 1.25) / MiB) + 64, inodeSlots: 65536 });
    const pool = new ReaderPool(sys, { workers: 1 });
    try {
      const sets = images.slice(0, n).map((img) => {
        const r = sys.mount(img, { inodeShare: true, domainId: 'scale' });
        if (!r.shareActive) throw new Error(`${img}: inode_share not active (${r.warning ?? '?'})`);
        return { mount: r.mount, paths: sys.listFiles(r.mount).map((f) => f.path) };
      });
      for (let i = 0; i < 3; i++) await readAll(pool, sets); // warm-up: worker start, JIT
      sys.dropCaches();
      const fill = await readAll(pool, sets);
      // Each warm sample reads the same amount at every N (the 10 versions' bytes): N=2 passes 5 times
      // per sample, N=10 once, so no N is timed over a few milliseconds only.
      const rounds = Math.ceil(VERSIONS[VERSIONS.length - 1] / n);
      const warm: number[] = [];
      const warmCpu: number[] = [];
      for (let i = 0; i < samples; i++) {
        const c0 = process.cpuUsage();
        let ms = 0;
        for (let r = 0; r < rounds; r++) ms += (await readAll(pool, sets)).ms;
        const c = process.cpuUsage(c0);
        warm.push(ms / rounds);
        warmCpu.push((c.user + c.system) / 1000 / rounds);
      }
      const st = sys.stats();
      const metadata = st.inodesInUse * INODE_WORDS * 4 + st.filePages * (FRAME_WORDS + PAGE_BUCKET_WORDS) * 4;
      const row: ScaleRow = {
        versions: n,
        files: fill.files,
        bytes: fill.bytes,
        expectedPages: want.pages,
        unsharedPages: want.allPages,
        cachedPages: st.filePages,
        sharedPages: st.sharedPageCacheBytes / st.pageSize,
        exact: st.filePages === want.pages,
        fillMs: Math.round(fill.ms * 10) / 10,
        warmMs: warm.map((x) => Math.round(x * 10) / 10),
        warmMibps: Math.round((fill.bytes / MiB / (median(warm) / 1000)) * 10) / 10,
        warmMibPerCpuSecond: Math.round((fill.bytes / MiB / (median(warmCpu) / 1000)) * 10) / 10,
        inodesInUse: st.inodesInUse,
        metadataBytesPerFile: Math.round(metadata / fill.files),
        arenaControlBytes: sys.arena.i32.byteLength,
      };
      rows.push(row);
      log(
        `N=${n}: ${row.files} files, ${row.cachedPages} pages cached (distinct content ${row.expectedPages}), warm ${row.warmMibps} MiB/s`,
      );
    } finally {
      await pool.destroy();
      sys.detach();
    }
  }

  // Many small files in one arena.
  const files = o.scaleFiles;
  const perImage = Math.min(SMALL_PER_IMAGE, files);
  const nmounts = Math.ceil(files / perImage);
  const { tar, bytes: tarBytes } = smallFilesTar(perImage);
  const [small] = await prepareInputs([tar], { onBuild: (input, image) => log(`building ${image} from ${input}`) });
  const rss0 = process.memoryUsage().rss;
  let inodeSlots = 1024;
  while (inodeSlots < files + perImage + 4096) inodeSlots *= 2;
  const sys = System.create({
    poolMiB: Math.ceil((perImage * 4096 * 1.25) / MiB) + 64,
    inodeSlots,
    mountSlots: Math.min(1024, nmounts + 4),
  });
  const pool = new ReaderPool(sys, { workers: 2 });
  let many;
  try {
    await pool.readClaimed([]); // both workers started and their code loaded before any timing
    const t0 = performance.now();
    const sets: { mount: number; paths: string[] }[] = [];
    for (let m = 0; m < nmounts; m++) {
      const r = sys.mount(small.image, { inodeShare: true, domainId: 'small' });
      const all = sys.listFiles(r.mount).map((f) => f.path);
      sets.push({ mount: r.mount, paths: m === nmounts - 1 ? all.slice(0, files - perImage * (nmounts - 1)) : all });
    }
    const mountMs = performance.now() - t0;
    const first = await readAll(pool, sets);
    const again = await readAll(pool, sets);
    const st = sys.stats();
    many = {
      files: first.files,
      mounts: nmounts,
      image: small.image,
      imageFiles: perImage,
      dataBytes: first.bytes,
      mountMs: Math.round(mountMs),
      firstReadMs: Math.round(first.ms),
      warmReadMs: Math.round(again.ms),
      filesPerSecondWarm: Math.round(first.files / (again.ms / 1000)),
      pageCacheBytes: st.pageCacheBytes,
      inodesInUse: st.inodesInUse,
      arenaControlBytes: sys.arena.i32.byteLength,
      arenaFrameBytes: sys.arena.poolBytes,
      mainRssGrowthBytes: process.memoryUsage().rss - rss0,
    };
    if (first.bytes !== bytesOf(sets, perImage, tarBytes))
      throw new Error(`read ${first.bytes} bytes of small files, expected ${bytesOf(sets, perImage, tarBytes)}`);
  } finally {
    await pool.destroy();
    sys.detach();
  }

  const r2 = rows.find((r) => r.versions === 2)!;
  const r10 = rows.find((r) => r.versions === 10)!;
  const scaleRatio = Math.round((r10.warmMibps / r2.warmMibps) * 1000) / 1000;
  const scaleCpuRatio = Math.round((r10.warmMibPerCpuSecond / r2.warmMibPerCpuSecond) * 1000) / 1000;
  const exactAll = rows.every((r) => r.exact);
  const json = {
    version: 1,
    startedAt,
    finishedAt: new Date().toISOString(),
    loadAverageStart: loadStart,
    loadAverageEnd: loadavg(),
    trees,
    images,
    changedShare: CHANGED,
    rows,
    targets: {
      pageCacheIsDistinctContent: { value: exactAll, verdict: verdict(exactAll) },
      warmN10OverN2: {
        value: scaleRatio,
        perCpuSecond: scaleCpuRatio,
        target: 0.9,
        verdict: verdict(scaleRatio >= 0.9),
      },
    },
    manyFiles: many,
  };
  const file = writeResults(join(o.outDir, 'scale'), startedAt, json);

  const pad = (s: string | number, n: number): string => String(s).padStart(n);
  let out = `ishare bench --scale — versions of ${pair.join(' / ')} (each further version: ${CHANGED * 100}% of the newer tree's files changed, seeded)\n`;
  out += `load average ${loadStart.map((x) => x.toFixed(2)).join(' ')} at start, ${loadavg()
    .map((x) => x.toFixed(2))
    .join(
      ' ',
    )} at end; warm: median of ${samples} samples of ${VERSIONS[VERSIONS.length - 1]} versions' bytes each, 1 worker\n\n`;
  out += `${pad('N', 3)} ${pad('files', 7)} ${pad('MiB', 7)} ${pad('pages w/o sharing', 18)} ${pad('distinct content', 17)} ${pad('cached', 8)} ${pad('exact', 6)} ${pad('fill ms', 8)} ${pad('warm MiB/s', 11)} ${pad('MiB/CPU-s', 10)} ${pad('metadata B/file', 16)}\n`;
  for (const r of rows) {
    out += `${pad(r.versions, 3)} ${pad(r.files, 7)} ${pad((r.bytes / MiB).toFixed(1), 7)} ${pad(r.unsharedPages, 18)} ${pad(r.expectedPages, 17)} ${pad(r.cachedPages, 8)} ${pad(r.exact ? 'yes' : 'NO', 6)} ${pad(r.fillMs.toFixed(0), 8)} ${pad(r.warmMibps.toFixed(0), 11)} ${pad(r.warmMibPerCpuSecond.toFixed(0), 10)} ${pad(r.metadataBytesPerFile, 16)}\n`;
  }
  out += `\npage cache = pages of distinct content at every N: ${verdict(exactAll)}\n`;
  out += `warm MiB/s N=10 / N=2 = ${scaleRatio.toFixed(2)}× (target ≥ 0.9×): ${verdict(scaleRatio >= 0.9)}; per CPU-second ${scaleCpuRatio.toFixed(2)}×\n`;
  out += `metadata per cached file: inode records (${INODE_WORDS * 4} B) + per cached page a frame descriptor and a page-index bucket (${(FRAME_WORDS + PAGE_BUCKET_WORDS) * 4} B); shared inodes counted in\n\n`;
  out += `${many.files} small files in ${many.mounts} mounts of one image of ${many.imageFiles} files (inode_share on, one domain), one arena, 2 workers:\n`;
  out += `  mount ${many.mountMs} ms; first read of every file ${many.firstReadMs} ms; again (warm) ${many.warmReadMs} ms (${many.filesPerSecondWarm} files/s)\n`;
  out += `  memory: arena control ${(many.arenaControlBytes / MiB).toFixed(0)} MiB + frames ${(many.arenaFrameBytes / MiB).toFixed(0)} MiB; page cache ${(many.pageCacheBytes / MiB).toFixed(0)} MiB; ${many.inodesInUse} inodes in use; main thread RSS +${(many.mainRssGrowthBytes / MiB).toFixed(0)} MiB\n`;
  const report = writeMarkdownReport(o.reportDir, 'scale', process.argv.slice(2), out);
  out += `\nresults: ${file}\nreport: ${report}\n`;
  process.stdout.write(out);
  return exactAll ? 0 : 1;
}

/** Bytes of the small files read: whole images, the last one cut at `files`. */
function bytesOf(sets: readonly { paths: string[] }[], perImage: number, imageBytes: number): number {
  let total = 0;
  for (const s of sets) {
    if (s.paths.length === perImage) total += imageBytes;
    else for (const p of s.paths) total += smallFileSize(Number(p.slice(p.lastIndexOf('/f') + 2)));
  }
  return total;
}
