// `ishare compare IMG IMG...`: the seed's experiment. Mount the images without and then with inode
// page-cache sharing, read every regular file (or replay a trace) with the worker pool, and print the
// page cache each way. Inputs may be directories, tar archives or container images: their images are built (once) into
// the cache.
import type { Command } from 'commander';
import type { RealInodePolicy } from '@ishare/core';
import type { CompareResult } from '@ishare/workers';
import { UsageError } from '../errors.ts';
import { writeOut } from '../output.ts';
import { experimentOptions, layersOption, withExperimentOptions } from '../experiment-options.ts';
import { prepareInputs, type PreparedInput } from '../image-cache.ts';
import { asUsage, loadWorkers, readTraces, type RunTraces } from '../experiment-run.ts';
import { phaseBar } from '../experiment-progress.ts';
import { compareDetails, compareTable, pairLabel, type LabelledResult } from '../compare-report.ts';
import { compareChartSvg } from '../chart.ts';
import { checkOutputFile, writeOutputFile } from '../output-files.ts';

export interface CompareCliOptions {
  platform?: string;
  layout?: 'flat' | 'layers' | 'fsmeta';
  workers?: number;
  policy: RealInodePolicy;
  domain?: string;
  trace?: string[];
  poolMib?: number;
  verify?: boolean;
  superblockShare?: boolean;
  json?: boolean;
  chart?: string;
  outJson?: string;
}

/** The JSON document: the experiment's result plus where each image came from. */
export interface CompareJson extends CompareResult {
  readonly inputs: {
    input: string;
    kind: string;
    image: string;
    built: boolean;
    label: string;
    layers?: readonly string[];
    /** --layout fsmeta: `image` is the fsmeta, these its devices (the layer blobs, table order). */
    devices?: readonly string[];
  }[];
  /** Container inputs' layout (--layout). */
  readonly layout: string;
  readonly label: string;
}

/** What the JSON says about the trace files beyond the experiment's summary: their format(s) and unresolved strace lines. */
export function traceFiles(traces: RunTraces): {
  format: string;
  unresolved: number;
  files: { file: string; format: string; ops: number; unresolved: number }[];
} {
  const formats = [...new Set(traces.parsed.map((p) => p.trace.format))];
  return {
    format: formats.length === 1 ? formats[0] : formats.join('+'),
    unresolved: traces.parsed.reduce((s, p) => s + p.trace.unresolved, 0),
    files: traces.parsed.map((p) => ({
      file: p.file,
      format: p.trace.format,
      ops: p.trace.ops.length,
      unresolved: p.trace.unresolved,
    })),
  };
}

export function compareJson(
  result: CompareResult,
  prepared: readonly PreparedInput[],
  traces?: RunTraces,
): CompareJson {
  const withTrace = result.trace && traces ? { ...result, trace: { ...result.trace, ...traceFiles(traces) } } : result;
  return {
    ...withTrace,
    inputs: prepared.map((p) => ({
      input: p.input,
      kind: p.kind,
      image: p.image,
      built: p.built,
      label: p.label,
      ...(p.layers ? { layers: p.layers } : {}),
      ...(p.devices ? { devices: p.devices } : {}),
    })),
    layout: prepared.some((p) => p.layers) ? 'layers' : prepared.some((p) => p.devices) ? 'fsmeta' : 'flat',
    label: pairLabel(prepared.map((p) => p.label)).replace('\n', ' '),
  };
}

export function writeChart(path: string, rows: readonly LabelledResult[]): void {
  const title =
    rows.length === 1 && rows[0].result.trace
      ? 'Page cache after replaying the trace'
      : 'Page cache after reading all files';
  writeOutputFile(
    path,
    compareChartSvg(
      title,
      rows.map((r) => ({
        title: [...r.label.split('\n'), `policy ${r.result.policy}`],
        noShareBytes: r.result.noShare.pageCacheBytes,
        shareBytes: r.result.share.pageCacheBytes,
      })),
    ),
  );
}

export async function runCompareCommand(inputs: readonly string[], o: CompareCliOptions): Promise<void> {
  if (inputs.length < 2) throw new UsageError(`compare needs at least two images (got ${inputs.length})`);
  // Before minutes of work, not after.
  if (o.chart !== undefined) checkOutputFile(o.chart, '--chart');
  if (o.outJson !== undefined) checkOutputFile(o.outJson, '--out-json');
  const w = await loadWorkers();
  const traces = readTraces(w, o.trace, inputs);
  // Builds show a bar on a terminal and nothing elsewhere: a failed run's stderr is its one error line.
  const prepared = await prepareInputs(inputs, { platform: o.platform, progress: !o.json, layout: o.layout });
  const bar = phaseBar(!o.json);
  const base = experimentOptions(
    prepared.map((p) => p.image),
    o,
    traces?.options,
    bar.onProgress,
  );
  let result: CompareResult;
  try {
    result = await asUsage(w, () =>
      w.runCompare({
        ...base,
        ...layersOption(prepared, base.devices),
      }),
    );
  } finally {
    bar.stop();
  }
  const doc = compareJson(result, prepared, traces);
  const row: LabelledResult = {
    label: pairLabel(prepared.map((p) => p.label)),
    names: prepared.map((p) => p.label),
    result,
  };
  if (o.outJson !== undefined) writeOutputFile(o.outJson, `${JSON.stringify(doc, null, 2)}\n`);
  if (o.chart !== undefined) writeChart(o.chart, [row]);
  if (o.json) {
    writeOut(`${JSON.stringify(doc, null, 2)}\n`);
    return;
  }
  const lines = [compareTable([row]), ...compareDetails(row)];
  const unresolved = traces ? traceFiles(traces).unresolved : 0;
  if (unresolved > 0)
    lines.push(`trace: ${unresolved} strace reads could not be tied to a file (fd opened before the trace began?)`);
  if (o.chart !== undefined) lines.push(`chart: ${o.chart}`);
  if (o.outJson !== undefined) lines.push(`json: ${o.outJson}`);
  writeOut(`${lines.join('\n')}\n`);
}

export function register(program: Command): void {
  const cmd = program
    .command('compare')
    .summary('page cache used reading images without and with inode page-cache sharing')
    .description(
      'Mount the images (EROFS images, or directories / tar archives / container images, which are built into ' +
        '.cache/images/ or $ISHARE_CACHE first) without sharing, read every regular file with the ' +
        'worker pool (or replay --trace), record the page cache; then the same on a fresh kernel with ' +
        "inode_share. Prints the seed's table (memory in MiB = 2^20 bytes) and how sharing played out. " +
        'Trace: "PATH OFFSET LENGTH" lines, or the output of strace -f -e trace=openat,read,pread64; ' +
        'each read is replayed in every image that has the path, or with --trace IMG=FILE in that image only.',
    )
    .argument(
      '<images...>',
      'two or more images, directories, tar archives or container images (OCI layout/archive, docker save)',
    );
  withExperimentOptions(
    cmd,
    'replay the reads of this trace instead of reading every file; IMG=FILE gives one image its own trace (repeatable: one container per image, as the seed runs them)',
  )
    .option('--json', 'print one JSON object and nothing else')
    .option('--chart <file.svg>', 'also write a bar chart of the result')
    .option('--out-json <file>', 'also write the JSON result to a file')
    .addHelpText(
      'after',
      '\nExamples:\n  ishare compare v1.img v2.img\n  docker save -o a.tar redis:7.2.4; docker save -o b.tar redis:7.2.5\n  ishare compare a.tar b.tar\n  ishare compare --policy any --chart pair.svg ./rootfs-v1 ./rootfs-v2',
    )
    .action(async (images: string[], opts: CompareCliOptions) => runCompareCommand(images, opts));
}
