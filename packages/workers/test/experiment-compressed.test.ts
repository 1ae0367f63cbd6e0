// The memory experiment on compressed images (upstream mkfs.erofs 1.9.3), with real worker threads:
// without sharing the page cache holds every distinct inode's pages; with sharing, every distinct
// content's pages once — compressed files share as mainline does (fingerprint + size). A compressed and
// an uncompressed file under one fingerprint are refused (data-path mismatch) and each reads its own.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCompare } from '@ishare/workers';
import { expectedNoShare, expectedShare, sourceFiles, PAGE } from './helpers/pair-trees.ts';
import { buildCompressedPair, compressedPaths, type CompressedPair } from '../../../test/helpers/compressed-pair.ts';
import { removeDir } from '../../../test/helpers/trees.ts';

const made: CompressedPair[] = [];
test.after.always(() => {
  for (const p of made) removeDir(p.dir);
});

for (const alg of ['-zlz4hc', '-zzstd'] as const) {
  test.serial(
    `compare of two ${alg} images: no-share = distinct inodes' pages, share = distinct contents' pages`,
    async (t) => {
      const pair = buildCompressedPair([
        [alg, '-Eztailpacking'],
        [alg, '-Eztailpacking'],
      ]);
      made.push(pair);
      t.true(compressedPaths(pair.images[0], pair.srcs[0]).length >= 5, 'most files are stored compressed');
      const r = await runCompare({ images: pair.images, workers: 2, policy: 'any', domainId: 'z' });
      const noShare = expectedNoShare(pair.srcs);
      const share = expectedShare(pair.srcs);
      t.log(`no share ${r.noShare.pageCacheBytes} (want ${noShare}), share ${r.share.pageCacheBytes} (want ${share})`);
      t.is(r.noShare.pageCacheBytes, noShare);
      t.is(r.share.pageCacheBytes, share);
      t.is(r.share.dataPathMismatch, 0);
      t.is(r.share.sizeMismatch, 0);
      t.true(r.share.inodesJoined > 0);
      // What the reads decoded, as compare --json reports it: an attach is a wait that decoded nothing.
      for (const phase of [r.noShare, r.share]) {
        t.true(phase.pclustersDecoded >= 5, `${phase.pclustersDecoded} pclusters decoded`);
        t.true(phase.pclusterAttach <= phase.pclusterWaits);
      }
    },
  );
}

test.serial(
  'a compressed and an uncompressed file with one fingerprint are not shared: counted as data-path mismatches',
  async (t) => {
    // Both images from the same tree: one compressed, one plain.
    const pair = buildCompressedPair([['-zlz4hc'], []], { same: true });
    made.push(pair);
    const compressed = new Set(compressedPaths(pair.images[0], pair.srcs[0]));
    t.deepEqual(compressedPaths(pair.images[1], pair.srcs[0]), [], 'the second image stores every file plain');
    t.true(compressed.size >= 5);
    const files = sourceFiles(pair.srcs[0]);
    // Files compressed in one image and plain in the other keep two page caches; the rest share one.
    let want = 0;
    for (const f of files) want += Math.ceil(f.size / PAGE) * PAGE * (compressed.has(f.rel) ? 2 : 1);
    const r = await runCompare({ images: pair.images, workers: 2, policy: 'processing', domainId: 'z' });
    t.is(r.share.dataPathMismatch, compressed.size);
    t.is(r.share.sizeMismatch, 0);
    t.is(r.share.pageCacheBytes, want);
    t.is(r.noShare.pageCacheBytes, 2 * files.reduce((s, f) => s + Math.ceil(f.size / PAGE) * PAGE, 0));
    // Sanity: the tree really has the files the count was made from.
    t.true(readFileSync(join(pair.srcs[0], 'lib', 'big.js')).length > 0);
  },
);
