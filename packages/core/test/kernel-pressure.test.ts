// Memory pressure: a pool far smaller than the data still returns every byte right (reclaim of clean
// LRU pages and unused inodes); a pool whose every frame is pinned fails with a clear ENOMEM.
import test from 'ava';
import { System, VfsError } from '@ishare/core';
import { frameAlloc, putPage } from '../src/mm/pagepool.ts';
import { NIL } from '../src/mm/list.ts';
import { edgeImage, sourceHashes, sha256 } from './helpers/images.ts';
import { removeDir } from '../../../test/helpers/trees.ts';

test('a 32-page pool reads a 3 MiB file and a whole tree correctly by reclaiming', (t) => {
  const img = edgeImage([], { bigDir: false });
  const sys = System.create({ poolBytes: 32 * 4096 });
  try {
    const { mount } = sys.mount(img.image);
    const want = sourceHashes(img.src);
    for (let round = 0; round < 2; round++) {
      for (const f of sys.listFiles(mount)) {
        const file = sys.open(mount, f.path);
        t.is(sha256(sys.readAll(file)), want.get(f.path)!, f.path);
        sys.close(file);
      }
    }
    const st = sys.stats();
    t.true(st.filePages <= 32);
    t.true(st.counters.RECLAIMED > 700, `reclaimed ${st.counters.RECLAIMED}`);
    t.is(st.framesUsed, st.filePages, 'no frame leaked: every used frame is an indexed page');
  } finally {
    sys.detach();
    removeDir(img.dir);
  }
});

test('every frame pinned: the read fails with ENOMEM, and works again once frames are released', (t) => {
  const img = edgeImage([], { bigDir: false });
  const sys = System.create({ poolBytes: 16 * 4096 });
  try {
    const { mount } = sys.mount(img.image);
    const pinned: number[] = [];
    for (let f = frameAlloc(sys.arena); f !== NIL; f = frameAlloc(sys.arena)) pinned.push(f);
    t.is(pinned.length, 16);
    const file = sys.open(mount, '/big.bin');
    const err = t.throws(() => sys.readAll(file), { instanceOf: VfsError });
    t.is(err?.code, 'ENOMEM');
    t.regex(err?.message ?? '', /page pool exhausted/);
    for (const f of pinned) putPage(sys.arena, f);
    t.is(sha256(sys.readAll(file)), sourceHashes(img.src).get('/big.bin')!);
    sys.close(file);
  } finally {
    sys.detach();
    removeDir(img.dir);
  }
});

test('drop caches empties the page cache and the inode cache', (t) => {
  const img = edgeImage([], { bigDir: false });
  const sys = System.create({ poolMiB: 8 });
  try {
    const { mount } = sys.mount(img.image);
    for (const f of sys.listFiles(mount)) {
      const file = sys.open(mount, f.path);
      sys.readAll(file);
      sys.close(file);
    }
    t.true(sys.stats().filePages > 0);
    t.true(sys.stats().inodesInUse > 0);
    sys.dropCaches();
    t.is(sys.stats().filePages, 0);
    t.is(sys.stats().inodesInUse, 0);
    t.is(sys.stats().framesUsed, 0);
  } finally {
    sys.detach();
    removeDir(img.dir);
  }
});
