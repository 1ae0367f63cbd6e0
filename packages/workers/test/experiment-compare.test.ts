// The memory experiment end to end with real worker threads and images from our mkfs: the page-cache
// figures must equal what the source trees say they must be, under both real-inode policies.
import test from 'ava';
import { System } from '@ishare/core';
import {
  runCompare,
  runRead,
  checkMeasurement,
  ReaderPool,
  PoolTooSmallError,
  ExperimentError,
  MAX_WORKERS,
  MAX_POOL_MIB,
} from '@ishare/workers';
import { buildPair, expectedNoShare, expectedShare, sourceFiles, type Pair } from './helpers/pair-trees.ts';
import { removeDir } from '../../../test/helpers/trees.ts';

let pair: Pair;
test.before(async () => {
  pair = await buildPair();
});
test.after.always(() => {
  if (pair) removeDir(pair.dir);
});

for (const policy of ['processing', 'any'] as const) {
  test.serial(
    `compare (policy ${policy}): no-share = distinct inodes' pages, share = distinct contents' pages`,
    async (t) => {
      const noShare = expectedNoShare(pair.srcs);
      const share = expectedShare(pair.srcs);
      t.true(share < noShare, 'the trees were built to share something');
      const phases: string[] = [];
      const steps: string[] = [];
      const r = await runCompare({
        images: pair.images,
        workers: 3,
        policy,
        onProgress: (p) => {
          if (!phases.includes(p.phase)) phases.push(p.phase);
          // Each step's last event, as a bar shows it: "phase unit done/total".
          const key = `${p.phase} ${p.unit}`;
          const at = steps.findIndex((s) => s.startsWith(`${key} `));
          const line = `${key} ${p.done}/${p.total}`;
          if (at < 0) steps.push(line);
          else steps[at] = line;
        },
      });
      t.log(
        `policy ${policy}: no share ${r.noShare.pageCacheBytes} (want ${noShare}), share ${r.share.pageCacheBytes} (want ${share}), ${r.reductionPercent}%`,
      );
      t.deepEqual(phases, ['no share', 'share']);
      // Set-up shows progress too: each image mounted, then the workers started; then every file read.
      const files = pair.srcs.reduce((s, src) => s + sourceFiles(src).length, 0);
      const setup = pair.images.length + 1;
      t.deepEqual(steps, [
        `no share mounts ${setup}/${setup}`,
        `no share files ${files}/${files}`,
        `share mounts ${setup}/${setup}`,
        `share files ${files}/${files}`,
      ]);
      t.is(r.noShare.pageCacheBytes, noShare);
      t.is(r.share.pageCacheBytes, share);
      t.is(r.share.sharedPageCacheBytes, share, 'every page of a fingerprinted file lives in a shared inode');
      t.is(r.noShare.sharedPageCacheBytes, 0);
      // Each cached page came from the device exactly once.
      t.is(r.noShare.devicePages * 4096, noShare);
      t.is(r.share.devicePages * 4096, share);
      t.is(r.reductionPercent, Math.round((1 - share / noShare) * 10000) / 100);
      // Every regular file was read, in full, in both phases.
      const bytes = pair.srcs.reduce((s, src) => s + sourceFiles(src).reduce((x, f) => x + f.size, 0), 0);
      for (const p of [r.noShare, r.share]) {
        t.is(p.files, files);
        t.is(p.bytes, bytes);
      }
      t.is(r.share.sizeMismatch, 0);
      t.is(r.share.dataPathMismatch, 0);
      t.true(r.share.sharedInodes > 0 && r.share.inodesJoined > 0);
      t.is(r.noShare.sharedInodes, 0);
      // The policy decides which list the real inode comes from.
      if (policy === 'processing') {
        t.true(r.share.realInodeFromProcessing > 0);
        t.is(r.share.realInodeFromBacking, 0);
      } else {
        t.is(r.share.realInodeFromProcessing, 0);
        t.true(r.share.realInodeFromBacking > 0);
      }
      t.deepEqual(
        r.servedBy.map((s) => s.image),
        pair.images,
      );
      t.true(r.servedBy.every((s) => s.sharedPages === s.pages));
      t.is(r.policy, policy);
      t.is(r.workers, 3);
    },
  );
}

test.serial('runRead: without sharing = the no-share figure; with sharing = the share figure', async (t) => {
  const plain = await runRead({ images: pair.images, workers: 2 });
  t.is(plain.pageCacheBytes, expectedNoShare(pair.srcs));
  t.false(plain.inodeShare);
  const shared = await runRead({ images: pair.images, workers: 2, inodeShare: true, domainId: 'ci' });
  t.is(shared.pageCacheBytes, expectedShare(pair.srcs));
  t.true(shared.perImage.every((x) => x.shareActive));
  t.is(shared.domainId, 'ci');
  // One image alone: its own distinct contents.
  const one = await runRead({ images: [pair.images[0]], workers: 1, inodeShare: true });
  t.is(one.pageCacheBytes, expectedShare([pair.srcs[0]]));
});

test.serial('a pool smaller than the data is refused before measuring, naming the size to ask for', async (t) => {
  const e = await t.throwsAsync(runCompare({ images: pair.images, workers: 2, policy: 'processing', poolMiB: 1 }), {
    instanceOf: PoolTooSmallError,
  });
  t.regex(e.message, /raise --pool-mib to at least \d+/);
  t.true(e.neededMiB > 1);
});

test.serial('bad settings are refused with a message', async (t) => {
  await t.throwsAsync(runCompare({ images: [pair.images[0]], workers: 1 }), {
    instanceOf: ExperimentError,
    message: /at least 2 images/,
  });
  await t.throwsAsync(runRead({ images: pair.images, workers: 0 }), {
    instanceOf: ExperimentError,
    message: /workers/,
  });
  await t.throwsAsync(runRead({ images: pair.images, workers: MAX_WORKERS + 1 }), {
    instanceOf: ExperimentError,
    message: /workers/,
  });
  await t.throwsAsync(runRead({ images: pair.images, poolMiB: MAX_POOL_MIB + 1 }), {
    instanceOf: ExperimentError,
    message: /pool size/,
  });
});

test.serial('a measurement during which pages were reclaimed is refused, asking for a bigger pool', async (t) => {
  // The experiment never picks such a pool; build the situation by hand: 64 pages for 700 KB files.
  const sys = System.create({ poolBytes: 64 * 4096 });
  const pool = new ReaderPool(sys, { workers: 2 });
  try {
    const { mount } = sys.mount(pair.images[0]);
    const r = await pool.readFiles(
      mount,
      sys.listFiles(mount).map((f) => f.path),
    );
    t.deepEqual(r.errors, []);
    const st = sys.stats();
    t.true(st.counters.RECLAIMED > 0, 'reclaim really ran');
    const e = t.throws(() => checkMeasurement(st, st.poolBytes), { instanceOf: PoolTooSmallError });
    t.regex(e.message, /pages were reclaimed during the measurement.*raise --pool-mib above 1$/);
    sys.unmount(mount);
  } finally {
    await pool.destroy();
    sys.detach();
  }
  // And a clean run passes the same check.
  const sys2 = System.create({ poolMiB: 16 });
  try {
    checkMeasurement(sys2.stats(), 16 * 2 ** 20);
    t.pass();
  } finally {
    sys2.detach();
  }
});
