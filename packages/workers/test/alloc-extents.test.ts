// Two workers filling the cache at once must not cut each other's files into pieces of frames: each
// thread allocates within an extent of its own (mm/pagepool.ts, as each CPU allocates from its own
// per-cpu page lists), so a file one worker reads lies in one run of adjacent frames, as it does when one
// worker fills alone. Taking turns at one shared cursor left every readahead batch of one worker between
// two of the other's, and a warm pass over such a cache copies in more, shorter pieces.
import test from 'ava';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { System } from '@ishare/core';
import { ReaderPool } from '@ishare/workers';
import { findGetPage } from '../../core/src/vfs/pagecache.ts';
import { putPage, ALLOC_EXTENT } from '../../core/src/mm/pagepool.ts';
import { NIL } from '../../core/src/mm/list.ts';
import { mkfsErofs } from '../../core/test/helpers/images.ts';
import { removeDir, seededBytes, tempDir } from '../../../test/helpers/trees.ts';

const PAGE = 4096;
const FILES = 24;
const FILE_PAGES = 256; // 1 MiB: readahead windows of 4, 8, 16, then 32 pages

/** Runs of adjacent frames caching pages [0, pages) of a file, in page order. */
function frameRuns(sys: System, mapping: number, pages: number): number {
  let runs = 0;
  let prev = NIL;
  for (let i = 0; i < pages; i++) {
    const f = findGetPage(sys.arena, mapping, i);
    if (f === NIL) throw new Error(`page ${i} of mapping ${mapping} is not cached`);
    putPage(sys.arena, f);
    if (prev === NIL || f !== prev + 1) runs++;
    prev = f;
  }
  return runs;
}

test('a 2-worker fill leaves each whole-file read in one run of frames, as a 1-worker fill does', async (t) => {
  const dir = tempDir('ishare-extents-');
  const src = join(dir, 'src');
  mkdirSync(src);
  for (let i = 0; i < FILES; i++) writeFileSync(join(src, `f${i}`), seededBytes(FILE_PAGES * PAGE, i + 1));
  const image = join(dir, 'a.img');
  mkfsErofs(image, src);
  const sys = System.create({ poolMiB: 64 });
  const pools = [new ReaderPool(sys, { workers: 1 }), new ReaderPool(sys, { workers: 2 })];
  try {
    const { mount } = sys.mount(image);
    const paths = sys.listFiles(mount).map((f) => f.path);
    t.is(paths.length, FILES);
    const runs: number[] = [];
    for (const pool of pools) {
      sys.dropCaches();
      // Whole files (no stripes): each file is read by one worker, both workers reading at once. Both must
      // have read (one that started late and found nothing left proves nothing): tried again if not.
      const readers = (x: { perThread: Map<number, number> }): number =>
        [...x.perThread.values()].filter((n) => n > 0).length;
      let r = await pool.readClaimed([{ mount, paths }], { split: 0 });
      for (let again = 0; again < 4 && readers(r) < pool.workers; again++) {
        sys.dropCaches();
        r = await pool.readClaimed([{ mount, paths }], { split: 0 });
      }
      t.is(readers(r), pool.workers, 'every worker of the pool read files');
      t.deepEqual(r.errors, []);
      t.is(r.bytes, FILES * FILE_PAGES * PAGE);
      let n = 0;
      for (const p of paths) {
        const f = sys.open(mount, p);
        try {
          n += frameRuns(sys, f.mapping, FILE_PAGES);
        } finally {
          sys.close(f);
        }
      }
      runs.push(n);
    }
    t.is(runs[0], FILES, 'one worker: every file in one run');
    // An extent holds two files' pages; a file that starts in one and goes on in the next, which the other
    // worker claimed first, is one extra run: at most one per extent a worker used.
    const extents = Math.ceil((FILES * FILE_PAGES) / ALLOC_EXTENT);
    t.true(runs[1] <= FILES + extents, `two workers: ${runs[1]} runs for ${FILES} files (at most ${FILES + extents})`);
  } finally {
    for (const p of pools) await p.destroy();
    sys.detach();
    removeDir(dir);
  }
});
