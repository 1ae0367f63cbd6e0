// `ishare stress` end to end: a short clean run exits 0, a planted bug exits 1 with the violation in
// the JSON report, bad options exit 2 with one line.
import test from 'ava';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ishare, json, isOneErrorLine } from './helpers/run.ts';
import { tempDir, removeDir } from '../../../test/helpers/trees.ts';
import { writeVersion } from '../../core/test/helpers/share-trees.ts';

const dir = tempDir('ishare-cli-stress-');
const v1 = join(dir, 'v1');
const v2 = join(dir, 'v2');
mkdirSync(v1);
mkdirSync(v2);
writeVersion(v1, 1);
writeVersion(v2, 2);
const cacheEnv = { ISHARE_CACHE: join(dir, 'cache') };
test.after.always(() => removeDir(dir));

interface Report {
  ops: number;
  violation?: { detector: string; invariant: string; message: string };
  inject: string[];
  detectors: { lockChecks: boolean; raceDetector: boolean };
}

test.serial('a short clean run exits 0 and reports ops, locks and served-by', async (t) => {
  const r = await ishare(['stress', v1, v2, '--seconds', '2', '--workers', '2', '--pool-mib', '1', '--json'], cacheEnv);
  t.is(r.status, 0, r.stderr);
  const rep = json<Report & { locks: unknown[]; servedBy: unknown[] }>(r);
  t.true(rep.ops > 0);
  t.is(rep.violation, undefined);
  t.true(rep.locks.length > 0);
  // Two images, three decoys, and — where mkfs.erofs and trusted xattrs are available — two compressed decoys.
  t.true(rep.servedBy.length === 5 || rep.servedBy.length === 7, `served by ${rep.servedBy.length}`);
  t.deepEqual([rep.detectors.lockChecks, rep.detectors.raceDetector], [true, true], 'all detectors on by default');
});

// The bug run's options; the same run without the bug must be clean, or the catch means nothing.
const bugRunArgs = [
  'stress',
  v1,
  v2,
  '--seconds',
  '15',
  '--workers',
  '2',
  '--pool-mib',
  '1',
  '--no-lock-checks',
  '--json',
];

test.serial(
  'a planted bug exits 1 and names the detector its nature calls for; without it the same run is clean',
  async (t) => {
    const r = await ishare([...bugRunArgs, '--inject', 'early-uptodate'], cacheEnv);
    t.is(r.status, 1, r.stderr);
    const rep = json<Report>(r);
    t.deepEqual(rep.inject, ['EARLY_UPTODATE']);
    t.false(rep.detectors.lockChecks);
    // A page published before its data is read: readers copy bytes that are not the file's — only the
    // byte oracle can see that (no lock, reference or count is broken).
    t.is(rep.violation?.detector, 'byte-oracle');
    t.true(isOneErrorLine(r.stderr), r.stderr);

    const clean = await ishare(bugRunArgs, cacheEnv);
    t.is(clean.status, 0, clean.stderr);
    const cleanRep = json<Report & { windows: Record<string, number>; seconds: number }>(clean);
    t.is(cleanRep.violation, undefined);
    t.true(cleanRep.ops > 0);
    t.true(cleanRep.seconds > 0);
    t.true(Object.keys(cleanRep.windows).length > 0, 'race windows reported');
  },
);

test('bad options exit 2 with one line', async (t) => {
  for (const args of [
    ['--inject', 'nope'],
    ['--jitter', '2'],
    ['--policy', 'fast'],
    ['--seconds', '1', '--ops', '5'],
    ['--workers', '0'],
    ['--no-lock-checks=1'],
    ['--lock-checks'],
  ]) {
    const r = await ishare(['stress', v1, v2, ...args], cacheEnv);
    t.is(r.status, 2, args.join(' '));
    t.true(isOneErrorLine(r.stderr), r.stderr);
  }
});

test('--list-bugs lists every planted bug with its category', async (t) => {
  const r = await ishare(['stress', '--list-bugs', '--json']);
  t.is(r.status, 0);
  const bugs = json<{ name: string; category: string; description: string }[]>(r);
  t.true(bugs.length >= 10);
  for (const b of bugs) t.true(b.category === 'race' || b.category === 'logic', `${b.name}: ${b.category}`);
  t.true(bugs.filter((b) => b.category === 'race').length >= 6);
  const text = await ishare(['stress', '--list-bugs']);
  t.is(text.status, 0);
  t.regex(String(text.stdout), /PROC_COUNT_NOLOCK.*race/);
});
