// `ishare compare IMG IMG...`: the seed's experiment. Mount the images without and then with inode
// page-cache sharing, read every regular file (or replay a trace) with the worker pool, and print the
// page cache each way. Inputs may be directories, tar archives or container images: their images are built (once) into
// the cache.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Command } from 'commander';
import type { RealInodePolicy } from '@ishare/core';
import type { CompareResult, ParsedTrace } from '@ishare/workers';
import { UsageError } from '../errors.ts';
import { writeOut } from '../output.ts';
import { experimentOptions, parseDomain, parsePolicy, parsePoolMiB, parseWorkers } from '../experiment-options.ts';
import { prepareInputs, type PreparedInput } from '../image-cache.ts';
import { parsePlatform } from '../options.ts';
import { asUsage, loadWorkers, readTraceFile } from '../experiment-run.ts';
import { phaseBar } from '../experiment-progress.ts';
import { compareDetails, compareTable, pairLabel, type LabelledResult } from '../compare-report.ts';
import { compareChartSvg } from '../chart.ts';

export interface CompareCliOptions {
  platform?: string;
  workers?: number;
  policy: RealInodePolicy;
  domain?: string;
  trace?: string;
  poolMib?: number;
  verify?: boolean;
  json?: boolean;
  chart?: string;
  outJson?: string;
}

/** The JSON document: the experiment's result plus where each image came from. */
export interface CompareJson extends CompareResult {
  readonly inputs: { input: string; kind: string; image: string; built: boolean; label: string }[];
  readonly label: string;
}

export function compareJson(result: CompareResult, prepared: readonly PreparedInput[], trace?: ParsedTrace): CompareJson {
  const withTrace = result.trace && trace ? { ...result, trace: { ...result.trace, format: trace.format, unresolved: trace.unresolved } } : result;
  return {
    ...withTrace,
    inputs: prepared.map((p) => ({ input: p.input, kind: p.kind, image: p.image, built: p.built, label: p.label })),
    label: pairLabel(prepared.map((p) => p.label)).replace('\n', ' '),
  };
}

function writeFileMkdir(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

export function writeChart(path: string, rows: readonly LabelledResult[]): void {
  const title = rows.length === 1 && rows[0].result.trace ? 'Page cache after replaying the trace' : 'Page cache after reading all files';
  writeFileMkdir(path, compareChartSvg(title, rows.map((r) => ({
    title: [...r.label.split('\n'), `policy ${r.result.policy}`],
    noShareBytes: r.result.noShare.pageCacheBytes,
    shareBytes: r.result.share.pageCacheBytes,
  }))));
}

export async function runCompareCommand(inputs: readonly string[], o: CompareCliOptions): Promise<void> {
  if (inputs.length < 2) throw new UsageError(`compare needs at least two images (got ${inputs.length})`);
  const w = await loadWorkers();
  const trace = o.trace !== undefined ? readTraceFile(w, o.trace) : undefined;
  const info = (s: string): void => { if (!o.json) process.stderr.write(`${s}\n`); };
  const prepared = await prepareInputs(inputs, { platform: o.platform, onBuild: (input, image) => info(`building ${image} from ${input}`) });
  const bar = phaseBar(!o.json);
  let result: CompareResult;
  try {
    result = await asUsage(w, () => w.runCompare({
      ...experimentOptions(prepared.map((p) => p.image), o, trace?.ops, bar.onProgress),
    }));
  } finally {
    bar.stop();
  }
  const doc = compareJson(result, prepared, trace);
  const row: LabelledResult = { label: pairLabel(prepared.map((p) => p.label)), names: prepared.map((p) => p.label), result };
  if (o.outJson !== undefined) writeFileMkdir(o.outJson, `${JSON.stringify(doc, null, 2)}\n`);
  if (o.chart !== undefined) writeChart(o.chart, [row]);
  if (o.json) {
    writeOut(`${JSON.stringify(doc, null, 2)}\n`);
    return;
  }
  const lines = [compareTable([row]), ...compareDetails(row)];
  if (trace && trace.unresolved > 0) lines.push(`trace: ${trace.unresolved} strace reads could not be tied to a file (fd opened before the trace began?)`);
  if (o.chart !== undefined) lines.push(`chart: ${o.chart}`);
  if (o.outJson !== undefined) lines.push(`json: ${o.outJson}`);
  writeOut(`${lines.join('\n')}\n`);
}

export function register(program: Command): void {
  program
    .command('compare')
    .summary('page cache used reading images without and with inode page-cache sharing')
    .description('Mount the images (EROFS images, or directories / tar archives / container images, which are built into\n'
      + '.cache/images/ or $ISHARE_CACHE first) without sharing, read every regular file with the\n'
      + 'worker pool (or replay --trace), record the page cache; then the same on a fresh kernel with\n'
      + 'inode_share. Prints the seed\'s table (memory in MiB = 2^20 bytes) and how sharing played out.\n'
      + 'Trace: "PATH OFFSET LENGTH" lines, or the output of strace -f -e trace=openat,read,pread64;\n'
      + 'each read is replayed in every image that has the path.')
    .argument('<images...>', 'two or more images, directories, tar archives or container images (OCI layout/archive, docker save)')
    .option('--workers <n>', 'reader threads, 1..64 (default: the machine\'s cores)', parseWorkers)
    .option('--policy <name>', 'real inode for shared reads: processing (v7 seed) or any (mainline)', parsePolicy, 'processing')
    .option('--domain <id>', 'domain_id: sharing happens only within one domain (default "ishare")', parseDomain)
    .option('--trace <file>', 'replay the reads of this trace instead of reading every file')
    .option('--verify', 'mount option verify: a file shares its page cache only once its content matches its fingerprint')
    .option('--pool-mib <n>', 'page pool size in MiB (default: sized from the data, at most 4096)', parsePoolMiB)
    .option('--platform <os/arch>', 'container image inputs: which image of a multi-platform index (os/arch[/variant])', parsePlatform)
    .option('--json', 'print one JSON object and nothing else')
    .option('--chart <file.svg>', 'also write a bar chart of the result')
    .option('--out-json <file>', 'also write the JSON result to a file')
    .action(async (images: string[], opts: CompareCliOptions) => runCompareCommand(images, opts));
}
