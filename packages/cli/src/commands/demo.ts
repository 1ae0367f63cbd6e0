// `ishare demo`: the project's opening act on bundled data — two adjacent releases of a real package.
// Builds (or reuses) one image per release, inspects both, proves every file reads back equal to its
// source, counts files identical across releases, and then runs the seed's experiment on the pair:
// the page cache of reading every file without and with inode page-cache sharing, under both
// real-inode policies, written to out/compare.json and out/compare.svg.
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Command } from 'commander';
import type { ErofsImage } from '../engine.ts';
import { CheckFailed } from '../errors.ts';
import { openImage } from '../image.ts';
import { subtree } from '../walk.ts';
import { humanBytes } from '../format.ts';
import { inspectImage, type InspectReport } from './inspect.ts';
import { writeOut } from '../output.ts';
import { table as newTable } from '../table.ts';
import { BUNDLED_RELEASES, REPO_ROOT, packageDir } from '../bundled.ts';
import { defaultCacheDir, prepareInputs } from '../image-cache.ts';
import type { RealInodePolicy } from '@ishare/core';
import { loadWorkers, asUsage } from '../experiment-run.ts';
import { phaseBar } from '../experiment-progress.ts';
import { parseDomain } from '../experiment-options.ts';
import { compareDetails, compareTable, pairLabel, type LabelledResult } from '../compare-report.ts';
import { compareJson, writeChart, type CompareJson } from './compare.ts';

const RELEASES = BUNDLED_RELEASES;

interface SourceFile {
  sha256: string;
  size: number;
}
interface Source {
  name: string;
  dir: string;
  files: Map<string, SourceFile>;
  symlinks: Map<string, string>;
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Read the source tree once: contents hash per file and symlink targets, to verify the image against. */
function scanSource(name: string): Source {
  const dir = packageDir(name);
  const files = new Map<string, SourceFile>();
  const symlinks = new Map<string, string>();
  const walk = (abs: string): void => {
    for (const entry of readdirSync(abs).sort()) {
      const p = join(abs, entry);
      const rel = relative(dir, p);
      const st = lstatSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isSymbolicLink()) symlinks.set(rel, readlinkSync(p));
      else if (st.isFile()) files.set(rel, { sha256: sha256(readFileSync(p)), size: st.size });
    }
  };
  walk(dir);
  return { name, dir, files, symlinks };
}

interface Verification {
  files: number;
  bytes: number;
  problems: string[];
  /** fingerprint → file size, as the image records them. */
  fingerprints: Map<string, number>;
}

/** Every file and symlink in the image against the source tree, and nothing missing or extra. */
function verify(img: ErofsImage, source: Source): Verification {
  const problems: string[] = [];
  const seenFiles = new Set<string>();
  const fingerprints = new Map<string, number>();
  let bytes = 0;
  for (const n of subtree(img, '/', img.root())) {
    if (n.inode.type === 'file') {
      seenFiles.add(n.rel);
      const want = source.files.get(n.rel);
      const data = img.readFile(n.inode);
      bytes += data.byteLength;
      const fp = img.fingerprint(n.inode);
      if (fp !== undefined) fingerprints.set(fp, n.inode.size);
      if (!want) problems.push(`${n.path}: in the image but not in the source`);
      else if (sha256(data) !== want.sha256) problems.push(`${n.path}: contents differ from the source`);
    } else if (n.inode.type === 'symlink') {
      const want = source.symlinks.get(n.rel);
      if (want !== img.readlink(n.inode)) problems.push(`${n.path}: symlink target differs from the source`);
    }
  }
  for (const rel of source.files.keys()) if (!seenFiles.has(rel)) problems.push(`/${rel}: missing from the image`);
  return { files: seenFiles.size, bytes, problems, fingerprints };
}

function releaseLabel(name: string): string {
  return name.replace(/^typescript-/, 'typescript ');
}

interface DemoOptions {
  json?: boolean;
  cacheDir?: string;
  outDir?: string;
  domain?: string;
}

const POLICIES: readonly { policy: RealInodePolicy; what: string }[] = [
  { policy: 'processing', what: 'the v7 seed: the real inode is one whose read is in flight, else any' },
  { policy: 'any', what: 'mainline: the first backing inode that can be grabbed' },
];

/** The seed's experiment on the built pair, once per policy; tables printed, files written. */
async function measure(
  results: readonly { name: string; image: string; reused: boolean; source: Source }[],
  outDir: string,
  json: boolean,
  say: (s: string) => void,
  domainId?: string,
): Promise<{ byPolicy: Record<string, CompareJson>; files: { json: string; svg: string } }> {
  const w = await loadWorkers();
  const prepared = results.map((r) => ({
    input: r.source.dir,
    kind: 'dir' as const,
    image: r.image,
    built: !r.reused,
    label: r.name,
  }));
  const label = pairLabel(results.map((r) => r.name));
  const rows: LabelledResult[] = [];
  const byPolicy: Record<string, CompareJson> = {};
  for (const { policy, what } of POLICIES) {
    const bar = phaseBar(!json, `policy ${policy}: `);
    let result;
    try {
      result = await asUsage(w, () =>
        w.runCompare({
          images: prepared.map((p) => p.image),
          policy,
          ...(domainId !== undefined ? { domainId } : {}),
          ...(bar.onProgress ? { onProgress: bar.onProgress } : {}),
        }),
      );
    } finally {
      bar.stop();
    }
    const row: LabelledResult = { label, names: results.map((r) => r.name), result };
    rows.push(row);
    byPolicy[policy] = compareJson(result, prepared);
    say('');
    say(`memory after reading every file of both images — policy ${policy} (${what}):`);
    say(compareTable([row]));
    for (const line of compareDetails(row)) say(line);
  }
  mkdirSync(outDir, { recursive: true });
  const files = { json: join(outDir, 'compare.json'), svg: join(outDir, 'compare.svg') };
  writeFileSync(files.json, `${JSON.stringify(byPolicy, null, 2)}\n`);
  writeChart(files.svg, rows);
  return { byPolicy, files };
}

export async function runDemo(opts: DemoOptions): Promise<void> {
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  const say = (s: string): void => {
    if (!opts.json) writeOut(`${s}\n`);
  };
  say(`ishare demo: two adjacent releases of a real package (${RELEASES.map(releaseLabel).join(' and ')})`);

  const results: {
    name: string;
    image: string;
    reused: boolean;
    report: InspectReport;
    check: Verification;
    source: Source;
  }[] = [];
  for (const name of RELEASES) {
    const source = scanSource(name);
    // The same content-keyed cache compare, stress and bench use: one image per source tree.
    const [prepared] = await prepareInputs([source.dir], { cacheDir, progress: !opts.json });
    const { image } = prepared;
    const reused = !prepared.built;
    say(
      `${reused ? 'reused' : 'built '} ${relative(process.cwd(), image) || image}  (from ${relative(REPO_ROOT, source.dir)})`,
    );
    const img = openImage(image);
    try {
      results.push({ name, image, reused, report: inspectImage(img, image), check: verify(img, source), source });
    } finally {
      img.close();
    }
  }

  const table = newTable([
    'release',
    'files',
    'dirs',
    'symlinks',
    'file data',
    'image',
    'fingerprinted',
    'read back = source',
  ]);
  for (const r of results) {
    table.push(
      [
        releaseLabel(r.name),
        r.report.counts.files,
        r.report.counts.dirs,
        r.report.counts.symlinks,
        humanBytes(r.report.dataBytes),
        humanBytes(r.report.imageBytes),
        r.report.fingerprinted,
        r.check.problems.length === 0 ? `all ${r.check.files} (sha256)` : `${r.check.problems.length} MISMATCHES`,
      ].map(String),
    );
  }
  say(table.toString());

  // Same path, same bytes: what a reader of both releases would otherwise cache twice.
  const [a, b] = results;
  let identical = 0;
  let identicalBytes = 0;
  for (const [rel, fa] of a.source.files) {
    const fb = b.source.files.get(rel);
    if (fb && fb.sha256 === fa.sha256) {
      identical++;
      identicalBytes += fa.size;
    }
  }
  const total = b.source.files.size;
  say(
    `${identical} of ${total} files are byte-identical between ${releaseLabel(a.name)} and ${releaseLabel(b.name)} ` +
      `(${humanBytes(identicalBytes)} of ${humanBytes(b.report.dataBytes)} of file data)`,
  );
  // What the images themselves say: one page cache per distinct fingerprint is all sharing needs.
  const union = new Map([...a.check.fingerprints, ...b.check.fingerprints]);
  const distinctBytes = [...union.values()].reduce((x, y) => x + y, 0);
  const allBytes = a.report.dataBytes + b.report.dataBytes;
  say(
    `distinct fingerprints across both images: ${union.size} for ${a.report.counts.files + b.report.counts.files} files; ` +
      `file data ${humanBytes(allBytes)} in all, ${humanBytes(distinctBytes)} of distinct content (bytes; the page cache below counts whole pages)`,
  );

  const problems = results.flatMap((r) => r.check.problems.map((p) => `${r.name}${p}`));
  // Measuring images that do not hold their sources would be measuring the wrong thing.
  const measured =
    problems.length === 0
      ? await measure(results, opts.outDir ?? join(REPO_ROOT, 'out'), opts.json === true, say, opts.domain)
      : undefined;
  if (measured) {
    say('');
    say(
      `wrote ${relative(process.cwd(), measured.files.json) || measured.files.json} and ${relative(process.cwd(), measured.files.svg) || measured.files.svg}`,
    );
  }

  if (opts.json) {
    writeOut(
      `${JSON.stringify(
        {
          releases: results.map((r) => ({
            name: r.name,
            image: r.image,
            reused: r.reused,
            inspect: r.report,
            verifiedFiles: r.check.files,
            problems: r.check.problems,
          })),
          identicalFiles: identical,
          identicalBytes,
          totalFiles: total,
          distinctFingerprints: union.size,
          dataBytesNoShare: allBytes,
          dataBytesShared: distinctBytes,
          ...(measured ? { compare: measured.byPolicy, outputs: measured.files } : {}),
        },
        null,
        2,
      )}\n`,
    );
  }
  if (problems.length > 0) {
    for (const p of problems.slice(0, 20)) process.stderr.write(`  ${p}\n`);
    throw new CheckFailed(
      `${problems.length} file${problems.length === 1 ? '' : 's'} did not read back equal to their source`,
    );
  }
}

export function register(program: Command): void {
  program
    .command('demo')
    .summary('the memory experiment on two adjacent typescript releases')
    .description(
      'Build EROFS images of the bundled typescript 5.6.2 and 5.6.3 packages (cached, rebuilt when ' +
        'the source or the writer changes), inspect both, check every file reads back equal to its source ' +
        '(sha256), and count the files that are byte-identical between the releases. Then run `ishare compare` ' +
        'on the pair under both real-inode policies (processing, any): the page cache of reading every file ' +
        "without and with inode page-cache sharing, as the seed's table, saved to out/compare.json and " +
        'out/compare.svg.\n\n' +
        'Exits 1 if any file does not read back equal (and then measures nothing).',
    )
    .addHelpText('after', '\nExamples:\n  ishare demo\n  ishare demo --json --out-dir /tmp/ishare-demo > demo.json')
    .option('--json', 'print the results as one JSON object')
    .option(
      '--cache-dir <dir>',
      'where the images are kept (default: .cache/images in the repository, or $ISHARE_CACHE)',
    )
    .option('--out-dir <dir>', 'where compare.json and compare.svg go (default: out/ in the repository)')
    .option('--domain <id>', 'domain_id both images are mounted with (default "ishare")', parseDomain)
    .action(async (opts: DemoOptions) => runDemo(opts));
}
