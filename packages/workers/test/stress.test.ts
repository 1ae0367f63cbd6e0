// The stress harness is only worth something if it finds real races: with no bug switched on a run is
// clean; with each planted bug switched on, a violation is reported (bounded here by 40 s per bug; the
// closing note has the default workload's median detection times).
import test from 'ava';
import { BUG, type BugName } from '@ishare/core';
import { runStress } from '../src/index.ts';
import { versionPair } from '../../core/test/helpers/share-trees.ts';
import { removeDir } from '../../../test/helpers/trees.ts';
import { upstreamTool } from '../../../test/helpers/erofs-utils.ts';

// The compressed decoys are built by a fingerprinting mkfs.erofs (upstream 1.9.3), so compressed
// shared inodes are filled pcluster by pcluster under the chaos too.
process.env.ISHARE_MKFS_EROFS = upstreamTool('mkfs.erofs');

const pairP = versionPair();
test.after.always(async () => removeDir((await pairP).dir));

test.serial('no planted bug: a chaos run with jitter is clean, and really exercised everything', async (t) => {
  const pair = await pairP;
  // A fixed amount of work (not time): the machine may be loaded; what matters is what ran.
  const r = await runStress({ images: pair.images.map((image, i) => ({ image, source: pair.srcs[i] })), workers: 2, policy: 'both', ops: 20_000, seed: 7, jitter: 0.02, inject: [], poolMiB: 1, decoys: true });
  t.is(r.violation, undefined, JSON.stringify(r.violation));
  t.true(r.ops >= 20_000, `ops ${r.ops}`);
  t.true(r.quiescentChecks >= 2);
  for (const k of ['evict', 'remount', 'drop', 'shrink']) t.true(r.chaos[k] > 0, `chaos ${k} ran`);
  for (const k of ['whole', 'range', 'readahead', 'hold']) t.true(r.byKind[k] > 0, `op ${k} ran`);
  t.true(r.counters.REALINODE_PROCESSING > 0 && r.counters.REALINODE_BACKING > 0, 'both policies picked real inodes');
  t.true(r.servedBy.filter((s) => s.sharedPages > 0).length >= 2, 'several images served shared pages');
  t.true(r.counters.Z_PCLUSTERS > 0, 'compressed pclusters were read');
  t.true(r.servedBy.some((s) => s.domainId === 'decoy-c' && s.sharedPages > 0), 'a compressed shared inode served pages');
  t.log(`${r.ops} ops in ${r.elapsedMs} ms, ${r.quiescentChecks} quiescent checks, chaos ${JSON.stringify(r.chaos)}`);
});

for (const bug of Object.keys(BUG) as BugName[]) {
  test.serial(`planted bug ${bug} is caught`, async (t) => {
    const pair = await pairP;
    const r = await runStress({ images: pair.images.map((image, i) => ({ image, source: pair.srcs[i] })), workers: 2, policy: 'both', seconds: 40, seed: 1, jitter: 0.02, inject: [bug], poolMiB: 1, decoys: true });
    t.truthy(r.violation, `${bug} ran ${r.elapsedMs} ms without a violation`);
    t.log(`${bug}: ${r.violation?.invariant} after ${r.violation?.detectedAfterMs} ms — ${r.violation?.message.slice(0, 160)}`);
  });
}
