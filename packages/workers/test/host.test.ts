// A host of containers (runHost): with one worker, the steps in order and no limit, every charge —
// the kernel's under keep, reparent and recharge, and the split account — must equal what the source
// trees alone say (helpers/host-oracle.ts), under both real-inode policies; with a limit, the charge
// stays under memory.max, charges add up to the page cache and the pages the limit evicted come back
// as refaults in the container that reads them again.
import test from 'ava';
import { parseTrace, runHost, type HostOptions, type HostPhase } from '@ishare/workers';
import { buildPair, PAGE, type Pair } from './helpers/pair-trees.ts';
import { RANGES } from './helpers/traces.ts';
import { oraclePhase, pairContainers, PAIR_STEPS, type Charge, type OracleContainer } from './helpers/host-oracle.ts';
import { removeDir } from '../../../test/helpers/trees.ts';

let pair: Pair;
test.before(async () => {
  pair = await buildPair();
});
test.after.always(() => {
  if (pair) removeDir(pair.dir);
});

const trace = parseTrace(RANGES);
const STEPS = PAIR_STEPS;

function containers(): { oracle: OracleContainer[]; host: HostOptions['containers'] } {
  return {
    oracle: pairContainers(pair.srcs, trace),
    host: [
      { name: 'a', image: pair.images[0] },
      { name: 'b', image: pair.images[1] },
      { name: 'c', image: pair.images[0], trace },
    ],
  };
}

function sameFigures(t: import('ava').ExecutionContext, got: HostPhase, share: boolean, charge: Charge): void {
  const cs = containers();
  const want = oraclePhase(cs.oracle, STEPS, share, charge);
  const label = `${share ? 'share' : 'no share'}, ${charge}`;
  t.is(got.pageCacheBytes, want.pageCacheBytes, `${label}: page cache`);
  t.is(got.rootBytes, want.rootBytes, `${label}: charged to the root`);
  t.deepEqual(got.dying, want.dying, `${label}: dying cgroups`);
  got.containers.forEach((c, i) => {
    const w = want.containers[i];
    t.deepEqual(
      {
        memoryCurrent: c.memoryCurrent,
        readBytes: c.readBytes,
        paidShared: c.paidShared,
        freeRead: c.freeRead,
        refaults: c.refaults,
      },
      {
        memoryCurrent: w.memoryCurrent,
        readBytes: w.readBytes,
        paidShared: w.paidShared,
        freeRead: w.freeRead,
        refaults: 0,
      },
      `${label}: container ${c.name}`,
    );
    t.true(
      Math.abs(c.splitCharge - w.splitCharge) < 1e-6,
      `${label}: split of ${c.name}: ${c.splitCharge} vs ${w.splitCharge}`,
    );
  });
}

// Each run is two kernels and their workers, so the matrix is spread: keep and reparent here, under
// one real-inode policy each; recharge through the CLI (packages/cli/test/host-cli.test.ts).
const MATRIX: [Charge, 'processing' | 'any'][] = [
  ['keep', 'processing'],
  ['reparent', 'any'],
];
for (const [charge, policy] of MATRIX) {
  test.serial(`charges from the trees alone: ${charge}, real inode ${policy}`, async (t) => {
    const r = await runHost({ containers: containers().host, steps: STEPS, workers: 1, charge, policy });
    t.is(r.charge, charge);
    sameFigures(t, r.noShare, false, charge);
    sameFigures(t, r.share, true, charge);
    t.true(r.share.pageCacheBytes < r.noShare.pageCacheBytes, 'sharing saved something');
    t.is(r.share.reclaimedPages, 0);
  });
}

test.serial(
  'a limit: the charge stays under memory.max, charges add up to the cache, evicted pages refault in the next reader',
  async (t) => {
    const max = 16 * PAGE;
    const r = await runHost({
      containers: [
        { name: 'small', image: pair.images[0], memoryMax: max },
        { name: 'big', image: pair.images[1] },
      ],
      steps: [
        { kind: 'start', container: 0 },
        { kind: 'start', container: 1 },
        { kind: 'read', container: 0 },
        { kind: 'read', container: 1 },
      ],
      workers: 1,
    });
    for (const p of [r.noShare, r.share]) {
      const [small, big] = p.containers;
      t.true(small.memoryCurrent <= max, `memory.current ${small.memoryCurrent} <= memory.max ${max}`);
      t.true(small.events.max > 0, 'the limit was hit');
      t.true(small.stat.pgsteal > 0);
      t.is(
        small.memoryCurrent + big.memoryCurrent + p.rootBytes + p.dying.reduce((s, d) => s + d.memoryCurrent, 0),
        p.pageCacheBytes,
      );
      t.is(big.events.max, 0);
    }
    // Without sharing big reads its own pages: nothing of small's was its. With sharing, what small's
    // limit evicted and big reads again is a refault in big, charged to big.
    t.is(r.noShare.containers[1].refaults, 0);
    t.true(r.share.containers[1].refaults > 0, `refaults in big: ${r.share.containers[1].refaults}`);
    t.is(r.share.containers[1].stat.workingset_refault_file, r.share.containers[1].refaults);
  },
);
