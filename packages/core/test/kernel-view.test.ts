// The zero-copy read (System.view): the views must hold exactly the source file's bytes, whole or in
// ranges, with nothing copied; pinned pages must survive drop-caches while held and go after release.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { System } from '@ishare/core';
import { edgeImage } from './helpers/images.ts';
import { removeDir } from '../../../test/helpers/trees.ts';

const joined = (views: readonly Uint8Array[]): Buffer =>
  Buffer.concat(views.map((v) => Buffer.from(v.buffer, v.byteOffset, v.byteLength)));

for (const variant of [[], ['--chunksize=4096']]) {
  test(`view() of every file of a mkfs.erofs image ${variant.join(' ') || '(default)'} is the source file, in place`, (t) => {
    const img = edgeImage(variant, { bigDir: false });
    const sys = System.create({ poolMiB: 64 });
    try {
      const { mount } = sys.mount(img.image);
      for (const f of sys.listFiles(mount)) {
        const want = readFileSync(join(img.src, f.path));
        const file = sys.open(mount, f.path);
        const v = sys.view(file, 0, f.size + 10);
        t.is(v.bytes, want.length, f.path);
        t.true(joined(v.views).equals(want), f.path);
        // The views are the frames themselves: shared memory, not a copy.
        for (const x of v.views) t.true(x.buffer instanceof SharedArrayBuffer, f.path);
        v.release();
        // A range that starts and ends inside pages.
        if (want.length > 9000) {
          const r = sys.view(file, 4095, 5000);
          t.true(joined(r.views).equals(want.subarray(4095, 9095)), `${f.path} [4095, 9095)`);
          r.release();
        }
        t.is(sys.view(file, f.size, 100).bytes, 0, 'past the end: nothing');
        sys.close(file);
      }
    } finally {
      sys.detach();
      removeDir(img.dir);
    }
  });
}

test('pinned pages stay through drop-caches, outlive the inode, and leave after release', (t) => {
  const img = edgeImage([], { bigDir: false });
  const sys = System.create({ poolMiB: 64 });
  try {
    const { mount } = sys.mount(img.image);
    const big = sys.listFiles(mount).reduce((x, y) => (y.size > x.size ? y : x));
    const want = readFileSync(join(img.src, big.path));
    const pages = Math.ceil(want.length / 4096);
    const file = sys.open(mount, big.path);
    const v = sys.view(file, 0, want.length);
    sys.dropCaches();
    t.is(sys.stats().filePages, pages, 'every pinned page still cached while the file is open');
    // Closed and evicted, the inode's pages leave its mapping (truncate), but pinned frames stay ours.
    sys.close(file);
    sys.dropCaches();
    t.is(sys.stats().filePages, 0);
    t.is(sys.stats().framesUsed, pages, 'the pinned frames are not freed');
    t.true(joined(v.views).equals(want), 'and still hold the file');
    v.release();
    v.release(); // a second release does nothing
    t.is(sys.stats().framesUsed, 0, 'released: every frame back, none leaked');
  } finally {
    sys.detach();
    removeDir(img.dir);
  }
});
