// `ishare compare` and `ishare read` as a user runs them: directories, tars and images as inputs (trees
// built once through the image cache), one JSON object on stdout with --json, the seed's table
// otherwise, the chart and JSON files, traces, and exit 2 with one line for every bad option.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MAX_POOL_MIB as WORKERS_MAX_POOL_MIB, MAX_WORKERS as WORKERS_MAX_WORKERS, parseTrace } from '@ishare/workers';
import { ishare, json, isOneErrorLine } from './helpers/run.ts';
import {
  buildPair,
  expectedNoShare,
  expectedShare,
  expectedTouched,
  expectedTouchedEach,
  type Pair,
} from '../../workers/test/helpers/pair-trees.ts';
import { RANGES } from '../../workers/test/helpers/traces.ts';
import { removeDir } from '../../../test/helpers/trees.ts';
import { upstreamTool } from '../../../test/helpers/erofs-utils.ts';
import { MAX_POOL_MIB, MAX_WORKERS } from '../src/experiment-options.ts';
import type { CompareJson } from '../src/commands/compare.ts';

let pair: Pair;
let cache = '';
let env: NodeJS.ProcessEnv = {};
test.before(async () => {
  pair = await buildPair();
  cache = join(pair.dir, 'cache');
  env = { ISHARE_CACHE: cache };
});
test.after.always(() => {
  if (pair) removeDir(pair.dir);
});

test("the CLI limits are the experiment's", (t) => {
  t.is(MAX_WORKERS, WORKERS_MAX_WORKERS);
  t.is(MAX_POOL_MIB, WORKERS_MAX_POOL_MIB);
});

test.serial(
  'compare DIR DIR --json: exactly one JSON object with the figures the trees dictate; a second run reuses the images',
  async (t) => {
    const r = await ishare(['compare', pair.srcs[0], pair.srcs[1], '--json', '--workers', '2'], env);
    t.is(r.status, 0, r.stderr);
    t.is(r.stderr, '', 'nothing on stderr in --json mode without a terminal');
    const d = json<CompareJson>(r);
    t.true(typeof d === 'object' && d !== null && !Array.isArray(d));
    t.is(r.text.trim(), JSON.stringify(d, null, 2), 'stdout is that one object and nothing else');
    t.is(d.noShare.pageCacheBytes, expectedNoShare(pair.srcs));
    t.is(d.share.pageCacheBytes, expectedShare(pair.srcs));
    t.is(d.reductionPercent, Math.round((1 - d.share.pageCacheBytes / d.noShare.pageCacheBytes) * 10000) / 100);
    for (const k of ['devicePages', 'deviceBytes', 'hits', 'misses', 'files', 'bytes', 'elapsedMs'] as const)
      t.is(typeof d.noShare[k], 'number', k);
    for (const k of [
      'sharedPageCacheBytes',
      'sharedInodes',
      'filesShared',
      'sizeMismatch',
      'dataPathMismatch',
      'realInodeFromProcessing',
      'realInodeFromBacking',
    ] as const)
      t.is(typeof d.share[k], 'number', k);
    t.is(d.policy, 'processing');
    t.is(d.workers, 2);
    t.is(d.servedBy.length, 2);
    t.deepEqual(
      d.inputs.map((i) => [i.kind, i.built, i.label]),
      [
        ['dir', true, 'app-1.0'],
        ['dir', true, 'app-1.1'],
      ],
    );
    t.is(d.label, 'app 1.0 & 1.1');
    t.true(d.inputs.every((i) => i.image.startsWith(cache) && existsSync(i.image)));

    const again = json<CompareJson>(
      await ishare(['compare', pair.srcs[0], pair.srcs[1], '--json', '--workers', '2', '--policy', 'any'], env),
    );
    t.deepEqual(
      again.inputs.map((i) => i.built),
      [false, false],
    );
    t.deepEqual(
      again.inputs.map((i) => i.image),
      d.inputs.map((i) => i.image),
    );
    t.is(again.share.pageCacheBytes, d.share.pageCacheBytes, 'both policies give the same figure');
    t.is(again.policy, 'any');
  },
);

test.serial('tar archives and images are inputs too, with the same figures', async (t) => {
  const tars = pair.srcs.map((s, i) => {
    const tar = join(pair.dir, `v${i}.tar`);
    execFileSync('tar', ['-C', s, '-cf', tar, '.']);
    return tar;
  });
  const gz = join(pair.dir, 'v1.tar.gz');
  execFileSync('tar', ['-C', pair.srcs[1], '-czf', gz, '.']);
  const r = await ishare(['compare', tars[0], gz, '--json'], env);
  t.is(r.status, 0, r.stderr);
  const d = json<CompareJson>(r);
  t.deepEqual(
    d.inputs.map((i) => i.kind),
    ['tar', 'tar'],
  );
  t.is(d.noShare.pageCacheBytes, expectedNoShare(pair.srcs));
  t.is(d.share.pageCacheBytes, expectedShare(pair.srcs));
  // A prebuilt image beside a tree.
  const mixed = json<CompareJson>(await ishare(['compare', pair.images[0], tars[1], '--json'], env));
  t.deepEqual(
    mixed.inputs.map((i) => i.kind),
    ['image', 'tar'],
  );
  t.is(mixed.share.pageCacheBytes, expectedShare(pair.srcs));
  t.is(
    readdirSync(cache).filter((f) => f.endsWith('.img')).length,
    5,
    'two dirs, two tars, one gzipped tar: one image each',
  );
});

test.serial("the table: the seed's columns in MiB, the details, the chart and the JSON file", async (t) => {
  const chart = join(pair.dir, 'out', 'c.svg');
  const outJson = join(pair.dir, 'out', 'c.json');
  mkdirSync(join(pair.dir, 'out'), { recursive: true });
  const r = await ishare(['compare', ...pair.images, '--chart', chart, '--out-json', outJson], env);
  t.is(r.status, 0, r.stderr);
  const mib = (n: number): string => (n / 2 ** 20).toFixed(1);
  const no = expectedNoShare(pair.srcs);
  const yes = expectedShare(pair.srcs);
  t.regex(r.text, /\| +Image +\| Page Cache Share \| Memory \(MiB\) \| +Memory +\|/);
  t.regex(r.text, new RegExp(`\\| +No +\\| +${mib(no)} +\\| +- +\\|`));
  t.regex(r.text, new RegExp(`\\| +Yes +\\| +${mib(yes)} +\\| +${((1 - yes / no) * 100).toFixed(1)}% +\\|`));
  t.regex(r.text, /app +\+/);
  t.regex(r.text, /1\.0 & 1\.1/);
  t.regex(
    r.text,
    /^shared inodes \d+, inodes attached \d+ \(\d+ joined .*size-mismatch refusals 0, data-path-mismatch refusals 0, malformed-fingerprint refusals 0$/m,
  );
  t.regex(r.text, /^device pages served .*app-1\.0 \d+, app-1\.1 \d+/m);
  const d = JSON.parse(readFileSync(outJson, 'utf8')) as CompareJson;
  t.is(d.share.pageCacheBytes, yes);
  const svg = readFileSync(chart, 'utf8');
  t.true(svg.startsWith('<svg'));
  t.true(svg.includes(`>${mib(no)}<`) && svg.includes(`>${mib(yes)}<`));
  t.true(svg.includes(`${((1 - yes / no) * 100).toFixed(1)}% less`));
});

test.serial('--trace replays a PATH OFFSET LENGTH file', async (t) => {
  const file = join(pair.dir, 'ranges.trace');
  writeFileSync(file, RANGES);
  const r = await ishare(['compare', ...pair.images, '--trace', file, '--json'], env);
  t.is(r.status, 0, r.stderr);
  const d = json<CompareJson & { trace: { format: string; missingOps: number } }>(r);
  const want = expectedTouched(pair.srcs, parseTrace(RANGES));
  t.is(d.noShare.pageCacheBytes, want.noShare);
  t.is(d.share.pageCacheBytes, want.share);
  t.is(d.trace.format, 'ranges');
  t.is(d.trace.missingOps, 1);
});

test.serial('--trace IMG=FILE gives each image its own trace (one container per image)', async (t) => {
  // Ranges ending where readahead ends (see helpers/traces.ts), so the pages cached are the pages touched.
  const a = ['/lib/big.so 0 16384', '/lib/tiny 0 1', '/data/moved-v1 0 20000'].join('\n');
  const b = ['/lib/big.so 0 16384', '/lib/mid.so 8192 16384', '/bin/app 86016 100', '/data/moved-v1 0 20000'].join(
    '\n',
  );
  const fa = join(pair.dir, 'a.trace');
  const fb = join(pair.dir, 'b.trace');
  writeFileSync(fa, a);
  writeFileSync(fb, b);
  // The first image named by its path, the second by its short name.
  const r = await ishare(
    ['compare', ...pair.images, '--trace', `${pair.images[0]}=${fa}`, '--trace', `app-1.1=${fb}`, '--json'],
    env,
  );
  t.is(r.status, 0, r.stderr);
  const d = json<CompareJson & { trace: { ops: number; missingOps: number; files: unknown[] } }>(r);
  const want = expectedTouchedEach(pair.srcs, [parseTrace(a), parseTrace(b)]);
  t.is(d.noShare.pageCacheBytes, want.noShare);
  t.is(d.share.pageCacheBytes, want.share);
  t.is(d.trace.ops, 7);
  t.is(d.trace.missingOps, 1, '/data/moved-v1 is not in the second image');
  t.is(d.trace.files.length, 2);
  // Every image needs a trace once one is named.
  const missing = await ishare(['compare', ...pair.images, '--trace', `${pair.images[0]}=${fa}`], env);
  t.is(missing.status, 2);
  t.true(isOneErrorLine(missing.stderr), missing.stderr);
  t.regex(missing.stderr, /no trace for .*app-1\.1\.img/);
});

test.serial('ishare read --json: one side of the experiment', async (t) => {
  interface ReadJson {
    pageCacheBytes: number;
    inodeShare: boolean;
    files: number;
    perImage: unknown[];
  }
  const plain = json<ReadJson>(await ishare(['read', ...pair.images, '--json', '--workers', '1'], env));
  t.is(plain.pageCacheBytes, expectedNoShare(pair.srcs));
  t.false(plain.inodeShare);
  const shared = json<ReadJson>(
    await ishare(['read', ...pair.images, '--share', '--domain', 'd1', '--policy', 'any', '--json'], env),
  );
  t.is(shared.pageCacheBytes, expectedShare(pair.srcs));
  const text = await ishare(['read', pair.srcs[0]], env);
  t.is(text.status, 0, text.stderr);
  t.regex(text.text, /^page cache +\d+\.\d MiB/m);
  t.regex(text.text, /^lookups +\d+ hits, \d+ misses/m);
});

test.serial(
  'read, compare and stress name the domain (default "ishare", --domain changes it) and warn about an image without fingerprints',
  async (t) => {
    const nofp = join(pair.dir, 'nofp.img');
    t.is((await ishare(['mkfs', '--no-fingerprint', nofp, pair.srcs[1]])).status, 0);
    const warn =
      /warning: .*nofp\.img: inode_share requested but the image has no fingerprints; mounted without sharing/;
    const read = await ishare(['read', pair.images[0], nofp, '--share', '--workers', '1'], env);
    t.is(read.status, 0, read.stderr);
    t.regex(read.text, /domain "ishare"/);
    t.regex(read.text, warn);
    const other = await ishare(['read', pair.images[0], '--share', '--domain', 'team-b', '--workers', '1'], env);
    t.regex(other.text, /domain "team-b"/);
    const cmp = await ishare(['compare', pair.images[0], nofp, '--workers', '1'], env);
    t.is(cmp.status, 0, cmp.stderr);
    t.regex(cmp.text, /domain "ishare"/);
    t.regex(cmp.text, warn);
    // Nothing is shared with the unfingerprinted image: the share figure is the no-share figure.
    const cj = json<CompareJson>(
      await ishare(['compare', pair.images[0], nofp, '--workers', '1', '--json', '--domain', 'x'], env),
    );
    t.is(cj.domainId, 'x');
    t.is(
      cj.share.pageCacheBytes,
      expectedShare([pair.srcs[0]]) + expectedNoShare([pair.srcs[1]]),
      'the fingerprinted image shares only within itself',
    );
    // Images given alone: the byte oracle's bytes come from an fsck.erofs that reads the upstream format.
    const st = await ishare(
      [
        'stress',
        pair.images[0],
        nofp,
        '--ops',
        '200',
        '--workers',
        '1',
        '--no-decoys',
        '--no-chaos',
        '--domain',
        'stress-x',
        '--fsck',
        upstreamTool('fsck.erofs'),
      ],
      env,
    );
    t.is(st.status, 0, st.stderr);
    t.regex(st.text, warn);
    t.regex(st.text, /stress-x/);
  },
);

const BAD: [string, string[], RegExp][] = [
  ['--workers 0', ['--workers', '0'], /option '--workers <n>' argument '0' is invalid/],
  ['--workers 65', ['--workers', '65'], /from 1 to 64/],
  ['--workers two', ['--workers', 'two'], /invalid/],
  ['--pool-mib 0', ['--pool-mib', '0'], /--pool-mib/],
  ['--pool-mib 99999', ['--pool-mib', '99999'], /--pool-mib/],
  ['--policy first', ['--policy', 'first'], /processing .* or any/],
  ['--domain ""', ['--domain', ''], /--domain/],
  ['--domain a,b', ['--domain', 'a,b'], /commas/],
  ['a pool too small for the data', ['--pool-mib', '1'], /raise --pool-mib to at least \d+/],
  ['a missing trace', ['--trace', '/nonexistent/trace'], /^ishare: \/nonexistent\/trace: No such file or directory$/m],
  ['a trace naming no input', ['--trace', 'elsewhere=/nonexistent/trace'], /elsewhere is not one of the images/],
  ['two traces for every image', ['--trace', '/nonexistent/a', '--trace', '/nonexistent/b'], /already given/],
  // Output files go into directories that exist, as mkfs OUT does: refused before any work.
  [
    '--chart into a missing directory',
    ['--chart', '/nonexistent-dir/c.svg'],
    /^ishare: --chart \/nonexistent-dir\/c\.svg: No such file or directory$/m,
  ],
  [
    '--out-json into a missing directory',
    ['--out-json', '/nonexistent-dir/c.json'],
    /^ishare: --out-json \/nonexistent-dir\/c\.json: No such file or directory$/m,
  ],
];
for (const [what, args, re] of BAD) {
  test(`compare with ${what}: exit 2, one line`, async (t) => {
    const r = await ishare(['compare', ...pair.images, ...args], env);
    t.is(r.status, 2, r.stderr);
    t.true(isOneErrorLine(r.stderr), r.stderr);
    t.regex(r.stderr, re);
    t.is(r.text, '');
  });
}

test('compare with one image, a missing input or a file that is not an image: exit 2, one line', async (t) => {
  const notImage = join(pair.dir, 'not-an-image');
  writeFileSync(notImage, Buffer.alloc(8192, 7));
  const badTrace = join(pair.dir, 'bad.trace');
  writeFileSync(badTrace, '/lib/tiny 0 1\n/lib/tiny zero 1\n');
  for (const [args, re] of [
    [[pair.images[0]], /at least two images/],
    [[pair.images[0], join(pair.dir, 'nope')], /nope: No such file or directory$/m],
    // With several images, the message names the one at fault.
    [[pair.images[0], notImage], /not-an-image: .*magic/i],
    [[notImage, pair.images[0]], /not-an-image: .*magic/i],
    [[...pair.images, '--trace', badTrace], /bad\.trace: trace line 2/],
  ] as [string[], RegExp][]) {
    const r = await ishare(['compare', ...args], env);
    t.is(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    t.true(isOneErrorLine(r.stderr), r.stderr);
    t.regex(r.stderr, re);
  }
});
