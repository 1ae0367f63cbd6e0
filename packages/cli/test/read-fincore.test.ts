// `ishare read --fincore` (each file's residency as fincore(1) lists it) and `--superblock-share` as a
// user runs them. Expected values come from the source tree (sizes, hard links) and from util-linux's
// fincore itself (how it writes a size), never from our kernel.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { closeSync, linkSync, mkdirSync, openSync, ftruncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mkfs, PAGE_SIZE } from '@ishare/core';
import type { ReadResult } from '@ishare/workers';
import { ishare, json } from './helpers/run.ts';
import { fincoreSize } from '../src/commands/read.ts';
import { hasCommand, removeDir, seededBytes, tempDir } from '../../../test/helpers/trees.ts';

test('sizes are written as util-linux fincore writes its SIZE column', (t) => {
  if (!hasCommand('fincore')) {
    t.log('skipped: util-linux fincore is not installed');
    t.pass();
    return;
  }
  const dir = tempDir('ishare-fincore-size-');
  try {
    const sizes = [0, 1, 1023, 1024, 1536, 4096, 50_000, 300_000, 1_048_576, 10 * 1_048_576 + 12_345, 5 * 2 ** 30];
    const files = sizes.map((n, i) => {
      const p = join(dir, `f${i}`);
      const fd = openSync(p, 'w');
      ftruncateSync(fd, n); // sparse: SIZE is st_size, whatever is cached
      closeSync(fd);
      return p;
    });
    const r = spawnSync('fincore', ['--noheadings', '--output', 'SIZE', ...files], { encoding: 'utf8' });
    t.is(r.status, 0, r.stderr);
    const theirs = r.stdout.split('\n').filter((l) => l.trim() !== '');
    t.deepEqual(
      sizes.map((n) => fincoreSize(n)),
      theirs.map((l) => l.trim()),
    );
  } finally {
    removeDir(dir);
  }
});

test('read --fincore --superblock-share: one superblock for an image given twice, each file resident in full', async (t) => {
  const dir = tempDir('ishare-read-fincore-');
  try {
    const src = join(dir, 'src');
    mkdirSync(join(src, 'lib'), { recursive: true });
    const files: Record<string, number> = { '/lib/a': 300_000, '/lib/b': 50_000, '/lib/tiny': 10, '/empty': 0 };
    Object.entries(files).forEach(([p, n], i) => writeFileSync(join(src, p), seededBytes(n, i + 1)));
    linkSync(join(src, 'lib/a'), join(src, 'lib/a-link')); // one inode, two paths
    files['/lib/a-link'] = files['/lib/a'];
    const img = join(dir, 'x.img');
    await mkfs({ out: img, source: src, timestamp: 1_700_000_000 });
    const r = await ishare(['read', '--json', '--fincore', '--superblock-share', '--workers', '1', img, img]);
    t.is(r.status, 0, r.stderr);
    const doc = json<ReadResult>(r);
    // Each distinct inode of the tree once: the two mounts are one superblock.
    const inodePages = [300_000, 50_000, 10, 0].reduce((s, n) => s + Math.ceil(n / PAGE_SIZE), 0);
    t.is(doc.filePages, inodePages);
    t.like(doc.metadata, { superblocks: 1, mounts: 2 });
    t.true(doc.superblockShare);
    for (const x of doc.perImage) {
      const got = Object.fromEntries((x.fincore ?? []).map((f) => [f.file, f]));
      t.deepEqual(Object.keys(got).sort(), Object.keys(files).sort(), 'every regular file listed');
      for (const [p, n] of Object.entries(files))
        t.like(got[p], { size: n, pages: Math.ceil(n / PAGE_SIZE), res: Math.ceil(n / PAGE_SIZE) * PAGE_SIZE }, p);
    }
  } finally {
    removeDir(dir);
  }
});
