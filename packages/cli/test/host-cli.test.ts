// `ishare host SCENARIO.json --json` as a user runs it: a scenario file whose containers are an image, a
// directory (built through the image cache) and an image replaying a trace file; every figure of both
// phases must equal what the source trees alone say (the oracle of the workers' host test), here under
// `recharge` (given with --charge over the file's `keep`) and the mainline real-inode policy; and
// --svg writes the chart.
import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseTrace } from '@ishare/workers';
import { ishare, json } from './helpers/run.ts';
import { buildPair, type Pair } from '../../workers/test/helpers/pair-trees.ts';
import { RANGES } from '../../workers/test/helpers/traces.ts';
import { oraclePhase, pairContainers, PAIR_STEPS } from '../../workers/test/helpers/host-oracle.ts';
import { removeDir } from '../../../test/helpers/trees.ts';
import type { HostJson } from '../src/commands/host.ts';

let pair: Pair;
test.before(async () => {
  pair = await buildPair();
});
test.after.always(() => {
  if (pair) removeDir(pair.dir);
});

test('host --json: every charge of both phases from the trees alone (recharge, policy any); --svg', async (t) => {
  writeFileSync(join(pair.dir, 'c.trace'), RANGES);
  const names = ['a', 'b', 'c'];
  const scenario = {
    containers: [
      { name: 'a', image: 'app-1.0.img' },
      { name: 'b', image: 'app-1.1' },
      { name: 'c', image: 'app-1.0.img', trace: 'c.trace' },
    ],
    steps: PAIR_STEPS.map((s) => ({ [s.kind]: names[s.container] })),
    charge: 'keep',
    workers: 1,
  };
  const file = join(pair.dir, 'host.json');
  writeFileSync(file, JSON.stringify(scenario));
  const svg = join(pair.dir, 'who-pays.svg');
  const r = await ishare(['host', file, '--json', '--charge', 'recharge', '--policy', 'any', '--svg', svg], {
    ISHARE_CACHE: join(pair.dir, 'cache'),
  });
  t.is(r.status, 0, r.stderr);
  t.is(r.stderr, '');
  const d = json<HostJson>(r);
  t.is(d.charge, 'recharge');
  t.is(d.policy, 'any');
  t.deepEqual(
    d.inputs.map((x) => [x.container, x.kind]),
    [
      ['a', 'image'],
      ['b', 'dir'],
      ['c', 'image'],
    ],
  );
  const oracle = pairContainers(pair.srcs, parseTrace(RANGES));
  for (const [phase, share] of [
    ['noShare', false],
    ['share', true],
  ] as const) {
    const got = d[phase];
    const want = oraclePhase(oracle, PAIR_STEPS, share, 'recharge');
    t.is(got.pageCacheBytes, want.pageCacheBytes, `${phase}: page cache`);
    t.is(got.rootBytes, want.rootBytes, `${phase}: root`);
    t.deepEqual(got.dying, want.dying, `${phase}: dying`);
    got.containers.forEach((c, i) => {
      const w = want.containers[i];
      t.deepEqual(
        [c.memoryCurrent, c.readBytes, c.paidShared, c.freeRead, c.refaults],
        [w.memoryCurrent, w.readBytes, w.paidShared, w.freeRead, 0],
        `${phase}: ${c.name} (memoryCurrent, readBytes, paidShared, freeRead, refaults)`,
      );
      t.true(Math.abs(c.splitCharge - w.splitCharge) < 1e-6, `${phase}: split of ${c.name}`);
    });
  }
  // Recharge moved what a left behind to c as c read it: c pays for pages it did not bring in.
  t.true(d.share.containers[2].memoryCurrent > 0);
  const chart = readFileSync(svg, 'utf8');
  t.regex(chart, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  for (const n of names) t.true(chart.includes(`>${n}`), `the chart names ${n}`);
});
