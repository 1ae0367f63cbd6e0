// Readahead gathers the pages of a window that follow each other on the device into one device read
// (fs/erofs/data.ts readaheadGathered). It must read exactly what the per-page path read: every byte
// right when extents are not contiguous (deduplicated chunks), partial and inline tails, and on a
// short device read an error for the reader, no page left locked and a clean re-read afterwards.
import test from 'ava';
import { copyFileSync, mkdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { System } from '@ishare/core';
import { ErofsImage } from '@ishare/core/format';
import { mkfsErofs, sha256 } from './helpers/images.ts';
import { seededBytes, tempDir, removeDir } from '../../../test/helpers/trees.ts';
import { upstreamTool } from '../../../test/helpers/erofs-utils.ts';
import { execFileSync } from 'node:child_process';

const PAGE = 4096;

function tree(root: string): Map<string, Buffer> {
  const a = seededBytes(PAGE, 1);
  const b = seededBytes(PAGE, 2);
  const c = seededBytes(PAGE, 3);
  const files = new Map<string, Buffer>([
    ['/big', seededBytes(300 * PAGE + 123, 4)], // many windows, a partial last page
    ['/pages', seededBytes(40 * PAGE, 5)], // whole pages only
    // Repeated blocks: with --chunksize=4096 mkfs.erofs stores each distinct chunk once, so this file's
    // pages are not contiguous on the device.
    ['/dedup', Buffer.concat([a, b, a, b, c, a, c, c, b, a, seededBytes(1000, 6)])],
    ['/tail', seededBytes(2 * PAGE + 700, 7)], // inline tail by default
    ['/small', seededBytes(100, 8)],
  ]);
  for (const [p, data] of files) writeFileSync(join(root, p), data);
  return files;
}

for (const variant of [[], ['--chunksize=4096']]) {
  test(`gathered reads equal the source, one device read per contiguous run (${variant.join(' ') || 'flat'})`, (t) => {
    const dir = tempDir('ishare-gather-');
    const sys = System.create({ poolMiB: 16 });
    try {
      const src = join(dir, 'src');
      mkdirSync(src);
      const files = tree(src);
      const image = join(dir, 'a.img');
      mkfsErofs(image, src, variant);
      const { mount } = sys.mount(image);
      let pages = 0;
      for (const [p, data] of files) {
        const f = sys.open(mount, p);
        t.is(sha256(sys.readAll(f)), sha256(data), p);
        sys.close(f);
        pages += Math.ceil(data.length / PAGE);
      }
      const st = sys.stats();
      t.is(st.counters.DEVICE_PAGES, pages, 'every page read from the device once');
      const m = st.mounts.find((x) => x.mount === mount)!;
      t.log(`${pages} pages in ${m.reads} device reads, ${st.counters.READAHEAD_CALLS} readahead calls`);
      t.true(m.reads < pages / 4, `device reads (${m.reads}) gathered well below one per page (${pages})`);
    } finally {
      sys.detach();
      removeDir(dir);
    }
  });
}

test('a shared file reading through its own backing inode gathers across chunks as an unshared one does (upstream --chunksize=4096 --xattr-inode-digest)', (t) => {
  const dir = tempDir('ishare-gather-');
  const sys = System.create({ poolMiB: 16 });
  try {
    const src = join(dir, 'src');
    mkdirSync(src);
    const files = tree(src);
    const image = join(dir, 'a.img');
    execFileSync(
      upstreamTool('mkfs.erofs'),
      ['-T0', '--quiet', '--chunksize=4096', '--xattr-inode-digest', image, src],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    const reads = (shared: boolean): number => {
      const r = sys.mount(image, shared ? { inodeShare: true, domainId: 'g' } : {});
      t.is(r.shareActive, shared);
      for (const [p, data] of files) {
        const f = sys.open(r.mount, p);
        t.is(f.mapping !== f.inode, shared, `${p} reads through a shared inode`);
        t.is(sha256(sys.readAll(f)), sha256(data), p);
        sys.close(f);
      }
      const n = sys.stats().mounts.find((x) => x.mount === r.mount)!.reads;
      sys.unmount(r.mount);
      sys.dropCaches();
      return n;
    };
    const unshared = reads(false);
    const owned = sys.stats().counters.REALINODE_OWN;
    const shared = reads(true);
    t.true(sys.stats().counters.REALINODE_OWN > owned, 'the picks landed on the reader’s own inode');
    // The chunks of /big and /pages lie back to back on the device: one run per window either way.
    t.is(shared, unshared, `device reads shared ${shared}, unshared ${unshared}`);
  } finally {
    sys.detach();
    removeDir(dir);
  }
});

test('a short device read fails the read (ETRUNCATED), leaves no page locked, and a later read of the restored image is right', (t) => {
  const dir = tempDir('ishare-gather-');
  const sys = System.create({ poolMiB: 16 });
  try {
    const src = join(dir, 'src');
    mkdirSync(src);
    const files = tree(src);
    const image = join(dir, 'a.img');
    mkfsErofs(image, src);
    const good = join(dir, 'good.img');
    copyFileSync(image, good);
    const img = ErofsImage.open(image);
    const ino = img.resolve('/big');
    const map = img.mapBlocks(ino, 0);
    img.close();
    t.is(map.kind, 'mapped');
    const { mount } = sys.mount(image);
    const f = sys.open(mount, '/big'); // the inode is parsed now; only its data goes missing
    // Cut the image 10 pages into /big's data: the window that crosses the cut comes up short.
    truncateSync(image, map.physical + 10 * PAGE);
    const e = t.throws(() => sys.readAll(f));
    t.regex(String((e as { code?: string }).code), /ETRUNCATED/);
    const st = sys.stats();
    t.true(st.counters.READ_ERRORS >= 1);
    // Nothing may be left locked or referenced: a drop of every cache must free every frame.
    sys.close(f);
    // Put the data back: the pages marked in error are read again, and right.
    writeFileSync(image, readFileSync(good));
    const g = sys.open(mount, '/big');
    t.is(sha256(sys.readAll(g)), sha256(files.get('/big')!));
    sys.close(g);
    sys.unmount(mount);
    sys.dropCaches();
    const after = sys.stats();
    t.is(after.filePages, 0, 'no page left behind');
    t.is(after.framesUsed, 0, 'no frame leaked (a locked or referenced page would stay)');
  } finally {
    sys.detach();
    removeDir(dir);
  }
});
