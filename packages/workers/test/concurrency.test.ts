// Real worker threads racing on one shared page cache: the same files read by every worker at once
// must land in exactly one frame per page with one device read per page; reads racing with cache
// drops and reclaim must never return a wrong byte or lose a wake-up (a watchdog fails instead of hanging).
import test from 'ava';
import { System } from '@ishare/core';
import { ReaderPool } from '@ishare/workers';
import { edgeImage, sourceHashes } from '../../core/test/helpers/images.ts';
import { removeDir } from '../../../test/helpers/trees.ts';

function watchdog<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const dog = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`watchdog: ${what} did not finish in ${ms} ms (hang or lost wake-up)`)),
      ms,
    );
  });
  return Promise.race([p, dog]).finally(() => clearTimeout(timer));
}

test('N workers × the same files: one frame per page, one device read per page, every byte right', async (t) => {
  const img = edgeImage([], { bigDir: false });
  const sys = System.create({ poolMiB: 64 });
  const pool = new ReaderPool(sys, { workers: 4 });
  try {
    const { mount } = sys.mount(img.image);
    const want = sourceHashes(img.src);
    const files = sys.listFiles(mount);
    const paths = files.map((f) => f.path);
    // Every worker gets the whole list at once: they collide on every page.
    const results = await watchdog(
      Promise.all([0, 1, 2, 3].map(() => pool.run({ kind: 'readFiles', mount, paths, hash: true, chunk: 4096 }))),
      60_000,
      'concurrent reads',
    );
    const threads = new Set(results.map((r) => r.threadId));
    t.true(threads.size >= 2, `work ran on ${threads.size} worker threads`);
    for (const r of results) {
      t.deepEqual(r.errors, []);
      r.hashes!.forEach((h, i) => t.is(h, want.get(paths[i])!, paths[i]));
    }
    const pages = new Map<number, number>();
    for (const f of files) pages.set(f.nid, Math.ceil(f.size / 4096));
    const total = [...pages.values()].reduce((x, y) => x + y, 0);
    const st = sys.stats();
    t.is(st.filePages, total, 'exactly one frame per page');
    t.is(st.counters.DEVICE_PAGES, total, 'one device read per page');
    t.is(st.framesUsed, total, 'no frame leaked');
    t.log(
      `pages ${total}, lock waits ${st.counters.LOCK_WAITS}, page-index spins ${st.locks[0].spins}, sleeps ${st.locks[0].sleeps}`,
    );
  } finally {
    await pool.destroy();
    sys.detach();
    removeDir(img.dir);
  }
});

test('workers reading while the main thread drops caches and the pool is tiny: no wrong byte, no hang', async (t) => {
  const img = edgeImage([], { bigDir: false });
  const sys = System.create({ poolBytes: 128 * 4096 });
  const pool = new ReaderPool(sys, { workers: 4 });
  try {
    const { mount } = sys.mount(img.image);
    const want = sourceHashes(img.src);
    const paths = sys.listFiles(mount).map((f) => f.path);
    let stop = false;
    let drops = 0;
    const chaos = (async () => {
      while (!stop) {
        sys.dropCaches();
        drops++;
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    const rounds = [];
    for (let i = 0; i < 12; i++) rounds.push(pool.run({ kind: 'readFiles', mount, paths, hash: true, chunk: 8192 }));
    const results = await watchdog(Promise.all(rounds), 120_000, 'reads under eviction');
    stop = true;
    await chaos;
    for (const r of results) {
      t.deepEqual(r.errors, []);
      r.hashes!.forEach((h, i) => t.is(h, want.get(paths[i])!, paths[i]));
    }
    const st = sys.stats();
    t.true(drops > 0);
    t.true(st.counters.RECLAIMED > 0, 'reclaim really ran');
    sys.dropCaches();
    const after = sys.stats();
    t.is(after.filePages, 0, 'quiesced: nothing pinned, everything droppable');
    t.is(after.framesUsed, 0, 'no frame leaked');
    t.is(after.inodesInUse, 0, 'no inode reference leaked');
    t.log(`drops ${drops}, reclaimed ${st.counters.RECLAIMED}, lock waits ${st.counters.LOCK_WAITS}`);
  } finally {
    await pool.destroy();
    sys.detach();
    removeDir(img.dir);
  }
});
