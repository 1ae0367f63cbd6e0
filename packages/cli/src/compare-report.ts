// The compare result as people read it: the seed's table (image pair, page cache share No/Yes, memory,
// reduction) and the lines that explain it (shared inodes, refusals, which image's device filled the
// shared caches). Pure: results in, text out.
import { table } from './table.ts';
import type { CompareResult, PhaseStats } from '@ishare/workers';
import type { KernelMetadata } from '@ishare/core';

const MiB = 1024 * 1024;

export function mib(bytes: number): string {
  return (bytes / MiB).toFixed(1);
}

/** Reduction of `share` against `noShare` in percent, one decimal; computed from bytes, not from rounded MiB. */
export function reductionText(noShare: number, share: number): string {
  if (noShare <= 0) return '-';
  return `${((1 - share / noShare) * 100).toFixed(1)}%`;
}

/**
 * Two lines for the Image column, as the seed writes "redis" over "7.2.4 & 7.2.5": the common name
 * (up to a - _ or space) over the differing rest; just the names joined when they share no name.
 */
export function pairLabel(labels: readonly string[]): string {
  if (labels.length === 0) return '';
  let prefix = labels[0];
  for (const l of labels) while (!l.startsWith(prefix)) prefix = prefix.slice(0, -1);
  const cut = Math.max(prefix.lastIndexOf('-'), prefix.lastIndexOf('_'), prefix.lastIndexOf(' '));
  if (cut <= 0 || labels.some((l) => l.length === cut + 1)) return labels.join(' & ');
  return `${labels[0].slice(0, cut)}\n${labels.map((l) => l.slice(cut + 1)).join(' & ')}`;
}

export interface LabelledResult {
  /** Image column text (see pairLabel). */
  readonly label: string;
  /** Short names of the images, in order (for the per-image lines). */
  readonly names: readonly string[];
  readonly result: CompareResult;
}

/** The seed's table, one pair of rows per result. */
export function compareTable(rows: readonly LabelledResult[]): string {
  const t = table(undefined, { colAligns: ['center', 'center', 'center', 'center'] });
  t.push([
    { content: 'Image', vAlign: 'top' },
    { content: 'Page Cache Share', vAlign: 'top' },
    { content: 'Memory (MiB)', vAlign: 'top' },
    { content: 'Memory\nReduction (%)', vAlign: 'top' },
  ]);
  for (const { label, result } of rows) {
    t.push([{ content: label, rowSpan: 2, vAlign: 'center' }, 'No', mib(result.noShare.pageCacheBytes), '-']);
    t.push([
      'Yes',
      mib(result.share.pageCacheBytes),
      reductionText(result.noShare.pageCacheBytes, result.share.pageCacheBytes),
    ]);
  }
  return t.toString();
}

function what(r: CompareResult, p: PhaseStats): string {
  if (r.trace) {
    return (
      `replayed a trace of ${r.trace.ops} reads (${r.trace.replayed} across the images` +
      `${r.trace.missingOps > 0 ? `; ${r.trace.missingOps} reads of ${r.trace.missingPaths} paths in no image, skipped` : ''})`
    );
  }
  return `read every regular file (${p.files} files, ${mib(p.bytes)} MiB)`;
}

/** One line of what the kernel held beside the page cache in one phase. */
export function metadataLine(m: KernelMetadata): string {
  return (
    `${m.superblocks} superblock${m.superblocks === 1 ? '' : 's'} for ${m.mounts} mount${m.mounts === 1 ? '' : 's'}, ` +
    `${m.inodes} inodes (${m.sharedInodes} shared), ${m.dentries} dentries, ${m.threadStates} thread states, ` +
    `arena control ${(m.arenaControlBytes / 1024).toFixed(1)} KiB`
  );
}

/** The lines under the table: what was measured and how sharing played out. */
export function compareDetails(row: LabelledResult): string[] {
  const r = row.result;
  const s = r.share;
  const served = (p: PhaseStats): string =>
    p.perImage.map((x, i) => `${row.names[i] ?? x.image} ${x.pages}`).join(', ');
  const lines = [
    `policy ${r.policy}, ${r.workers} worker${r.workers === 1 ? '' : 's'}, pool ${Math.round(r.poolBytes / MiB)} MiB, ` +
      `domain ${JSON.stringify(r.domainId)}; ${what(r, r.noShare)}`,
    `shared inodes ${s.sharedInodes}, inodes attached ${s.filesShared} (${s.inodesJoined} joined a page cache another inode filled), ` +
      `size-mismatch refusals ${s.sizeMismatch}, data-path-mismatch refusals ${s.dataPathMismatch}, malformed-fingerprint refusals ${s.badFingerprint}` +
      (s.verify ? `; verify: ${s.verifiedJoins} files proved their content, ${s.verifyRefusals} refused` : ''),
    `real inode for shared reads: from the processing list ${s.realInodeFromProcessing}, from the backing list ${s.realInodeFromBacking}`,
    `device pages served (inline tails excluded): no share ${served(r.noShare)}; share ${served(s)}`,
    `page cache: no share ${mib(r.noShare.pageCacheBytes)} MiB, share ${mib(s.pageCacheBytes)} MiB ` +
      `(${mib(s.sharedPageCacheBytes)} MiB in shared inodes); MiB = 2^20 bytes`,
    `metadata${r.noShare.superblockShare ? ' (superblock_share)' : ''}: no share ${metadataLine(r.noShare.metadata)}; ` +
      `share ${metadataLine(s.metadata)}`,
  ];
  const z = (p: PhaseStats): string =>
    `${p.pclustersDecoded} pclusters decoded, ${p.pclusterWaits} waits, ${p.pclusterAttach} attached`;
  if (r.noShare.pclustersDecoded + s.pclustersDecoded > 0)
    lines.push(
      `compressed: no share ${z(r.noShare)}; share ${z(s)} (an attach: a wait for another thread's decode that decoded nothing)`,
    );
  for (const x of s.perImage) if (x.warning) lines.push(`warning: ${x.warning}`);
  return lines;
}
