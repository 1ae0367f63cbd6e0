// A pcluster is decompressed once even when two worker threads want it at the same time: the test
// holds the pcluster's lock (as a thread in the middle of decoding it would), starts two workers
// reading the file, waits until both sleep on that lock, then lets go. One of them reads and decodes
// the pcluster and fills every page; the other wakes to find the pages there and decodes nothing.
// The pcluster's address and the file's single extent come from upstream dump.erofs.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { System } from '@ishare/core';
import { ReaderPool } from '@ishare/workers';
import { zpclLock, zpclUnlock, zpclWord } from '@ishare/core/kernel';
import { textBytes } from '../../../test/helpers/compress-tree.ts';
import { removeDir, tempDir } from '../../../test/helpers/trees.ts';
import { upstreamTool } from '../../../test/helpers/erofs-utils.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('two workers needing the pcluster another thread holds: both wait, it is decoded once', async (t) => {
  const dir = tempDir('ishare-zwait-');
  const src = join(dir, 'src');
  mkdirSync(src);
  const data = textBytes(60_000, 5);
  writeFileSync(join(src, 'one.txt'), data);
  const image = join(dir, 'a.img');
  execFileSync(upstreamTool('mkfs.erofs'), ['-T0', '-zlz4hc', '-C65536', image, src], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const dump = execFileSync(upstreamTool('dump.erofs'), ['-e', '--path=/one.txt', image], { encoding: 'utf8' });
  t.regex(dump, /1 extents found/, 'the file is one extent (one pcluster)');
  const pa = Number(/^\s*0:\s+0\.\.\s*\d+\s*\|\s*\d+\s*:\s*(\d+)\.\./m.exec(dump)![1]);
  const sys = System.create({ poolMiB: 32 });
  const pool = new ReaderPool(sys, { workers: 2 });
  let locked = false;
  let word = 0;
  try {
    const { mount } = sys.mount(image);
    word = zpclWord(sys.arena, mount, 2 * pa);
    zpclLock(sys.arena, word);
    locked = true;
    const reads = [0, 1].map(() =>
      pool.run({ kind: 'readFiles', mount, paths: ['/one.txt'], hash: true, chunk: 4096 }),
    );
    const deadline = Date.now() + 30_000;
    while (sys.stats().counters.Z_PCLUSTER_WAITS < 2 && Date.now() < deadline) await sleep(20);
    const waits = sys.stats().counters.Z_PCLUSTER_WAITS;
    zpclUnlock(sys.arena, word);
    locked = false;
    const results = await Promise.all(reads);
    t.is(waits, 2, 'both readers slept on the pcluster lock');
    const want = createHash('sha256').update(data).digest('hex');
    for (const r of results) {
      t.deepEqual(r.errors, []);
      t.is(r.hashes![0], want);
    }
    t.is(new Set(results.map((r) => r.threadId)).size, 2, 'the reads ran on two threads');
    const c = sys.stats().counters;
    t.is(c.Z_PCLUSTERS, 1, 'decoded once');
    t.is(c.Z_PCLUSTER_SKIPPED, 1, 'the second reader found the pages filled');
    t.is(c.DEVICE_PAGES, Math.ceil(data.length / 4096));
    t.is(sys.stats().filePages, Math.ceil(data.length / 4096));
  } finally {
    if (locked) zpclUnlock(sys.arena, word);
    await pool.destroy();
    sys.detach();
    removeDir(dir);
  }
});

test('workers decompress in parallel: a reader blocked on one pcluster does not stop another reading a different one', async (t) => {
  const dir = tempDir('ishare-zpar-');
  const src = join(dir, 'src');
  mkdirSync(src);
  const a = textBytes(60_000, 6);
  const b = textBytes(50_000, 7);
  writeFileSync(join(src, 'a.txt'), a);
  writeFileSync(join(src, 'b.txt'), b);
  const image = join(dir, 'a.img');
  execFileSync(upstreamTool('mkfs.erofs'), ['-T0', '-zlz4hc', '-C65536', image, src], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const dump = execFileSync(upstreamTool('dump.erofs'), ['-e', '--path=/a.txt', image], { encoding: 'utf8' });
  t.regex(dump, /1 extents found/);
  const pa = Number(/^\s*0:\s+0\.\.\s*\d+\s*\|\s*\d+\s*:\s*(\d+)\.\./m.exec(dump)![1]);
  const sys = System.create({ poolMiB: 32 });
  const pool = new ReaderPool(sys, { workers: 2 });
  let word = -1;
  try {
    const { mount } = sys.mount(image);
    word = zpclWord(sys.arena, mount, 2 * pa);
    zpclLock(sys.arena, word);
    const readA = pool.run({ kind: 'readFiles', mount, paths: ['/a.txt'], hash: true, chunk: 4096 });
    const deadline = Date.now() + 30_000;
    while (sys.stats().counters.Z_PCLUSTER_WAITS < 1 && Date.now() < deadline) await sleep(20);
    t.is(sys.stats().counters.Z_PCLUSTER_WAITS, 1, 'the reader of a.txt sleeps on its pcluster');
    // b.txt's pcluster is another lock stripe (or, by chance, the same one: then this reader waits too).
    const sameStripe =
      zpclWord(
        sys.arena,
        mount,
        2 *
          Number(
            /^\s*0:\s+0\.\.\s*\d+\s*\|\s*\d+\s*:\s*(\d+)\.\./m.exec(
              execFileSync(upstreamTool('dump.erofs'), ['-e', '--path=/b.txt', image], { encoding: 'utf8' }),
            )![1],
          ),
      ) === word;
    if (sameStripe) t.log('b.txt hashes to the same lock stripe: the parallel read is not shown by this image');
    else {
      const rb = await pool.run({ kind: 'readFiles', mount, paths: ['/b.txt'], hash: true, chunk: 4096 });
      t.is(rb.hashes![0], createHash('sha256').update(b).digest('hex'), 'b.txt read while a.txt waits');
      t.is(sys.stats().counters.Z_PCLUSTERS, 1, 'only b.txt decoded so far');
    }
    zpclUnlock(sys.arena, word);
    word = -1;
    const ra = await readA;
    t.is(ra.hashes![0], createHash('sha256').update(a).digest('hex'));
  } finally {
    if (word >= 0) zpclUnlock(sys.arena, word);
    await pool.destroy();
    sys.detach();
    removeDir(dir);
  }
});
