// `ishare read IMG...`: one side of the experiment. Mount the images (sharing or not), read every
// regular file with the worker pool (or replay a trace), and report the page cache, the device
// traffic and the cache hits.
import type { Command } from 'commander';
import type { RealInodePolicy } from '@ishare/core';
import type { ReadResult } from '@ishare/workers';
import { alignColumns } from '../format.ts';
import { writeOut } from '../output.ts';
import { table } from '../table.ts';
import { experimentOptions, layersOption, withExperimentOptions } from '../experiment-options.ts';
import { prepareInputs } from '../image-cache.ts';
import { asUsage, loadWorkers, readTraces } from '../experiment-run.ts';
import { phaseBar } from '../experiment-progress.ts';
import { metadataLine, mib } from '../compare-report.ts';

interface ReadCliOptions {
  platform?: string;
  layout?: 'flat' | 'layers' | 'fsmeta';
  workers?: number;
  poolMib?: number;
  share?: boolean;
  domain?: string;
  policy: RealInodePolicy;
  verify?: boolean;
  superblockShare?: boolean;
  fincore?: boolean;
  trace?: string[];
  json?: boolean;
}

/** A size as util-linux's fincore prints it (size_to_human_string, one-letter suffix): 0B, 4K, 1.2M. */
export function fincoreSize(n: number): string {
  const units = ['B', 'K', 'M', 'G', 'T', 'P'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  if (i === 0) return `${n}B`;
  const r = Math.round(v * 10) / 10;
  return `${Number.isInteger(r) ? r.toFixed(0) : r.toFixed(1)}${units[i]}`;
}

/** fincore(1)'s table (RES PAGES SIZE FILE) over every image's files; FILE is NAME:/path. */
export function fincoreReport(r: ReadResult, names: readonly string[]): string[] {
  const rows: string[][] = [['RES', 'PAGES', 'SIZE', 'FILE']];
  r.perImage.forEach((x, i) => {
    for (const f of x.fincore ?? [])
      rows.push([fincoreSize(f.res), String(f.pages), fincoreSize(f.size), `${names[i] ?? x.image}:${f.file}`]);
  });
  return alignColumns(rows, new Set([0, 1, 2]));
}

export function readReport(r: ReadResult, names: readonly string[]): string[] {
  const what = r.trace ? `${r.trace.replayed} trace reads` : `${r.files} files`;
  const lines = [
    `read ${r.images.length} image${r.images.length === 1 ? '' : 's'} with ${r.workers} worker${r.workers === 1 ? '' : 's'}, ` +
      `sharing ${r.inodeShare ? `on (policy ${r.policy}, domain ${JSON.stringify(r.domainId)})` : 'off'}: ` +
      `${what}, ${mib(r.bytes)} MiB in ${Math.round(r.elapsedMs)} ms`,
    `page cache   ${mib(r.pageCacheBytes)} MiB (${r.filePages} pages; ${mib(r.sharedPageCacheBytes)} MiB in shared inodes)`,
    `device       ${mib(r.deviceBytes)} MiB (${r.devicePages} pages in ${r.deviceReads} reads)`,
    `lookups      ${r.hits} hits, ${r.misses} misses`,
    ...(r.pclustersDecoded > 0
      ? [
          `compressed   ${r.pclustersDecoded} pclusters decoded, ${r.pclusterWaits} waits on another thread's decode, ${r.pclusterAttach} attached to it (decoded nothing)`,
        ]
      : []),
    `metadata     ${metadataLine(r.metadata)}${r.superblockShare ? ' (superblock_share)' : ''}`,
  ];
  if (r.inodeShare) {
    lines.push(
      `sharing      ${r.sharedInodes} shared inodes, ${r.filesShared} inodes attached (${r.inodesJoined} joined a page cache another inode filled), ` +
        `${r.sizeMismatch} size-mismatch refusals, ${r.dataPathMismatch} data-path-mismatch refusals, ${r.badFingerprint} malformed-fingerprint refusals; real inode from processing ${r.realInodeFromProcessing}, from backing ${r.realInodeFromBacking}`,
    );
  }
  if (r.verify)
    lines.push(
      `verify       ${r.verifiedJoins} files proved their content before sharing, ${r.verifyRefusals} refused (content does not match the fingerprint)`,
    );
  if (r.trace && r.trace.missingOps > 0)
    lines.push(`trace        ${r.trace.missingOps} reads of ${r.trace.missingPaths} paths found in no image (skipped)`);
  const t = table(['image', 'files', 'read (MiB)', 'device pages', 'into shared']);
  r.perImage.forEach((x, i) =>
    t.push([names[i] ?? x.image, x.files, mib(x.bytes), x.pages, x.sharedPages].map(String)),
  );
  lines.push(t.toString());
  for (const x of r.perImage) if (x.warning) lines.push(`warning: ${x.warning}`);
  lines.push('MiB = 2^20 bytes; device pages per image exclude inline tails');
  if (r.perImage.some((x) => x.fincore)) {
    lines.push('', 'fincore after the reads (a shared file shows its shared page cache):');
    lines.push(...fincoreReport(r, names));
  }
  return lines;
}

export async function runReadCommand(inputs: readonly string[], o: ReadCliOptions): Promise<void> {
  const w = await loadWorkers();
  const traces = readTraces(w, o.trace, inputs);
  const prepared = await prepareInputs(inputs, { platform: o.platform, progress: !o.json, layout: o.layout });
  const bar = phaseBar(!o.json);
  const base = experimentOptions(
    prepared.map((p) => p.image),
    o,
    traces?.options,
    bar.onProgress,
  );
  let r: ReadResult;
  try {
    r = await asUsage(w, () =>
      w.runRead({
        ...base,
        ...layersOption(prepared, base.devices),
        inodeShare: o.share ?? false,
        ...(o.fincore ? { fincore: true } : {}),
      }),
    );
  } finally {
    bar.stop();
  }
  if (o.json) {
    writeOut(
      `${JSON.stringify({ ...r, inputs: prepared.map((p) => ({ input: p.input, kind: p.kind, image: p.image, built: p.built, label: p.label, ...(p.layers ? { layers: p.layers } : {}), ...(p.devices ? { devices: p.devices } : {}) })) }, null, 2)}\n`,
    );
    return;
  }
  writeOut(
    `${readReport(
      r,
      prepared.map((p) => p.label),
    ).join('\n')}\n`,
  );
}

export function register(program: Command): void {
  const cmd = program
    .command('read')
    .summary('mount images, read every file with the worker pool, report the page cache')
    .description(
      'Mount the images (EROFS images, or directories / tar archives / container images built into the cache first), ' +
        'read every regular file with the worker pool (or replay --trace) and report the page cache ' +
        '(what fincore would sum), the device traffic and the cache lookups. --share mounts with inode_share.',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  ishare read app.img\n  ishare read --share --fincore v1.img v2.img\n  ishare read --share --json v1.img v2.img ./v3-rootfs > read.json',
    )
    .argument('<images...>', 'images, directories, tar archives or container images (OCI layout/archive, docker save)')
    .option('--share', 'mount with inode_share (content-fingerprint page-cache sharing)')
    .option(
      '--fincore',
      "after the reads, list each file's resident pages as fincore(1) does (RES PAGES SIZE FILE; --json: perImage[].fincore)",
    );
  withExperimentOptions(
    cmd,
    'replay the reads of this trace instead of reading every file; IMG=FILE gives one image its own trace (repeatable)',
  )
    .option('--json', 'print one JSON object and nothing else')
    .action(async (images: string[], opts: ReadCliOptions) => runReadCommand(images, opts));
}
