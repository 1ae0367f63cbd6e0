// ReaderPool.readClaimed: one task per worker, files claimed one at a time from per-worker ranges
// (ranges.ts). Every file of every mount must be read exactly once, whatever the interleaving, and land
// in the page cache as the kernel would cache it (one frame per page, one device read per page).
import test from 'ava';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { System } from '@ishare/core';
import { ReaderPool } from '@ishare/workers';
import { edgeImage } from '../../core/test/helpers/images.ts';
import { removeDir } from '../../../test/helpers/trees.ts';

test('readClaimed over two mounts with 2 workers: each file once, every byte, one frame per page', async (t) => {
  const img = edgeImage([], { bigDir: false });
  const sys = System.create({ poolMiB: 64 });
  const pool = new ReaderPool(sys, { workers: 2 });
  try {
    const sets = [0, 1].map(() => {
      const { mount } = sys.mount(img.image);
      return { mount, paths: sys.listFiles(mount).map((f) => f.path) };
    });
    // Sizes from the source tree, not from our reader; hard links cache their pages once per mount.
    let bytes = 0;
    let pages = 0;
    for (const s of sets) {
      const seen = new Set<number>();
      for (const p of s.paths) {
        const st = statSync(join(img.src, p));
        bytes += st.size;
        if (!seen.has(st.ino)) pages += Math.ceil(st.size / 4096);
        seen.add(st.ino);
      }
    }
    const r = await pool.readClaimed(sets, { chunk: 8192 });
    t.deepEqual(r.errors, []);
    t.is(r.files, sets[0].paths.length * 2);
    t.is(r.bytes, bytes);
    const st = sys.stats();
    t.is(st.filePages, pages, 'one frame per page of each mount (no sharing)');
    t.is(st.counters.DEVICE_PAGES, pages, 'one device read per page');
    // A second run reads it all again from the cache.
    const again = await pool.readClaimed(sets);
    t.is(again.bytes, bytes);
    t.is(sys.stats().counters.DEVICE_PAGES, pages, 'the warm run read nothing from the device');
    // Zero-copy: the same bytes handed out as pinned views, all released.
    const viewed = await pool.readClaimed(sets, { view: true });
    t.deepEqual(viewed.errors, []);
    t.is(viewed.bytes, bytes);
    sys.dropCaches();
    t.is(sys.stats().framesUsed, 0, 'every view released');
  } finally {
    await pool.destroy();
    sys.detach();
    removeDir(img.dir);
  }
});
