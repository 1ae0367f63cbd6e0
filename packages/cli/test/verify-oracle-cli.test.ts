// The CLI side of issue 10's parts 4 and 5: --verify on stress/compare, --poison, the byte oracle's
// source in the report, fuzz --differential against upstream fsck.erofs, and their bad options.
import test from 'ava';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ishare, json, isOneErrorLine } from './helpers/run.ts';
import { tempDir, removeDir } from '../../../test/helpers/trees.ts';
import { writeVersion } from '../../core/test/helpers/share-trees.ts';
import { upstreamTool } from '../../../test/helpers/erofs-utils.ts';

const dir = tempDir('ishare-cli-verify-');
const v1 = join(dir, 'v1');
const v2 = join(dir, 'v2');
mkdirSync(v1);
mkdirSync(v2);
writeVersion(v1, 1);
writeVersion(v2, 2);
const cacheEnv = { ISHARE_CACHE: join(dir, 'cache') };
test.after.always(() => removeDir(dir));

interface StressJson {
  verify: boolean;
  poison: boolean;
  verifyRefusals: number;
  verifiedJoins: number;
  references: { image: string; origin: string }[];
  counters: Record<string, number>;
  violation?: { invariant: string; message: string };
}

test.serial('stress --verify: poison decoy mounted, refusals counted in the JSON, no leak', async (t) => {
  // A fixed amount of work, not time: a loaded machine may run few ops in a few seconds.
  const r = await ishare(
    ['stress', v1, v2, '--ops', '6000', '--workers', '2', '--pool-mib', '1', '--verify', '--json'],
    cacheEnv,
  );
  t.is(r.status, 0, r.stderr);
  const rep = json<StressJson>(r);
  t.true(rep.verify && rep.poison);
  t.is(rep.violation, undefined);
  t.true(rep.verifyRefusals > 0);
  t.is(rep.counters.ISHARE_VERIFY_REFUSED, rep.verifyRefusals);
  t.deepEqual([...new Set(rep.references.slice(0, 2).map((x) => x.origin))], ['source tree']);
});

test.serial('stress --poison without --verify: exit 1, the byte oracle reports the leak', async (t) => {
  const r = await ishare(
    ['stress', v1, v2, '--seconds', '30', '--workers', '2', '--pool-mib', '1', '--poison', '--no-decoys'],
    cacheEnv,
  );
  t.is(r.status, 1, r.stderr);
  t.regex(String(r.stdout), /sharing NOT verified \(mainline trust\), poison decoy mounted/);
  t.regex(r.stderr, /stress: byte-oracle: /);
  t.true(isOneErrorLine(r.stderr), r.stderr);
});

test.serial('compare --verify reports verified joins', async (t) => {
  const r = await ishare(['compare', v1, v2, '--verify', '--workers', '1', '--json'], cacheEnv);
  t.is(r.status, 0, r.stderr);
  const c = json<{
    share: { verify: boolean; verifiedJoins: number; verifyRefusals: number; filesShared: number };
    noShare: { verify: boolean };
  }>(r);
  t.true(c.share.verify);
  t.is(c.share.verifiedJoins, c.share.filesShared, 'every attached file proved its content');
  t.is(c.share.verifyRefusals, 0);
});

test('fuzz --differential with upstream fsck.erofs: a short run reports the comparison', async (t) => {
  const r = await ishare([
    'fuzz',
    '--differential',
    '--fsck',
    upstreamTool('fsck.erofs'),
    '--count',
    '12',
    '--no-kernel',
    '--json',
    '--out',
    join(dir, 'fz'),
  ]);
  t.is(r.status, 0, r.stderr);
  const rep = json<{
    differential: {
      version: string;
      compared: number;
      oursRejected: number;
      upstreamRejected: number;
      skipped: number;
    };
  }>(r);
  t.regex(rep.differential.version, /1\.9\.3/);
  const d = rep.differential;
  t.is(d.compared + d.oursRejected + d.upstreamRejected + d.skipped, 12);
});

test.serial(
  'stress IMG --manifest M --fsck F: the bytes from fsck.erofs, checked against the manifest mkfs wrote',
  async (t) => {
    const img = join(dir, 'nofp.img');
    const man = join(dir, 'nofp.manifest.json');
    const mk = await ishare(['mkfs', img, v1, '--no-fingerprint', '--manifest', man]);
    t.is(mk.status, 0, mk.stderr);
    const fsck = upstreamTool('fsck.erofs');
    const r = await ishare(
      [
        'stress',
        img,
        '--manifest',
        man,
        '--fsck',
        fsck,
        '--ops',
        '2000',
        '--no-chaos',
        '--no-decoys',
        '--workers',
        '1',
        '--json',
      ],
      cacheEnv,
    );
    t.is(r.status, 0, r.stderr);
    const rep = json<StressJson>(r);
    t.deepEqual(
      rep.references.map((x) => x.origin),
      ['fsck.erofs extraction'],
    );
    // A manifest that does not describe the image: refused before the run.
    const m = JSON.parse(readFileSync(man, 'utf8')) as { files: { path: string; sha256: string }[] };
    m.files[0].sha256 = '0'.repeat(64);
    writeFileSync(man, JSON.stringify(m));
    const bad = await ishare(
      ['stress', img, '--manifest', man, '--fsck', fsck, '--ops', '10', '--no-decoys'],
      cacheEnv,
    );
    t.is(bad.status, 2, bad.stderr);
    t.regex(bad.stderr, /differs from the bytes mkfs read/);
    t.true(isOneErrorLine(bad.stderr), bad.stderr);
  },
);

test('bad options exit 2 with one line', async (t) => {
  const cases: string[][] = [
    ['stress', v1, '--fsck', join(dir, 'no-fsck'), '--seconds', '1'],
    ['stress', join(dir, 'x.img'), '--seconds', '1'],
    ['stress', v1, '--manifest', join(dir, 'm.json'), '--seconds', '1'],
    ['fuzz', '--fsck', '/bin/true', '--count', '2'],
    ['fuzz', '--differential', '--fsck', join(dir, 'no-fsck'), '--count', '2'],
    ['fuzz', '--differential', '--fsck', '/usr/bin/fsck.erofs', '--count', '2'],
  ];
  for (const args of cases) {
    const r = await ishare(args, cacheEnv);
    t.is(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    t.true(isOneErrorLine(r.stderr), `${args.join(' ')}: ${r.stderr}`);
  }
});
