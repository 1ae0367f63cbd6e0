// Command line of `pnpm bench`. Plain node:util parseArgs: the bench must not depend on the CLI package.
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));

export interface BenchOptions {
  /** Measured repetitions (one unmeasured warm-up pass always runs first). */
  readonly reps: number;
  /** Samples of each scenario per repetition (each cold one after its own eviction). */
  readonly passes: number;
  readonly quick: boolean;
  /** Source trees: their images are built (or reused) through the CLI's image cache. */
  readonly sources?: readonly string[];
  /** Container image sources: which image of a multi-platform index (os/arch[/variant]). */
  readonly platform?: string;
  /** Prebuilt images, read as they are (no extracted tree to compare with). */
  readonly images?: readonly string[];
  /** Where the JSON results go. */
  readonly outDir: string;
  /**
   * Where the Markdown report of the run goes (<dir>/<kind>.md, replaced each run): docs/bench/ for a full
   * run on the default data, so the figures the docs cite are the bench's own output and git keeps the
   * history; beside the JSON for --quick, --source/--images, or an explicit --out (tests, one-off looks).
   */
  readonly reportDir: string;
  readonly loop: boolean;
  readonly evict: boolean;
  /** Bytes per read call, ours and Node's alike. */
  readonly chunk: number;
  /**
   * Each image mounted (and each tree copied) this many times, so that one pass reads enough for stable
   * figures; undefined: enough copies for DEFAULT_PASS_MIB per pass (1 with --quick).
   */
  readonly copies?: number;
  /** Passes over the data per warm sample (undefined: 3; --quick: 1). */
  readonly warmRounds?: number;
  /** The --scale run instead of the throughput tables. */
  readonly scale: boolean;
  /** The --memcg run (readers in memory cgroups vs not; reclaim under a limit) instead of the tables. */
  readonly memcg: boolean;
  /** --scale: small files of the many-files run (default 10^6). */
  readonly scaleFiles: number;
  /**
   * Our pool's parallel readahead: a file bigger than this many bytes is read by every worker at once, in
   * stripes of about this size (a compressed file's cut at extent ends); 0 = each file by one worker.
   */
  readonly split: number;
  /** Build the images compressed with upstream mkfs.erofs 1.9.3 -z<alg> (-Eztailpacking). */
  readonly compress?: string;
  /** --layout layers: the per-layer layout's reads against flat (bench/layout.ts) instead of the tables. */
  readonly layout?: 'layers';
  /** --metadata: the metadata table of N containers (bench/metadata.ts) instead of the tables. */
  readonly metadata: boolean;
  /** --metadata: the container counts (default 2, 10, 50). */
  readonly containers?: readonly number[];
}

export const COMPRESS_ALGS = ['lz4', 'lz4hc', 'deflate', 'zstd', 'lzma'] as const;

/** A pass reads at least this much by default: a warm pass then takes ≥ 100 ms at the kernel's speed. */
export const DEFAULT_PASS_MIB = 480;

export const USAGE = `usage: pnpm bench [--reps N] [--passes K] [--quick] [--source DIR,DIR | --images A.img,B.img]
                  [--platform OS/ARCH] [--out DIR] [--no-loop] [--no-evict] [--chunk BYTES] [--copies N]
                  [--warm-rounds N] [--compress ALG]
       pnpm bench --scale [--reps N] [--scale-files N] [--out DIR]
       pnpm bench --memcg [--reps N] [--quick] [--source A,B] [--out DIR]
       pnpm bench --layout layers [--reps N] [--passes K] [--quick] [--source IMAGE] [--out DIR]
       pnpm bench --metadata [--containers 2,10,50] [--out DIR]

Read throughput of ishare's shared page cache (ReaderPool, 1 and 2 workers; cold, fill, warm) side by
side with Node reading the same files through the kernel (the source trees and a loop mount of the
images), interleaved in one run. Default data: the bundled typescript-5.6.2 / 5.6.3 pair.

  --reps N        measured repetitions, interleaved (default 5; --quick: 2)
  --passes K      samples of each scenario per repetition (default 3; --quick: 1)
  --quick         2 repetitions of 1 pass
  --source A,B    source trees, tar archives or container images (images built through the image cache)
  --platform P    container image sources: which image of a multi-platform index (os/arch[/variant])
  --images A,B    images as they are (no extracted-tree figures)
  --out DIR       results directory (default bench/results, not in git: every run's JSON); the Markdown
                  report goes to docs/bench/<kind>.md for a full run on the default data, else here
  --no-loop       skip the kernel loop-mount figures
  --no-evict      skip every figure that needs the kernel's page cache dropped
  --chunk BYTES   bytes per read call (default 131072)
  --split BYTES   our workers read a file bigger than this together, in stripes of about this size (a
                  compressed file's cut at extent ends): parallel readahead (default 1048576; 0 = each
                  file by one worker, as before)
  --copies N      mount each image (and copy each tree) N times, so a pass reads N times the data
                  (default: enough for 480 MiB per pass; --quick: 1)
  --compress ALG  compressed images of the source trees (lz4, lz4hc, deflate, zstd or lzma), built by upstream
                  mkfs.erofs 1.9.3 with -Eztailpacking and fingerprints: our compressed data path against
                  the kernel's loop mount of the same images (every family reads compressed images)
  --warm-rounds N passes over the data in each warm sample (default 3, so that a warm sample of ours
                  takes >= 100 ms; --quick: 1)

--layout layers: one container image mounted flat and as one blob per layer under the read-only
overlay, every file read through each (fill and warm, 1 thread, interleaved): layers / flat, target
>= 0.9x. Default data: the bundled typescript-5.6.2 tree split into a three-layer OCI image.

--metadata: N containers (default 2, 10, 50) of two images sharing base layers, flat, layers and fsmeta x
superblock_share off/on x inode_share off/on: page cache and the metadata beside it (superblocks,
mounts, inode records, arena control bytes, dentries, per-thread states), as compare --json reports it.

--scale: N = 2, 5 and 10 versions of one tree (the bundled pair plus versions derived from it by
changing a seeded 10% of the files), mounted with inode_share: page cache against the pages of
distinct content, warm MiB/s, arena metadata per cached file; then --scale-files small files
(default 1000000) in mounts of one arena, mounted and read (time and memory).

--memcg: the pair mounted with inode_share, read in full with every image's readers in a memory cgroup
of their own vs in the root, interleaved (fill: targets >= 0.95x; warm: >= 0.98x, 1 and 2 workers);
then reclaim under a limit (one cgroup whose memory.max holds a quarter of the data): MiB/s read and
reclaimed, and memory.current <= memory.max.`;

export class BenchUsageError extends Error {}

function list(v: string | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  const items = v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (items.length === 0) throw new BenchUsageError('an empty list');
  return items.map((s) => resolve(s));
}

function posInt(name: string, v: string | undefined, dflt: number, max: number): number {
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v)) throw new BenchUsageError(`${name} must be a positive integer, not '${v}'`);
  const n = Number(v);
  if (n < 1 || n > max) throw new BenchUsageError(`${name} must be from 1 to ${max}`);
  return n;
}

/** Returns undefined for --help. */
export function parseBenchArgs(argv: readonly string[]): BenchOptions | undefined {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        reps: { type: 'string' },
        passes: { type: 'string' },
        quick: { type: 'boolean', default: false },
        source: { type: 'string' },
        images: { type: 'string' },
        platform: { type: 'string' },
        out: { type: 'string' },
        'no-loop': { type: 'boolean', default: false },
        'no-evict': { type: 'boolean', default: false },
        chunk: { type: 'string' },
        split: { type: 'string' },
        compress: { type: 'string' },
        copies: { type: 'string' },
        'warm-rounds': { type: 'string' },
        scale: { type: 'boolean', default: false },
        memcg: { type: 'boolean', default: false },
        layout: { type: 'string' },
        metadata: { type: 'boolean', default: false },
        containers: { type: 'string' },
        'scale-files': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    throw new BenchUsageError((e as Error).message);
  }
  if (values.help) return undefined;
  if (values.source !== undefined && values.images !== undefined)
    throw new BenchUsageError('give --source or --images, not both');
  if (values.platform !== undefined && values.source === undefined)
    throw new BenchUsageError('--platform applies to --source container images');
  if (values.platform !== undefined && !/^[a-z0-9_-]+\/[a-z0-9_-]+(?:\/[a-z0-9_.-]+)?$/i.test(values.platform))
    throw new BenchUsageError(`--platform must be os/arch[/variant], not '${values.platform}'`);
  const quick = values.quick;
  if (values.compress !== undefined && !(COMPRESS_ALGS as readonly string[]).includes(values.compress)) {
    throw new BenchUsageError(`--compress must be one of ${COMPRESS_ALGS.join(', ')}, not '${values.compress}'`);
  }
  if (values.compress !== undefined && values.images !== undefined)
    throw new BenchUsageError('--compress builds its images: give --source or nothing, not --images');
  if (values.compress !== undefined && values.platform !== undefined)
    throw new BenchUsageError('--compress builds its images from directories; --platform applies to container images');
  if (values.memcg && (values.scale || values.compress !== undefined || values.images !== undefined))
    throw new BenchUsageError(
      '--memcg reads the pair (or --source A,B) itself: not with --scale, --compress or --images',
    );
  if (values.scale && (values.compress !== undefined || values.platform !== undefined)) {
    throw new BenchUsageError(
      '--scale reads uncompressed images of directory trees: --compress and --platform do not apply',
    );
  }
  if (values.layout !== undefined && values.layout !== 'layers')
    throw new BenchUsageError(`--layout must be layers (measured against flat), not '${values.layout}'`);
  if (values.layout !== undefined && (values.scale || values.compress !== undefined || values.images !== undefined))
    throw new BenchUsageError(
      '--layout layers reads a container image (--source IMAGE or the default): not with --scale, --compress or --images',
    );
  if (values.containers !== undefined && !values.metadata)
    throw new BenchUsageError('--containers goes with --metadata');
  const containers = values.containers?.split(',').map((c) => posInt('--containers', c.trim(), 2, 500));
  return {
    ...(values.layout !== undefined ? { layout: 'layers' as const } : {}),
    metadata: values.metadata,
    ...(containers ? { containers } : {}),
    reps: posInt('--reps', values.reps, quick ? 2 : 5, 1000),
    passes: posInt('--passes', values.passes, quick ? 1 : 3, 100),
    quick,
    sources: list(values.source),
    images: list(values.images),
    ...(values.platform !== undefined ? { platform: values.platform } : {}),
    outDir: resolve(values.out ?? resolve(REPO_ROOT, 'bench', 'results')),
    reportDir:
      values.out !== undefined ||
      quick ||
      values.source !== undefined ||
      values.images !== undefined ||
      values.containers !== undefined
        ? resolve(values.out ?? resolve(REPO_ROOT, 'bench', 'results'))
        : resolve(REPO_ROOT, 'docs', 'bench'),
    loop: !values['no-loop'],
    evict: !values['no-evict'],
    chunk: posInt('--chunk', values.chunk, 128 * 1024, 64 * 1024 * 1024),
    split: values.split === '0' ? 0 : posInt('--split', values.split, 1024 * 1024, 2 ** 40),
    ...(values.compress !== undefined ? { compress: values.compress } : {}),
    copies: values.copies !== undefined ? posInt('--copies', values.copies, 1, 64) : quick ? 1 : undefined,
    warmRounds:
      values['warm-rounds'] !== undefined ? posInt('--warm-rounds', values['warm-rounds'], 1, 100) : undefined,
    scale: values.scale,
    memcg: values.memcg,
    scaleFiles: posInt('--scale-files', values['scale-files'], 1_000_000, 4_000_000),
  };
}
