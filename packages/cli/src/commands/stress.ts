// `ishare stress`: hunt races in the sharing logic. N workers × M images with sharing on, a seeded mix
// of reads, range reads, readaheads and open/close, chaos from the controller (evict, unmount/remount,
// drop caches, shrink the pool), race-window jitter, invariants checked continuously and at quiescence.
// Exit 0 clean, 1 a violation was found, 2 bad usage.
import { availableParallelism } from 'node:os';
import { InvalidArgumentError, type Command } from 'commander';
import { existsSync } from 'node:fs';
import { BUG, BUG_DESCRIPTIONS, BUG_CATEGORY, type BugName } from '@ishare/core/stress';
import { readManifest } from '@ishare/core';
import { MemoryLimitError, runStress, StressReferenceError, type StressReport } from '@ishare/workers';
import { CheckFailed, UsageError } from '../errors.ts';
import { parsePlatform, parsePositiveInt } from '../options.ts';
import { parseDomain, parseLayout, LAYOUT_HELP } from '../experiment-options.ts';
import { prepareInputs } from '../image-cache.ts';
import { bundledSourceDirs } from '../bundled.ts';
import { writeOut } from '../output.ts';
import { table } from '../table.ts';

function parseBugs(v: string): BugName[] {
  const names = v
    .split(',')
    .map((s) => s.trim().toUpperCase().replace(/-/g, '_'))
    .filter(Boolean);
  for (const n of names) if (!(n in BUG)) throw new InvalidArgumentError(`unknown bug '${n}' (see --list-bugs)`);
  return names as BugName[];
}

function parseFraction(v: string): number {
  const n = Number(v);
  if (!/^\d*\.?\d+$/.test(v) || !(n >= 0 && n <= 1)) throw new InvalidArgumentError('expected a number from 0 to 1');
  return n;
}

function parseSeed(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n > 0xffffffff)
    throw new InvalidArgumentError('expected an integer from 0 to 4294967295');
  return n;
}

export interface StressCliOptions {
  platform?: string;
  layout?: 'flat' | 'layers' | 'fsmeta';
  workers?: number;
  policy: string;
  seconds?: number;
  ops?: number;
  seed: number;
  jitter: number;
  inject?: BugName[];
  poolMib: number;
  decoys: boolean;
  chaos: boolean;
  verify?: boolean;
  superblockShare?: boolean;
  poison?: boolean;
  fsck?: string;
  manifest?: string[];
  domain: string;
  lockChecks: boolean;
  raceDetector: boolean;
  invariants: boolean;
  json?: boolean;
  listBugs?: boolean;
}

function listBugs(json: boolean): void {
  const rows = (Object.keys(BUG) as BugName[]).map((name) => ({
    name,
    category: BUG_CATEGORY[name],
    description: BUG_DESCRIPTIONS[name],
  }));
  if (json) {
    writeOut(JSON.stringify(rows, null, 2) + '\n');
    return;
  }
  const t = table(['bug (--inject)', 'category', 'what it breaks'], { colWidths: [22, 10, 80], wordWrap: true });
  for (const r of rows) t.push([r.name, r.category, r.description]);
  writeOut(t.toString() + '\n');
}

function formatReport(r: StressReport): string {
  const lines: string[] = [];
  const v = r.violation;
  lines.push(
    `${v ? 'VIOLATION' : 'clean'}: seed ${r.seed}, ${r.workers} workers, policy ${r.policy}, jitter ${r.jitter}, inject ${r.inject.join(',') || 'none'}`,
  );
  lines.push(
    `detectors: lock checks ${r.detectors.lockChecks ? 'on' : 'off'}, race detector ${r.detectors.raceDetector ? `on (${r.detectors.raceWatchpoints} watchpoints)` : 'off'}, invariants ${r.detectors.invariants ? 'on' : 'off'}, byte oracle on`,
  );
  lines.push(
    `${(r.elapsedMs / 1000).toFixed(1)} s, ${r.ops} ops (${Math.round(r.opsPerSec)} ops/s), ${r.reads} verified reads (${Math.round(r.readsPerSec)}/s), ${(r.bytes / 2 ** 20).toFixed(1)} MiB`,
  );
  lines.push(
    `ops: ${Object.entries(r.byKind)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ')}; refused opens during unmount: ${r.benign}`,
  );
  lines.push(
    `chaos: ${Object.entries(r.chaos)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ')}; quiescent checks: ${r.quiescentChecks}`,
  );
  const perMin = (n: number): string => (r.seconds > 0 ? ((n * 60) / r.seconds).toFixed(0) : '0');
  lines.push(
    `race windows opened (per minute): ${Object.entries(r.windows)
      .map(([k, n]) => `${k} ${n} (${perMin(n)})`)
      .join(', ')}`,
  );
  lines.push(`byte oracle: ${[...new Set(r.references.map((x) => x.origin))].join(', ')}`);
  if (r.verify || r.poison) {
    lines.push(
      r.verify
        ? `sharing verified${r.poison ? ', poison decoy mounted' : ''}: ${r.verifiedJoins} files proved their content and joined, ${r.verifyRefusals} refused (content does not match the fingerprint)`
        : 'sharing NOT verified (mainline trust), poison decoy mounted: a forged fingerprint in its domain is believed',
    );
  }
  lines.push(
    `page-cache hit rate ${(r.pageCacheHitRate * 100).toFixed(1)}%, pages in shared inodes ${(r.sharedPageFraction * 100).toFixed(1)}%`,
  );
  const locks = table(['lock class', 'acquisitions', 'spins', 'sleeps']);
  for (const l of r.locks) if (l.acquisitions) locks.push([l.name, l.acquisitions, l.spins, l.sleeps]);
  lines.push(locks.toString());
  const served = table(['image', 'domain', 'pages read from it', 'of which for shared inodes']);
  for (const s of r.servedBy) served.push([s.image, s.domainId, s.pages, s.sharedPages]);
  lines.push(served.toString());
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  if (v) {
    lines.push(`caught by: ${v.detector}`);
    lines.push(
      `violated: ${v.invariant} after ${(v.detectedAfterMs / 1000).toFixed(2)} s${v.thread !== undefined ? ` (worker ${v.thread})` : ''}`,
    );
    lines.push(`  ${v.message}`);
    if (v.trail.length) lines.push('  worker trail (oldest first):', ...v.trail.map((s) => `    ${s}`));
    if (v.chaosTrail.length) lines.push('  controller trail:', ...v.chaosTrail.slice(-10).map((s) => `    ${s}`));
    if (v.lastPoints)
      lines.push(
        `  last named point per thread (0 = controller): ${v.lastPoints.map((p, i) => `${i}:${p}`).join(' ')}`,
      );
    lines.push(
      `  reproduce: ishare stress --seed ${r.seed} --workers ${r.workers} --policy ${r.policy}${r.inject.length ? ` --inject ${r.inject.join(',')}` : ''} --jitter ${r.jitter}${r.verify ? ' --verify' : ''}${r.superblockShare ? ' --superblock-share' : ''}${r.poison && !r.verify ? ' --poison' : ''}${r.detectors.lockChecks ? '' : ' --no-lock-checks'}${r.detectors.raceDetector ? '' : ' --no-race-detector'}${r.detectors.invariants ? '' : ' --no-invariants'}`,
    );
  }
  return lines.join('\n') + '\n';
}

export async function runStressCommand(inputs: string[], o: StressCliOptions): Promise<StressReport> {
  if (!['processing', 'any', 'both'].includes(o.policy))
    throw new UsageError(`--policy must be processing, any or both (got '${o.policy}')`);
  if (o.seconds !== undefined && o.ops !== undefined) throw new UsageError('give --seconds or --ops, not both');
  const workers = o.workers ?? availableParallelism();
  if (workers > 32) throw new UsageError('--workers must be from 1 to 32');
  if (o.poolMib > 16384) throw new UsageError('--pool-mib must be from 1 to 16384');
  if (o.fsck !== undefined && !existsSync(o.fsck)) throw new UsageError(`--fsck ${o.fsck}: No such file or directory`);
  const prepared = (
    await prepareInputs(inputs.length ? inputs : bundledSourceDirs(), {
      platform: o.platform,
      progress: !o.json,
      layout: o.layout,
    })
  ).flatMap((p) =>
    // --layout layers: the stress harness mounts and checks each layer blob (its byte oracle is upstream
    // fsck.erofs's extraction of the blob); overlay lookups are not among its operations.
    p.layers ? p.layers.map((image) => ({ ...p, kind: 'image' as const, image, manifest: undefined })) : [p],
  );
  // The byte oracle's reference per input: the tree or tar it was built from (with the manifest mkfs
  // recorded), or for an image: --manifest files in the order of the image inputs, else one kept
  // beside it, and upstream fsck.erofs's extraction for the bytes.
  const given = [...(o.manifest ?? [])];
  const nimages = prepared.filter((p) => p.kind === 'image').length;
  if (given.length > nimages) throw new UsageError(`${given.length} --manifest files for ${nimages} image inputs`);
  const images = prepared.map((p) => {
    const m = p.kind === 'image' ? (given.shift() ?? p.manifest) : p.manifest;
    return {
      image: p.image,
      // --layout fsmeta: the fsmeta, mounted (and extracted by fsck.erofs for the oracle) with its layer blobs.
      ...(p.devices ? { devices: p.devices } : {}),
      ...(p.kind === 'dir' ? { source: p.input } : p.kind === 'tar' ? { tar: p.input } : {}),
      ...(m !== undefined ? { manifest: readManifest(m) } : {}),
    };
  });
  return refuseOverMemory(() =>
    runStress({
      images: images.map((x) => ({ ...x, domainId: o.domain })),
      ...(o.fsck !== undefined ? { fsck: o.fsck } : {}),
      verify: !!o.verify,
      ...(o.superblockShare ? { superblockShare: true } : {}),
      ...(o.poison ? { poison: true } : {}),
      workers,
      policy: o.policy as 'processing' | 'any' | 'both',
      seconds: o.seconds ?? (o.ops === undefined ? 10 : undefined),
      ops: o.ops,
      seed: o.seed,
      jitter: o.jitter,
      inject: o.inject ?? [],
      poolMiB: o.poolMib,
      decoys: o.decoys,
      chaos: o.chaos,
      lockChecks: o.lockChecks,
      raceDetector: o.raceDetector,
      invariants: o.invariants,
    }).catch((e: unknown) => {
      throw e instanceof StressReferenceError ? new UsageError(e.message) : e;
    }),
  );
}

/** A pool the process cannot hold is bad input (one line, exit 2), not a crash. */
async function refuseOverMemory<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof MemoryLimitError) throw new UsageError(e.message);
    throw e;
  }
}

export function register(program: Command): void {
  program
    .command('stress')
    .description(
      'stress concurrent readers of shared inodes: chaos, jitter, invariants, planted bugs (exit 1 on a violation)',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  ishare stress                  # 10 s on the bundled pair, every detector on\n  ishare stress --list-bugs\n  ishare stress --inject PROC_COUNT_NOLOCK --no-lock-checks --seed 3\n  ishare stress --seconds 60 --verify v1.img v2.img',
    )
    .argument('[inputs...]', 'images, directories, tars or container images (default: the bundled pair)')
    .option('--workers <n>', 'reader worker threads (default: cores)', parsePositiveInt)
    .option('--policy <p>', 'real-inode policy: processing (v7), any (mainline) or both (alternating)', 'both')
    .option('--seconds <n>', 'run time (default 10 unless --ops)', parsePositiveInt)
    .option('--ops <n>', 'stop after this many worker ops in total', parsePositiveInt)
    .option('--seed <n>', 'seed for every random choice', parseSeed, 1)
    .option('--jitter <p>', 'chance (0..1) that a named race point pauses or spins', parseFraction, 0.02)
    .option('--inject <bugs>', 'planted bugs to switch on, comma separated (see --list-bugs)', parseBugs)
    .option('--list-bugs', 'list the planted bugs and exit')
    .option('--pool-mib <n>', 'page pool size; small pools mean constant reclaim', parsePositiveInt, 8)
    .option(
      '--domain <id>',
      'domain_id the given images are mounted with (the decoys keep their own)',
      parseDomain,
      'stress',
    )
    .option('--no-decoys', 'do not mount the decoy images with forged fingerprints')
    .option('--no-chaos', 'no eviction/unmount/drop/shrink from the controller')
    .option('--layout <name>', LAYOUT_HELP, parseLayout)
    .option(
      '--platform <os/arch>',
      'container image inputs: which image of a multi-platform index (os/arch[/variant])',
      parsePlatform,
    )
    .option(
      '--verify',
      'mount with verify: a file shares its page cache only once its content matches its fingerprint (adds the poison decoy)',
    )
    .option(
      '--superblock-share',
      'mount with superblock_share: an image given twice is one superblock, kept while either mount is up (chaos unmounts one)',
    )
    .option(
      '--poison',
      'mount the poison decoy (forged fingerprint, same domain and size) even without --verify: the leak mainline accepts',
    )
    .option('--fsck <path>', 'fsck.erofs that extracts image inputs for the byte oracle (default: fsck.erofs on PATH)')
    .option(
      '--manifest <file>',
      'source manifest of an image input (ishare mkfs --manifest), repeatable in the order of the images',
      (v: string, prev: string[] | undefined) => [...(prev ?? []), v],
    )
    .option('--no-lock-checks', 'do not check, at each use of a lock-protected structure, that its lock is held')
    .option('--no-race-detector', 'do not run the watchpoint data-race detector')
    .option('--no-invariants', 'do not check the in-core invariants (references, live mappings, quiescent state)')
    .option('--json', 'print the report as JSON')
    .action(async (inputs: string[], o: StressCliOptions) => {
      if (o.listBugs) {
        listBugs(!!o.json);
        return;
      }
      const r = await runStressCommand(inputs, o);
      writeOut(o.json ? JSON.stringify(r, null, 2) + '\n' : formatReport(r));
      if (r.violation) throw new CheckFailed(`stress: ${r.violation.invariant}: ${r.violation.message.split('\n')[0]}`);
    });
}
