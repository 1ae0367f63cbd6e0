// The printed tables (cli-table3, the CLI's table library, loaded from the CLI package so the bench
// needs no dependency of its own) and the JSON results file.
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync, renameSync } from 'node:fs';
import { join, relative } from 'node:path';
import { REPO_ROOT } from './args.ts';
import type { ScenarioResult, RatioResult } from './stats.ts';

interface TableLike {
  push(...rows: (string | number)[][]): number;
  toString(): string;
}
type TableCtor = new (opts: {
  head: string[];
  colAligns?: ('left' | 'right' | 'center')[];
  style?: { head?: string[]; border?: string[] };
}) => TableLike;

function tableCtor(): TableCtor {
  const req = createRequire(join(REPO_ROOT, 'packages', 'cli', 'package.json'));
  return req('cli-table3') as TableCtor;
}

const fmt = (x: number | null | undefined, d = 1): string => (x === null || x === undefined ? '—' : x.toFixed(d));

export function scenarioTable(rs: readonly ScenarioResult[]): string {
  const Table = tableCtor();
  const t = new Table({
    head: ['scenario', 'threads', 'median MiB/s', 'min', 'max', 'median ms', 'MiB/CPU-s', 'other CPUs', 'samples'],
    colAligns: ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
    style: { head: [], border: [] },
  });
  for (const r of rs) {
    if (r.available) {
      t.push([
        r.id,
        String(r.threads),
        fmt(r.mibps?.median),
        fmt(r.mibps?.min),
        fmt(r.mibps?.max),
        fmt(r.medianMs, 1),
        fmt(r.mibPerCpuSecond, 0),
        fmt(r.busy?.otherCpus, 2),
        String(r.runsMs.length),
      ]);
    } else {
      t.push([r.id, String(r.threads), '—', '—', '—', '—', '—', '—', `0 (${r.reason})`]);
    }
  }
  return t.toString();
}

/** The ratio table; `scope` names what the samples are (bench/pool.ts: several runs pooled). */
export function ratioTable(rs: readonly RatioResult[], scope = 'this run'): string {
  const Table = tableCtor();
  const t = new Table({
    head: ['ratio of medians', 'what', 'MiB/s', 'target', 'verdict', '90% interval', 'paired', 'MiB/CPU-s'],
    colAligns: ['left', 'left', 'right', 'right', 'left', 'right', 'right', 'right'],
    style: { head: [], border: [] },
  });
  const x = (v: number | null | undefined): string => (v === null || v === undefined ? '—' : `${v.toFixed(2)}×`);
  const iv = (r: RatioResult): string => (r.interval ? `${r.interval[0].toFixed(2)}–${r.interval[1].toFixed(2)}` : '—');
  for (const r of rs)
    t.push([
      r.id,
      r.label,
      x(r.value),
      r.target === null ? '' : `≥ ${r.target}×`,
      r.verdict,
      iv(r),
      x(r.paired),
      x(r.cpuValue),
    ]);
  const misses = rs.filter((r) => r.verdict === 'MISS' && r.limit);
  // A target inside the interval: the run's own spread is wider than the distance to the line.
  const undecided = rs.filter(
    (r) => r.target !== null && r.interval && r.interval[0] < r.target && r.interval[1] >= r.target,
  );
  return (
    t.toString() +
    (misses.length
      ? `\n\nwhat limits each MISS (measured in ${scope}):\n${misses.map((r) => `  ${r.id}: ${r.limit}`).join('\n')}`
      : '') +
    (undecided.length
      ? `\n\ntargets inside their ratio's 90% interval (the samples of ${scope} spread wider than the distance to the line; the verdict could go either way):\n${undecided.map((r) => `  ${r.id}: ${r.verdict} at ${x(r.value)}, interval ${iv(r)}, paired ${x(r.paired)}`).join('\n')}`
      : '')
  );
}

/** Write <dir>/<ISO time>.json and <dir>/latest.json; returns the timestamped path. */
export function writeResults(dir: string, startedAt: string, json: unknown): string {
  mkdirSync(dir, { recursive: true });
  const text = `${JSON.stringify(json, null, 2)}\n`;
  const file = join(dir, `${startedAt.replace(/:/g, '-')}.json`);
  writeFileSync(file, text);
  // latest.json replaced whole: a reader never sees half of it.
  const tmp = join(dir, `.latest.json.tmp-${process.pid}`);
  writeFileSync(tmp, text);
  renameSync(tmp, join(dir, 'latest.json'));
  return file;
}

/** The commit measured, with `+changes` when the work tree differs from it; undefined outside a git checkout. */
function commitMeasured(): string | undefined {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    }).trim();
    return dirty === '' ? head : `${head}+changes`;
  } catch {
    return undefined;
  }
}

/**
 * Write the run's printed report as <dir>/<kind>.md (replaced whole): the command, when, which commit,
 * then exactly what the bench printed. Returns the path, relative to the repository when inside it.
 */
export function writeMarkdownReport(dir: string, kind: string, argv: readonly string[], text: string): string {
  mkdirSync(dir, { recursive: true });
  const commit = commitMeasured();
  const command = ['pnpm bench', ...argv].join(' ');
  const doc =
    `# \`${command}\`\n\n` +
    `Written by the bench at ${new Date().toISOString()}${commit !== undefined ? ` on commit \`${commit}\`` : ''}; ` +
    `what each figure means: [docs/benchmarks.md](../benchmarks.md). The run printed:\n\n` +
    `\`\`\`text\n${text.replace(/\n+$/, '')}\n\`\`\`\n`;
  const file = join(dir, `${kind}.md`);
  const tmp = join(dir, `.${kind}.md.tmp-${process.pid}`);
  writeFileSync(tmp, doc);
  renameSync(tmp, file);
  const rel = relative(REPO_ROOT, file);
  return rel.startsWith('..') ? file : rel;
}
