// `ishare host SCENARIO.json --json` as a user runs it: a scenario file whose containers are an image, a
// directory (built through the image cache) and an image replaying a trace file; every figure of both
// phases must be what the source trees alone say (the oracle of the workers' host test), here under
// `recharge` (given with --charge over the file's `keep`) and the mainline real-inode policy; and
// --svg writes the chart. Recharge moves a folio whole and the oracle does not know where the folios
// lie: the figures a recharge moves are checked between the per-page figure and the figure with reads
// rounded out to the largest folio (helpers/host-oracle.ts), the others exactly, and the charges must add
// up to the page cache.
import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseTrace } from '@ishare/workers';
import { ishare, json } from './helpers/run.ts';
import { buildPair, type Pair } from '../../workers/test/helpers/pair-trees.ts';
import { RANGES } from '../../workers/test/helpers/traces.ts';
import {
  oraclePhase,
  pairContainers,
  withinBounds,
  MAX_FOLIO_PAGES,
  PAIR_STEPS,
} from '../../workers/test/helpers/host-oracle.ts';
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
    const lo = oraclePhase(oracle, PAIR_STEPS, share, 'recharge');
    const hi = oraclePhase(oracle, PAIR_STEPS, share, 'recharge', MAX_FOLIO_PAGES);
    t.deepEqual(withinBounds(got, lo, hi), [], `${phase}: every figure within the oracle's bounds`);
    for (const c of got.containers) t.is(c.refaults, 0, `${phase}: no refault in ${c.name}`);
    const i = 2;
    t.log(
      `${phase}: c memory.current ${got.containers[i].memoryCurrent} (per page ${lo.containers[i].memoryCurrent}, rounded out ${hi.containers[i].memoryCurrent})`,
    );
  }
  // Recharge moved what a left behind to c as c read it: c pays for pages it did not bring in.
  t.true(d.share.containers[2].memoryCurrent > 0);
  const chart = readFileSync(svg, 'utf8');
  t.regex(chart, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  for (const n of names) t.true(chart.includes(`>${n}`), `the chart names ${n}`);
});
