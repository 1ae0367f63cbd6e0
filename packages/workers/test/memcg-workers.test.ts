// Reader tasks carry a memory cgroup (`memcg`): a worker's reads run in it, and the pages they bring into
// the page cache are charged there — computed from the source tree: two mounts without sharing, each
// read by its own cgroup's task, each cgroup pays for its mount's distinct source inodes.
import test from 'ava';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { System } from '@ishare/core';
import { ReaderPool } from '@ishare/workers';
import { edgeImage } from '../../core/test/helpers/images.ts';
import { removeDir } from '../../../test/helpers/trees.ts';

test('a reader task with a memcg field charges its pages to that cgroup; the worker goes back to the root', async (t) => {
  const img = edgeImage([], { bigDir: false });
  const sys = System.create({ poolMiB: 64 });
  const pool = new ReaderPool(sys, { workers: 2 });
  try {
    const mounts = [0, 1].map(() => sys.mount(img.image).mount);
    const paths = sys.listFiles(mounts[0]).map((f) => f.path);
    const seen = new Set<number>();
    let pages = 0;
    for (const p of paths) {
      const st = statSync(join(img.src, p));
      if (!seen.has(st.ino)) pages += Math.ceil(st.size / 4096);
      seen.add(st.ino);
    }
    const ids = [sys.memcgCreate('a'), sys.memcgCreate('b')];
    const rs = await Promise.all(
      mounts.map((mount, i) => pool.run({ kind: 'readFiles', mount, paths, memcg: ids[i] })),
    );
    for (const r of rs) t.deepEqual(r.errors, []);
    for (const id of ids) t.is(sys.memcgStat(id).localBytes, pages * 4096, `cgroup ${id} paid for its mount`);
    // Without a memcg field a task runs in the root again.
    sys.dropCaches();
    await Promise.all(mounts.map((mount) => pool.run({ kind: 'readFiles', mount, paths })));
    t.is(sys.memcgStat(0).localBytes, 2 * pages * 4096, 'charged to the root');
    for (const id of ids) t.is(sys.memcgStat(id).localBytes, 0);
  } finally {
    await pool.destroy();
    sys.detach();
    removeDir(img.dir);
  }
});
