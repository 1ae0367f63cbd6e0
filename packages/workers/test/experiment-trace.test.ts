// Trace replay: parsing both trace formats (pure), then replaying them through the pool against two
// images. The replay reads through the kernel's readahead, like the traced process did, so the ranges
// here are chosen to end where readahead ends too (a whole 4-page window, a file's last page, a whole
// small file): then "the pages the trace touched", computed from the sources, is the exact figure.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseTrace, parseTraceDetailed, normalizePath, TraceError, runCompare, runRead } from '@ishare/workers';
import { buildPair, expectedTouched, PAGE, type Pair } from './helpers/pair-trees.ts';
import { RANGES, STRACE } from './helpers/traces.ts';
import { removeDir, hasCommand } from '../../../test/helpers/trees.ts';

// ---- parsing ----

test('ranges format: comments, blank lines, paths with spaces, normalised paths, zero lengths dropped', (t) => {
  const ops = parseTrace(
    [
      '# a trace',
      '/lib/big.so 0 16384',
      '',
      '   lib//./x/../big.so   4096 10   # trailing comment',
      '/with space/name 7 3',
      '/zero 0 0',
    ].join('\n'),
  );
  t.deepEqual(ops, [
    { path: '/lib/big.so', offset: 0, length: 16384 },
    { path: '/lib/big.so', offset: 4096, length: 10 },
    { path: '/with space/name', offset: 7, length: 3 },
  ]);
});

test('ranges format: a malformed line is an error naming its line', (t) => {
  const e = t.throws(() => parseTrace('/a 0 10\n/b zero 10\n'), { instanceOf: TraceError });
  t.is(e.line, 2);
  t.regex(e.message, /^trace line 2: expected "PATH OFFSET LENGTH"/);
});

test('normalizePath: absolute, folded, never above the root', (t) => {
  t.is(normalizePath('a/b/../c'), '/a/c');
  t.is(normalizePath('../../etc'), '/etc');
  t.is(normalizePath('x', '/usr/lib'), '/usr/lib/x');
  t.is(normalizePath('/'), '/');
});

test('strace format: fds per pid, unfinished/resumed pairs, close, pread64 offsets, lseek, -y names, return values', (t) => {
  const parsed = parseTraceDetailed(STRACE);
  t.is(parsed.format, 'strace');
  t.deepEqual(parsed.ops, [
    { path: '/lib/big.so', offset: 0, length: 16384 },
    { path: '/lib/big.so', offset: 696320, length: 3680 },
    { path: '/data/moved-v1', offset: 0, length: 20000 },
    { path: '/lib/tiny', offset: 0, length: 1 },
    { path: '/bin/app', offset: 86016, length: 3994 },
    { path: '/lib/page-plus', offset: 0, length: 4097 },
  ]);
  t.is(parsed.unresolved, 1, 'the read of fd 7, never opened in the trace');
});

test('strace format: the file position advances by what each read returned; a reopened fd starts over', (t) => {
  const ops = parseTrace(
    [
      'openat(AT_FDCWD, "/f", O_RDONLY) = 3',
      'read(3, "a"..., 100) = 100',
      'read(3, "b"..., 100) = 40',
      'openat(AT_FDCWD, "/g", O_RDONLY) = 3',
      'read(3, "c"..., 10) = 10',
      'openat(3, "sub/h", O_RDONLY) = 4',
      'read(4, "d"..., 5) = 5',
    ].join('\n'),
  );
  t.deepEqual(ops, [
    { path: '/f', offset: 0, length: 100 },
    { path: '/f', offset: 100, length: 40 },
    { path: '/g', offset: 0, length: 10 },
    { path: '/g/sub/h', offset: 0, length: 5 },
  ]);
});

test('an empty trace parses to no ops', (t) => {
  t.deepEqual(parseTraceDetailed('# nothing\n\n'), { format: 'empty', ops: [], unresolved: 0 });
});

// ---- replay ----

let pair: Pair;
test.before(async () => {
  pair = await buildPair();
});
test.after.always(() => {
  if (pair) removeDir(pair.dir);
});

test.serial('replaying a PATH OFFSET LENGTH trace caches the pages it touched, per image and shared', async (t) => {
  const ops = parseTrace(RANGES);
  const want = expectedTouched(pair.srcs, ops);
  for (const policy of ['processing', 'any'] as const) {
    const r = await runCompare({ images: pair.images, workers: 2, policy, trace: ops });
    t.log(
      `${policy}: no share ${r.noShare.pageCacheBytes} (want ${want.noShare}), share ${r.share.pageCacheBytes} (want ${want.share})`,
    );
    t.is(r.noShare.pageCacheBytes, want.noShare);
    t.is(r.share.pageCacheBytes, want.share);
    t.deepEqual(r.trace, { ops: 7, replayed: 11, missingOps: 1, missingPaths: 1, missingExamples: ['/nowhere'] });
    t.deepEqual(
      r.noShare.perImage.map((x) => x.ranges),
      [6, 5],
    );
  }
  // By hand, as a cross-check of the helper: big 4+1, mid 4, app 1, tiny 1 in both; moved 5 in v1.
  t.is(want.noShare, (5 + 4 + 1 + 1 + 5 + 5 + 4 + 1 + 1) * PAGE);
  t.is(want.share, (5 + 4 + 2 + 1 + 5) * PAGE);
});

test.serial('replaying an strace trace caches the pages its reads returned', async (t) => {
  const ops = parseTrace(STRACE);
  const want = expectedTouched(pair.srcs, ops);
  const r = await runCompare({ images: pair.images, workers: 2, policy: 'processing', trace: ops });
  t.log(
    `no share ${r.noShare.pageCacheBytes} (want ${want.noShare}), share ${r.share.pageCacheBytes} (want ${want.share})`,
  );
  t.is(r.noShare.pageCacheBytes, want.noShare);
  t.is(r.share.pageCacheBytes, want.share);
  t.is(r.trace?.missingOps, 0);
  // runRead replays too.
  const one = await runRead({ images: [pair.images[1]], workers: 1, trace: ops });
  t.is(one.pageCacheBytes, expectedTouched([pair.srcs[1]], ops).noShare);
  t.is(one.trace?.missingOps, 1, '/data/moved-v1 is not in version 2');
});

test.serial(
  'a real strace of cat: its reads of the tree come out as ranges, the rest as paths in no image',
  async (t) => {
    if (!hasCommand('strace')) {
      t.log('skipped: strace is not installed');
      t.pass();
      return;
    }
    const out = join(pair.dir, 'cat.strace');
    // Relative paths with the tree as the working directory: they land at the image's root.
    const r = spawnSync(
      'strace',
      ['-f', '-o', out, '-e', 'trace=openat,read,pread64,close', 'cat', 'lib/tiny', 'lib/page-plus', 'data/moved-v1'],
      { cwd: pair.srcs[0], stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' },
    );
    if (r.status !== 0) {
      t.log(`skipped: strace could not trace here (${r.stderr.trim().split('\n')[0]})`);
      t.pass();
      return;
    }
    const parsed = parseTraceDetailed(readFileSync(out, 'utf8'));
    t.is(parsed.format, 'strace');
    const ours = new Set(['/lib/tiny', '/lib/page-plus', '/data/moved-v1']);
    const mine = parsed.ops.filter((o) => ours.has(o.path));
    const total = (p: string): number => mine.filter((o) => o.path === p).reduce((s, o) => s + o.length, 0);
    t.is(total('/lib/tiny'), 1);
    t.is(total('/lib/page-plus'), PAGE + 1);
    t.is(total('/data/moved-v1'), 20_000);
    t.true(mine.every((o) => o.offset + o.length <= 20_000));
    const res = await runCompare({ images: pair.images, workers: 2, policy: 'any', trace: parsed.ops });
    t.log(
      `${parsed.ops.length} reads, ${res.trace?.missingOps} outside the images (${res.trace?.missingExamples.slice(0, 3).join(', ')}); no share ${res.noShare.pageCacheBytes}, share ${res.share.pageCacheBytes}`,
    );
    // Whole small files: tiny and page-plus in both images, moved-v1 only in the first.
    const want = expectedTouched(pair.srcs, mine);
    t.is(res.noShare.pageCacheBytes, want.noShare);
    t.is(res.share.pageCacheBytes, want.share);
  },
);

test.serial('reads past the end replay as what they would return: clamped, or nothing', async (t) => {
  const r = await runRead({
    images: [pair.images[0]],
    workers: 1,
    trace: [
      { path: '/lib/tiny', offset: 0, length: 1e12 },
      { path: '/lib/tiny', offset: 10, length: 5 },
    ],
  });
  t.is(r.pageCacheBytes, PAGE);
  t.is(r.bytes, 1);
  t.is(r.trace?.replayed, 1);
  t.is(r.trace?.missingOps, 0, 'the path exists: not missing, just empty');
});
