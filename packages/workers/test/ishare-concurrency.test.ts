// Sharing under real concurrency: workers reading the same shared files from two images at once fill
// one shared page cache (the file-level bound), and unmounting/remounting one image while workers read a
// shared file through the other never returns a wrong byte or stalls.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { System } from '@ishare/core';
import { ReaderPool } from '@ishare/workers';
import { versionPair } from '../../core/test/helpers/share-trees.ts';
import { removeDir, snapshotTree } from '../../../test/helpers/trees.ts';

function watchdog<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const dog = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`watchdog: ${what} did not finish in ${ms} ms`)), ms);
  });
  return Promise.race([p, dog]).finally(() => clearTimeout(timer));
}

for (const policy of ['processing', 'any'] as const) {
  test(`policy ${policy}: 4 workers × 2 images fill exactly the distinct-content pages`, async (t) => {
    const pair = await versionPair();
    const sys = System.create({ poolMiB: 32, policy });
    const pool = new ReaderPool(sys, { workers: 4 });
    try {
      const mounts = pair.images.map((img) => sys.mount(img, { inodeShare: true, domainId: 'x' }).mount);
      const jobs = [];
      for (let i = 0; i < 4; i++) {
        const m = mounts[i % 2];
        jobs.push(
          pool
            .run({ kind: 'readFiles', mount: m, paths: sys.listFiles(m).map((f) => f.path), hash: true, chunk: 4096 })
            .then((r) => ({ r, m })),
        );
      }
      const done = await watchdog(Promise.all(jobs), 60_000, 'shared reads');
      for (const { r, m } of done) {
        t.deepEqual(r.errors, []);
        const src = pair.srcs[mounts.indexOf(m)];
        const paths = sys.listFiles(m).map((f) => f.path);
        r.hashes!.forEach((h, i) =>
          t.is(
            h,
            createHash('sha256')
              .update(readFileSync(join(src, paths[i])))
              .digest('hex'),
            paths[i],
          ),
        );
      }
      // File-level bound, computed from the source trees: pages of distinct contents counted once.
      const distinct = new Map<string, number>();
      for (const src of pair.srcs)
        for (const [, e] of snapshotTree(src)) if (e.type === 'file') distinct.set(e.sha256!, Math.ceil(e.size / 4096));
      const bound = [...distinct.values()].reduce((x, y) => x + y, 0);
      const st = sys.stats();
      t.is(st.filePages, bound);
      t.is(st.counters.DEVICE_PAGES, bound, 'each distinct page read from a device once');
      t.log(
        `${policy}: ${bound} pages; real inode from processing list ${st.counters.REALINODE_PROCESSING}, from backing list ${st.counters.REALINODE_BACKING}; served ${st.mounts.map((m) => m.pages).join('/')}`,
      );
    } finally {
      await pool.destroy();
      sys.detach();
      removeDir(pair.dir);
    }
  });
}

test('unmount and remount one image while workers read shared files through the other: no wrong byte, no stall', async (t) => {
  const pair = await versionPair();
  const sys = System.create({ poolBytes: 96 * 4096, policy: 'processing' });
  const pool = new ReaderPool(sys, { workers: 3 });
  try {
    let a = sys.mount(pair.images[0], { inodeShare: true, domainId: 'test' }).mount;
    const b = sys.mount(pair.images[1], { inodeShare: true, domainId: 'test' }).mount;
    const paths = ['/lib/libc.so.6', '/lib/libm.so.6', '/lib/copy-of-libm', '/new-name'];
    const want = paths.map((p) =>
      createHash('sha256')
        .update(readFileSync(join(pair.srcs[1], p)))
        .digest('hex'),
    );
    let stop = false;
    let cycles = 0;
    // The main thread keeps image A mounted-and-reading, then unmounts it under the workers' feet.
    const chaos = (async () => {
      while (!stop) {
        const f = sys.open(a, '/lib/libc.so.6');
        sys.read(f, 0, 8192, Buffer.alloc(8192)); // A's inodes join the backing lists and serve reads
        sys.close(f);
        sys.dropCaches();
        sys.unmount(a);
        a = sys.mount(pair.images[0], { inodeShare: true, domainId: 'test' }).mount;
        cycles++;
        await new Promise((r) => setTimeout(r, 1));
      }
    })();
    const jobs = [];
    for (let i = 0; i < 24; i++) jobs.push(pool.run({ kind: 'readFiles', mount: b, paths, hash: true, chunk: 4096 }));
    const results = await watchdog(Promise.all(jobs), 120_000, 'reads during unmount/remount');
    stop = true;
    await chaos;
    for (const r of results) {
      t.deepEqual(r.errors, []);
      t.deepEqual(r.hashes, want);
    }
    t.true(cycles > 0);
    sys.unmount(a);
    sys.unmount(b);
    const st = sys.stats();
    t.is(st.filePages, 0);
    t.is(st.inodesInUse, 0, 'no inode or shared inode leaked');
    t.is(st.framesUsed, 0, 'no frame leaked');
    t.log(
      `unmount/remount cycles: ${cycles}; served by mount: ${JSON.stringify(st.counters.REALINODE_PROCESSING)} processing picks`,
    );
  } finally {
    await pool.destroy();
    sys.detach();
    removeDir(pair.dir);
  }
});
