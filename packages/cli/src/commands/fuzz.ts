// `ishare fuzz`: damage valid images on purpose and demand, from the reader and the kernel, a typed
// one-line error or correct data for every mutated image — never a crash, a hang or a read past the
// image. Failing images are saved with a description of their mutations for `--replay`.
// With --differential, upstream fsck.erofs --extract is a second reader: where both accept an image,
// every file must be the same; a disagreement is a finding (saved, exit 1), whichever side is wrong.
// Exit 0 clean, 1 when any image crashed/hung/read out of bounds/read wrong data, 2 bad usage.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { fsckOnPath, fsckVersion } from '@ishare/core/format';
import {
  buildCorpus,
  DEFAULT_TIMEOUT_MS,
  DEFAULT_WORKERS,
  isFailing,
  upstreamOnly,
  prepareSeed,
  readImage,
  replayImage,
  runFuzz,
  type CheckOutcome,
  type FuzzReport,
} from '@ishare/core/fuzz';
import { ErofsError } from '../core.ts';
import { CheckFailed, fileError, UsageError } from '../errors.ts';
import { parsePositiveInt } from '../options.ts';
import { writeOut } from '../output.ts';

export interface FuzzCliOptions {
  count: number;
  seed: number;
  out: string;
  timeoutMs: number;
  workers: number;
  start: number;
  kernel: boolean;
  json?: boolean;
  replay?: string;
  differential?: boolean;
  fsck?: string;
  /** Tests only: a stand-in worker module (proves exit 1 and the saved files without a real bug). */
  workerModule?: string;
}

function parseSeed(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n > 0xffffffff)
    throw new InvalidArgumentError('expected an integer from 0 to 4294967295');
  return n;
}

function parseIndex(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n)) throw new InvalidArgumentError('expected a non-negative integer');
  return n;
}

const LABELS: Record<string, string> = {
  ok: 'ok',
  error: 'typed errors',
  crash: 'crashes',
  hang: 'hangs',
  oob: 'out-of-bounds',
  wrong: 'wrong data',
};

export function formatFuzzReport(r: FuzzReport, outDir: string): string {
  const c = r.counts;
  const lines = [
    `fuzz: ${r.images} images from ${r.seeds.length} seeds (${r.seeds.join(', ')}), seed ${r.seed}${r.start ? `, from index ${r.start}` : ''}, ${r.workers} workers, ${r.timeoutMs} ms per image`,
    (['ok', 'error', 'crash', 'hang', 'oob', 'wrong'] as const).map((k) => `${LABELS[k]} ${c[k]}`).join(' | '),
    `${(r.elapsedMs / 1000).toFixed(1)} s, ${r.imagesPerSec.toFixed(1)} images/s; ${r.filesRead} file reads, ${r.verifiedUntouched} untouched files verified, ${r.typedErrors} typed errors in all, ${r.guardedReads} out-of-range reads refused`,
  ];
  if (r.topErrors.length > 0) {
    lines.push('top errors (first error of each image):');
    for (const e of r.topErrors.slice(0, 10))
      lines.push(`  ${String(e.count).padStart(7)}  ${e.code.padEnd(12)} ${e.message}`);
  }
  if (r.failures.length > 0) {
    lines.push(`failing images (${r.failures.length}${r.saved ? `, ${r.saved} saved to ${outDir}` : ''}):`);
    for (const f of r.failures.slice(0, 20)) {
      lines.push(
        `  #${f.index} ${f.kind}${f.phase ? ` (${f.phase})` : ''} from ${f.seedImage}: ${f.message}${f.file ? ` -> ${f.file}` : ''}`,
      );
    }
    if (r.failures.length > 20) lines.push(`  ... ${r.failures.length - 20} more`);
  }
  const d = r.differential;
  if (d) {
    lines.push(
      `differential against ${d.version ?? d.fsck}: ${d.compared} images both accepted (${d.files} files compared), ` +
        `${d.upstreamRejected} accepted by our reader only, ${d.oursRejected} rejected by our reader (not compared), ${d.skipped} skipped; ` +
        `${d.findings.length} disagreeing (${d.upstreamBugs} explained by known upstream bugs)`,
    );
    for (const x of d.upstreamReasons.slice(0, 5))
      lines.push(`  fsck.erofs refused ${String(x.count).padStart(5)}: ${x.message}`);
    for (const f of d.findings.slice(0, 20)) {
      const first = f.disagreements[0];
      lines.push(
        `  #${f.index} from ${f.seedImage}: ${first ? `${first.path}: ${first.kind}: ${first.detail}` : ''}${f.disagreements.length > 1 ? ` (+${f.disagreements.length - 1} more)` : ''}` +
          `${upstreamOnly(f) ? ` [upstream bug: ${first?.upstreamBug}]` : ''}${f.file ? ` -> ${f.file}` : ''}`,
      );
    }
  }
  return lines.join('\n') + '\n';
}

function formatOutcome(file: string, o: CheckOutcome): string {
  const head = o.kind === 'error' ? `error ${o.code}` : o.kind;
  const lines = [`replay ${file}: ${head}${o.phase ? ` (${o.phase} pass)` : ''}${o.message ? `: ${o.message}` : ''}`];
  lines.push(`${o.filesRead} file reads, ${o.typedErrors} typed errors, ${o.guarded} out-of-range reads refused`);
  if (o.stack) lines.push(o.stack);
  const d = o.differential;
  if (d) {
    lines.push(
      `differential: ${d.status}${d.upstream ? ` (${d.upstream})` : ''}, ${d.files} files compared with fsck.erofs --extract`,
    );
    for (const x of d.disagreements)
      lines.push(
        `  ${x.path}: ${x.kind}: ${x.detail}${x.upstreamBug ? ` [known upstream bug: ${x.upstreamBug}]` : ''}`,
      );
  }
  const txt = file.replace(/\.img$/, '.txt');
  if (txt !== file && existsSync(txt)) lines.push(`mutations: ${txt}`);
  return lines.join('\n') + '\n';
}

async function replay(file: string, o: FuzzCliOptions): Promise<void> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(file));
  } catch (e) {
    throw fileError(file, e);
  }
  const fsck = upstreamFsck(o);
  const outcome = await replayImage(bytes, {
    timeoutMs: o.timeoutMs,
    kernel: o.kernel,
    workerModule: o.workerModule,
    ...(fsck ? { fsck: fsck.path } : {}),
  });
  writeOut(o.json ? JSON.stringify({ file, ...outcome }, null, 2) + '\n' : formatOutcome(file, outcome));
  if (isFailing(outcome.kind)) throw new CheckFailed(`fuzz replay: ${outcome.kind}: ${outcome.message ?? ''}`);
  const d = (outcome.differential?.disagreements ?? []).filter((x) => x.upstreamBug === undefined);
  if (d.length > 0)
    throw new CheckFailed(
      `fuzz replay: our reader and fsck.erofs disagree: ${d[0].path}: ${d[0].kind}: ${d[0].detail}`,
    );
}

/**
 * The fsck.erofs of the differential pass: --fsck PATH, else the one on PATH. It must be upstream
 * 1.9.x (the release that knows page-cache-sharing fingerprints); older ones are refused by name.
 */
function upstreamFsck(o: FuzzCliOptions): { path: string; version: string } | undefined {
  if (!o.differential) {
    if (o.fsck !== undefined) throw new UsageError('--fsck goes with --differential');
    return undefined;
  }
  const path = o.fsck ?? fsckOnPath();
  if (path === undefined) throw new UsageError('--differential needs upstream fsck.erofs 1.9: give --fsck PATH');
  if (!existsSync(path)) throw new UsageError(`--fsck ${path}: No such file or directory`);
  const version = fsckVersion(path);
  if (version === undefined) throw new UsageError(`--fsck ${path}: does not run as fsck.erofs (-V failed)`);
  const v = /\b(\d+)\.(\d+)/.exec(version);
  if (!v || Number(v[1]) * 1000 + Number(v[2]) < 1009)
    throw new UsageError(
      `--differential needs upstream fsck.erofs 1.9 or later; ${path} is "${version}" (give --fsck PATH)`,
    );
  return { path, version };
}

function loadSeeds(paths: string[]): { name: string; bytes: Uint8Array }[] {
  return paths.map((p) => {
    let bytes: Uint8Array;
    try {
      bytes = readImage(p);
    } catch (e) {
      throw fileError(p, e);
    }
    try {
      prepareSeed(p, bytes);
    } catch (e) {
      if (e instanceof ErofsError) throw new UsageError(`seed image ${p} is not a readable EROFS image: ${e.message}`);
      throw e;
    }
    return { name: p, bytes };
  });
}

export async function runFuzzCommand(images: string[], o: FuzzCliOptions): Promise<FuzzReport> {
  if (o.workers > 32) throw new UsageError('--workers must be from 1 to 32');
  const fsck = upstreamFsck(o);
  let corpusDir: string | undefined;
  try {
    let seeds: { name: string; bytes: Uint8Array }[];
    if (images.length > 0) {
      seeds = loadSeeds(images);
    } else {
      corpusDir = mkdtempSync(join(tmpdir(), 'ishare-fuzz-corpus-'));
      const corpus = await buildCorpus(corpusDir);
      for (const s of corpus.skipped) process.stderr.write(`ishare: fuzz: skipped ${s}\n`);
      seeds = corpus.images.map((i) => ({ name: i.name, bytes: readImage(i.path) }));
    }
    const progress = process.stderr.isTTY && !o.json;
    let last = 0;
    const report = await runFuzz({
      seeds,
      count: o.count,
      seed: o.seed,
      start: o.start,
      workers: o.workers,
      timeoutMs: o.timeoutMs,
      outDir: resolve(o.out),
      kernel: o.kernel,
      workerModule: o.workerModule,
      ...(fsck ? { fsck: fsck.path, fsckVersion: fsck.version } : {}),
      onProgress: progress
        ? (done, total, c) => {
            const now = Date.now();
            if (now - last < 500 && done !== total) return;
            last = now;
            process.stderr.write(
              `\r${done}/${total} images: ok ${c.ok}, errors ${c.error}, crashes ${c.crash}, hangs ${c.hang}, oob ${c.oob}, wrong ${c.wrong}${done === total ? '\n' : ''}`,
            );
          }
        : undefined,
    });
    return report;
  } finally {
    if (corpusDir) rmSync(corpusDir, { recursive: true, force: true });
  }
}

export function register(program: Command): void {
  program
    .command('fuzz')
    .description(
      'mutation-fuzz EROFS images: every damaged image must give a typed error or correct data (exit 1 on a crash, hang, out-of-bounds read or wrong data)',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  ishare fuzz --count 200\n  ishare fuzz --differential --fsck ./fsck.erofs --no-kernel app.img\n  ishare fuzz --replay fuzz-failures/fuzz-1-17.img',
    )
    .argument('[images...]', 'seed images (default: a small corpus built now by our mkfs and mkfs.erofs)')
    .option('--count <n>', 'images to generate and check', parsePositiveInt, 1000)
    .option('--seed <n>', 'run seed: image i depends only on (seed, i)', parseSeed, 1)
    .option('--start <i>', 'first image index (continue a run)', parseIndex, 0)
    .option('--out <dir>', 'where failing images (.img + .txt) are saved', 'fuzz-failures')
    .option('--timeout-ms <ms>', 'time limit per image; over it counts as a hang', parsePositiveInt, DEFAULT_TIMEOUT_MS)
    .option('--workers <n>', 'worker threads', parsePositiveInt, DEFAULT_WORKERS)
    .option('--no-kernel', 'reader pass only (skip mounting in the shared-memory kernel)')
    .option('--replay <file>', 'check one saved image and print its outcome (and the stack of a crash)')
    .option(
      '--differential',
      'also extract every image both accept with upstream fsck.erofs --extract and compare each file with our reader (exit 1 on a disagreement)',
    )
    .option('--fsck <path>', 'upstream fsck.erofs (1.9 or later) for --differential (default: fsck.erofs on PATH)')
    .option('--json', 'print the report as JSON')
    .addOption(new Option('--worker-module <url>', 'stand-in worker module (tests)').hideHelp())
    .action(async (images: string[], o: FuzzCliOptions) => {
      if (o.replay !== undefined) {
        if (images.length > 0) throw new UsageError('--replay takes one image; give no seed images with it');
        await replay(o.replay, o);
        return;
      }
      const r = await runFuzzCommand(images, o);
      writeOut(o.json ? JSON.stringify(r, null, 2) + '\n' : formatFuzzReport(r, o.out));
      if (r.failures.length > 0) {
        const c = r.counts;
        throw new CheckFailed(
          `fuzz: ${r.failures.length} failing images (crash ${c.crash}, hang ${c.hang}, oob ${c.oob}, wrong ${c.wrong}); saved under ${o.out}`,
        );
      }
      // Disagreements a known upstream bug explains are reported and saved, but do not fail the run.
      const found = r.differential?.findings.filter((f) => !upstreamOnly(f)).length ?? 0;
      if (found > 0)
        throw new CheckFailed(`fuzz: our reader and fsck.erofs disagree on ${found} images; saved under ${o.out}`);
    });
}
