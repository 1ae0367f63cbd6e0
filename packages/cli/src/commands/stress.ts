// `ishare stress`: hunt races in the sharing logic. N workers × M images with sharing on, a seeded mix
// of reads, range reads, readaheads and open/close, chaos from the controller (evict, unmount/remount,
// drop caches, shrink the pool), race-window jitter, invariants checked continuously and at quiescence.
// Exit 0 clean, 1 a violation was found, 2 bad usage.
import { availableParallelism } from 'node:os';
import { InvalidArgumentError, type Command } from 'commander';
import Table from 'cli-table3';
import { BUG, BUG_DESCRIPTIONS, BUG_CATEGORY, type BugName } from '@ishare/core';
import { runStress, type StressReport } from '@ishare/workers';
import { CheckFailed, UsageError } from '../errors.ts';
import { parsePositiveInt } from '../options.ts';
import { prepareInputs } from '../image-cache.ts';
import { bundledSourceDirs } from '../bundled.ts';
import { writeOut } from '../output.ts';

function parseBugs(v: string): BugName[] {
  const names = v.split(',').map((s) => s.trim().toUpperCase().replace(/-/g, '_')).filter(Boolean);
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
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n > 0xffffffff) throw new InvalidArgumentError('expected an integer from 0 to 4294967295');
  return n;
}

export interface StressCliOptions {
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
  lockChecks: boolean;
  raceDetector: boolean;
  json?: boolean;
  listBugs?: boolean;
}

function listBugs(json: boolean): void {
  const rows = (Object.keys(BUG) as BugName[]).map((name) => ({ name, category: BUG_CATEGORY[name], description: BUG_DESCRIPTIONS[name] }));
  if (json) {
    writeOut(JSON.stringify(rows, null, 2) + '\n');
    return;
  }
  const t = new Table({ head: ['bug (--inject)', 'category', 'what it breaks'], colWidths: [22, 10, 80], wordWrap: true });
  for (const r of rows) t.push([r.name, r.category, r.description]);
  writeOut(t.toString() + '\n');
}

function formatReport(r: StressReport): string {
  const lines: string[] = [];
  const v = r.violation;
  lines.push(`${v ? 'VIOLATION' : 'clean'}: seed ${r.seed}, ${r.workers} workers, policy ${r.policy}, jitter ${r.jitter}, inject ${r.inject.join(',') || 'none'}`);
  lines.push(`detectors: lock checks ${r.detectors.lockChecks ? 'on' : 'off'}, race detector ${r.detectors.raceDetector ? `on (${r.detectors.raceWatchpoints} watchpoints)` : 'off'}, invariants and byte oracle on`);
  lines.push(`${(r.elapsedMs / 1000).toFixed(1)} s, ${r.ops} ops (${Math.round(r.opsPerSec)} ops/s), ${r.reads} verified reads (${Math.round(r.readsPerSec)}/s), ${(r.bytes / 2 ** 20).toFixed(1)} MiB`);
  lines.push(`ops: ${Object.entries(r.byKind).map(([k, n]) => `${k} ${n}`).join(', ')}; refused opens during unmount: ${r.benign}`);
  lines.push(`chaos: ${Object.entries(r.chaos).map(([k, n]) => `${k} ${n}`).join(', ')}; quiescent checks: ${r.quiescentChecks}`);
  lines.push(`page-cache hit rate ${(r.pageCacheHitRate * 100).toFixed(1)}%, pages in shared inodes ${(r.sharedPageFraction * 100).toFixed(1)}%`);
  const locks = new Table({ head: ['lock class', 'acquisitions', 'spins', 'sleeps'] });
  for (const l of r.locks) if (l.acquisitions) locks.push([l.name, l.acquisitions, l.spins, l.sleeps]);
  lines.push(locks.toString());
  const served = new Table({ head: ['image', 'domain', 'pages read from it', 'of which for shared inodes'] });
  for (const s of r.servedBy) served.push([s.image, s.domainId, s.pages, s.sharedPages]);
  lines.push(served.toString());
  if (v) {
    lines.push(`caught by: ${v.detector}`);
    lines.push(`violated: ${v.invariant} after ${(v.detectedAfterMs / 1000).toFixed(2)} s${v.thread !== undefined ? ` (worker ${v.thread})` : ''}`);
    lines.push(`  ${v.message}`);
    if (v.trail.length) lines.push('  worker trail (oldest first):', ...v.trail.map((s) => `    ${s}`));
    if (v.chaosTrail.length) lines.push('  controller trail:', ...v.chaosTrail.slice(-10).map((s) => `    ${s}`));
    if (v.lastPoints) lines.push(`  last named point per thread (0 = controller): ${v.lastPoints.map((p, i) => `${i}:${p}`).join(' ')}`);
    lines.push(`  reproduce: ishare stress --seed ${r.seed} --workers ${r.workers} --policy ${r.policy}${r.inject.length ? ` --inject ${r.inject.join(',')}` : ''} --jitter ${r.jitter}${r.detectors.lockChecks ? '' : ' --no-lock-checks'}${r.detectors.raceDetector ? '' : ' --no-race-detector'}`);
  }
  return lines.join('\n') + '\n';
}

export async function runStressCommand(inputs: string[], o: StressCliOptions): Promise<StressReport> {
  if (!['processing', 'any', 'both'].includes(o.policy)) throw new UsageError(`--policy must be processing, any or both (got '${o.policy}')`);
  if (o.seconds !== undefined && o.ops !== undefined) throw new UsageError('give --seconds or --ops, not both');
  const workers = o.workers ?? availableParallelism();
  if (workers > 32) throw new UsageError('--workers must be from 1 to 32');
  if (o.poolMib > 16384) throw new UsageError('--pool-mib must be from 1 to 16384');
  const prepared = await prepareInputs(inputs.length ? inputs : bundledSourceDirs());
  return runStress({
    images: prepared.map((p) => ({ image: p.image })),
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
  });
}

export function register(program: Command): void {
  program
    .command('stress')
    .description('stress concurrent readers of shared inodes: chaos, jitter, invariants, planted bugs (exit 1 on a violation)')
    .argument('[inputs...]', 'images, directories or tars (default: the bundled pair)')
    .option('--workers <n>', 'reader worker threads (default: cores)', parsePositiveInt)
    .option('--policy <p>', 'real-inode policy: processing (v7), any (mainline) or both (alternating)', 'both')
    .option('--seconds <n>', 'run time (default 10 unless --ops)', parsePositiveInt)
    .option('--ops <n>', 'stop after this many worker ops in total', parsePositiveInt)
    .option('--seed <n>', 'seed for every random choice', parseSeed, 1)
    .option('--jitter <p>', 'chance (0..1) that a named race point pauses or spins', parseFraction, 0.02)
    .option('--inject <bugs>', 'planted bugs to switch on, comma separated (see --list-bugs)', parseBugs)
    .option('--list-bugs', 'list the planted bugs and exit')
    .option('--pool-mib <n>', 'page pool size; small pools mean constant reclaim', parsePositiveInt, 8)
    .option('--no-decoys', 'do not mount the decoy images with forged fingerprints')
    .option('--no-chaos', 'no eviction/unmount/drop/shrink from the controller')
    .option('--no-lock-checks', 'do not check, at each use of a lock-protected structure, that its lock is held')
    .option('--no-race-detector', 'do not run the watchpoint data-race detector')
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
