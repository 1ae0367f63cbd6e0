// The stress byte oracle is the source's content, not our reader; and cache poisoning: a forged
// fingerprint in the same domain is a leak the oracle sees unless the mounts verify content.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { mkfs } from '@ishare/core';
import { runStress } from '@ishare/workers';
import { versionPair } from '../../core/test/helpers/share-trees.ts';
import { makeEdgeTree, removeDir, tempDir } from '../../../test/helpers/trees.ts';
import { upstreamTool } from '../../../test/helpers/erofs-utils.ts';

const pairP = versionPair();
test.after.always(async () => removeDir((await pairP).dir));

const base = { workers: 2, policy: 'both' as const, jitter: 0.02, inject: [], poolMiB: 1 };

test.serial('the byte oracle reads the source trees, checked against the manifests mkfs recorded', async (t) => {
  const pair = await versionPair(); // its own: this test changes a tree
  const dir = pair.dir;
  try {
    const images = [];
    for (let i = 0; i < 2; i++) {
      const image = join(dir, `v${i}.img`);
      const r = await mkfs({ out: image, source: pair.srcs[i], timestamp: 0 });
      images.push({ image, source: pair.srcs[i], manifest: r.manifest });
    }
    const r = await runStress({ ...base, images, ops: 6000, seed: 3, decoys: true });
    t.is(r.violation, undefined, JSON.stringify(r.violation));
    t.true(r.reads > 1000);
    t.deepEqual([...new Set(r.references.map((x) => x.origin))], ['source tree']);
    // The same tree changed after the build: the reference no longer is what the image holds.
    appendFileSync(join(pair.srcs[0], 'bin', 'config'), 'x');
    await t.throwsAsync(runStress({ ...base, images, ops: 10, seed: 3, decoys: false }), {
      message: /bin\/config in the source tree differs from the bytes mkfs read/,
    });
  } finally {
    removeDir(dir);
  }
});

test.serial('an image given alone is checked against upstream fsck.erofs --extract', async (t) => {
  const dir = tempDir('ishare-oracle-');
  try {
    const src = join(dir, 'src');
    mkdirSync(src);
    makeEdgeTree(src);
    const image = join(dir, 'up.img');
    execFileSync(upstreamTool('mkfs.erofs'), ['-T0', '--quiet', image, src], { stdio: ['ignore', 'ignore', 'pipe'] });
    // No chaos: with one image, an unmount leaves the workers nothing to read; this is about the oracle.
    const r = await runStress({
      ...base,
      images: [{ image }],
      fsck: upstreamTool('fsck.erofs'),
      ops: 3000,
      seed: 4,
      decoys: false,
      chaos: false,
    });
    t.is(r.violation, undefined, JSON.stringify(r.violation));
    t.deepEqual(
      r.references.map((x) => x.origin),
      ['fsck.erofs extraction'],
    );
    t.true(r.reads > 500, JSON.stringify({ reads: r.reads, ops: r.ops, benign: r.benign, byKind: r.byKind }));
  } finally {
    removeDir(dir);
  }
});

test.serial('poison decoy without verify: the byte oracle reports the leak mainline trusts into', async (t) => {
  const pair = await pairP;
  const r = await runStress({
    ...base,
    images: pair.srcs.map((s, i) => ({ image: pair.images[i], source: s })),
    seconds: 30,
    seed: 5,
    decoys: false,
    poison: true,
  });
  t.is(r.violation?.invariant, 'byte-oracle', JSON.stringify(r.violation));
  t.regex(r.violation!.message, /[xw]\.img/, 'the wrong bytes were read from a poisoned file (X or W)');
  t.is(r.verifyRefusals, 0);
  t.log(`leak found after ${r.violation?.detectedAfterMs} ms: ${r.violation?.message}`);
});

test.serial(
  'poison decoy with verify: zero leaks, the forged file refused and counted, sharing still on',
  async (t) => {
    const pair = await pairP;
    const r = await runStress({
      ...base,
      images: pair.srcs.map((s, i) => ({ image: pair.images[i], source: s })),
      ops: 8000,
      seed: 5,
      decoys: true,
      verify: true,
    });
    t.is(r.violation, undefined, JSON.stringify(r.violation));
    t.true(r.poison && r.verify);
    t.true(r.verifyRefusals >= 1, `refusals ${r.verifyRefusals}`);
    t.true(r.verifiedJoins > 0);
    t.true(
      r.servedBy.some((s) => s.sharedPages > 0),
      'verified files still share',
    );
    t.log(`${r.reads} verified reads, ${r.verifiedJoins} verified joins, ${r.verifyRefusals} refusals`);
  },
);
