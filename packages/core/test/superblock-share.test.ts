// superblock_share (mainline 7.4, "erofs: reuse superblock for file-backed mounts"): mounts of one
// backing file with the same options reuse one superblock, refcounted; and the metadata the kernel model
// reports beside the page cache. Every expected figure comes from the source trees (files, hard links,
// contents) and the number of mounts, never from the kernel under test.
import test from 'ava';
import { createHash } from 'node:crypto';
import { copyFileSync, linkSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { System, PAGE_SIZE } from '@ishare/core';
import { versionPair } from './helpers/share-trees.ts';
import type { VersionPair } from './helpers/share-trees.ts';
import { removeDir } from '../../../test/helpers/trees.ts';

interface TreeFile {
  readonly path: string;
  readonly inode: string;
  readonly size: number;
  readonly digest: string;
}

/** Regular files of a source tree: path, source inode (hard links share it), size, content digest. */
function treeFiles(root: string): TreeFile[] {
  const out: TreeFile[] = [];
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(root, rel))) {
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(root, r));
      if (st.isDirectory()) walk(r);
      else if (st.isFile()) {
        const digest = createHash('sha256')
          .update(readFileSync(join(root, r)))
          .digest('hex');
        out.push({ path: `/${r}`, inode: `${st.dev}:${st.ino}`, size: st.size, digest });
      }
    }
  };
  walk('');
  return out;
}

const pages = (size: number): number => Math.ceil(size / PAGE_SIZE);

/** Page-cache pages of one superblock after every file is read: each distinct inode once. */
function inodePages(files: readonly TreeFile[]): number {
  const seen = new Map<string, number>();
  for (const f of files) seen.set(f.inode, pages(f.size));
  return [...seen.values()].reduce((s, n) => s + n, 0);
}
function distinctInodes(files: readonly TreeFile[]): number {
  return new Set(files.map((f) => f.inode)).size;
}
/** Distinct non-empty contents (what inode_share dedups, one shared inode each) and their pages. */
function contents(trees: readonly (readonly TreeFile[])[]): { count: number; pages: number } {
  const seen = new Map<string, number>();
  for (const files of trees) for (const f of files) if (f.size > 0) seen.set(f.digest, pages(f.size));
  return { count: seen.size, pages: [...seen.values()].reduce((s, n) => s + n, 0) };
}

function readEverything(sys: System, m: number, files: readonly TreeFile[]): void {
  for (const f of files) {
    const fd = sys.open(m, f.path);
    try {
      sys.readAll(fd);
    } finally {
      sys.close(fd);
    }
  }
}

let pair: VersionPair;
test.before(async () => {
  pair = await versionPair();
});
test.after.always(() => removeDir(pair.dir));

test('a second superblock_share mount reuses the superblock; it lives until its last mount goes', (t) => {
  const [imgA] = pair.images;
  const want = readFileSync(join(pair.srcs[0], 'lib/libc.so.6'));
  const sys = System.create({ poolMiB: 16 });
  try {
    const r1 = sys.mount(imgA, { superblockShare: true });
    const r2 = sys.mount(imgA, { superblockShare: true });
    t.false(r1.superblockReused);
    t.true(r2.superblockReused, 'the second mount found the first one');
    t.is(r2.mount, r1.mount, 'one superblock: the same slot');
    const m = r1.mount;
    t.like(sys.metadata(), { superblocks: 1, mounts: 2 });
    const f1 = sys.open(m, '/lib/libc.so.6');
    const f2 = sys.open(r2.mount, '/lib/libc.so.6');
    t.is(f1.inode, f2.inode, 'both mounts see one inode');
    sys.close(f1);
    sys.close(f2);
    sys.unmount(r1.mount);
    t.like(sys.metadata(), { superblocks: 1, mounts: 1 });
    const f = sys.open(r2.mount, '/lib/libc.so.6');
    t.true(sys.readAll(f).equals(want), 'the other mount still reads the file after one unmount');
    sys.close(f);
    sys.unmount(r2.mount);
    t.like(sys.metadata(), { superblocks: 0, mounts: 0, inodes: 0 });
    t.throws(() => sys.unmount(r2.mount), { message: /not mounted/ }, 'one unmount per mount, no more');
    t.throws(() => sys.open(r2.mount, '/lib/libc.so.6'), { message: /not mounted/ });
  } finally {
    sys.detach();
  }
});

test('superblock_share matches the backing file (inode, not path) and every option; otherwise a superblock of its own', (t) => {
  const [imgA, imgB] = pair.images;
  const copy = join(pair.dir, 'copy-of-v1.img');
  const hardlink = join(pair.dir, 'link-to-v1.img');
  copyFileSync(imgA, copy);
  linkSync(imgA, hardlink);
  const sys = System.create({ poolMiB: 16 });
  try {
    const base = sys.mount(imgA, { superblockShare: true, inodeShare: true, domainId: 'd' }).mount;
    const cases: [string, string, Parameters<System['mount']>[1], boolean][] = [
      ['same file, same options', imgA, { superblockShare: true, inodeShare: true, domainId: 'd' }, true],
      ['hard link to the file', hardlink, { superblockShare: true, inodeShare: true, domainId: 'd' }, true],
      ['byte-identical copy', copy, { superblockShare: true, inodeShare: true, domainId: 'd' }, false],
      ['another image', imgB, { superblockShare: true, inodeShare: true, domainId: 'd' }, false],
      ['other domain', imgA, { superblockShare: true, inodeShare: true, domainId: 'e' }, false],
      ['without inode_share', imgA, { superblockShare: true }, false],
      ['without superblock_share', imgA, { inodeShare: true, domainId: 'd' }, false],
      ['with verify', imgA, { superblockShare: true, inodeShare: true, domainId: 'd', verify: true }, false],
    ];
    const mounted: number[] = [];
    let superblocks = 1;
    for (const [what, img, opts, shares] of cases) {
      const r = sys.mount(img, opts);
      mounted.push(r.mount);
      if (!shares) superblocks++;
      t.is(r.mount === base, shares, what);
      t.is(r.superblockReused, shares, what);
    }
    t.like(sys.metadata(), { superblocks, mounts: cases.length + 1 });
    for (const m of mounted) sys.unmount(m);
    sys.unmount(base);
    t.like(sys.metadata(), { superblocks: 0, mounts: 0 });
  } finally {
    sys.detach();
  }
});

test('page cache and metadata, from the trees: per mount, per superblock with superblock_share, per content with inode_share', (t) => {
  const [imgA, imgB] = pair.images;
  const A = treeFiles(pair.srcs[0]);
  const B = treeFiles(pair.srcs[1]);
  // Three containers: two of image A, one of image B.
  const mounts: [string, TreeFile[]][] = [
    [imgA, A],
    [imgA, A],
    [imgB, B],
  ];
  const distinctImages: [string, TreeFile[]][] = [
    [imgA, A],
    [imgB, B],
  ];
  const shared = contents([A, B]);
  for (const sbShare of [false, true]) {
    for (const inodeShare of [false, true]) {
      const label = `superblock_share ${sbShare ? 'on' : 'off'}, inode_share ${inodeShare ? 'on' : 'off'}`;
      const sys = System.create({ poolMiB: 32 });
      try {
        const ms = mounts.map(
          ([img]) => sys.mount(img, { superblockShare: sbShare, inodeShare, domainId: inodeShare ? 'd' : '' }).mount,
        );
        mounts.forEach(([, files], i) => readEverything(sys, ms[i], files));
        const supers = sbShare ? distinctImages : mounts;
        const wantPages = inodeShare ? shared.pages : supers.reduce((s, [, f]) => s + inodePages(f), 0);
        const st = sys.stats();
        t.is(st.filePages, wantPages, `${label}: page cache`);
        const md = st.metadata;
        t.is(md.superblocks, supers.length, `${label}: superblocks`);
        t.is(md.mounts, mounts.length, `${label}: mounts`);
        const ownInodes = supers.reduce((s, [, f]) => s + distinctInodes(f), 0);
        t.is(md.sharedInodes, inodeShare ? shared.count : 0, `${label}: shared inodes`);
        t.is(md.inodes, ownInodes + md.sharedInodes, `${label}: inode records`);
        t.is(md.arenaControlBytes, md.inodeRecordBytes + md.superblockRecordBytes);
        t.is(md.threadStates, supers.length, `${label}: one thread, one parsed state per superblock`);
        t.is(
          md.dentries,
          supers.reduce((s, [, f]) => s + f.length, 0),
          `${label}: one path-cache entry per path opened`,
        );
        // One container of image A goes: with superblock_share the other keeps the superblock, its
        // inodes and their pages, and reads them again without touching the device.
        sys.unmount(ms[0]);
        if (sbShare) {
          t.is(sys.stats().filePages, wantPages, `${label}: the first unmount took no page away`);
          const before = sys.stats().counters.DEVICE_PAGES;
          readEverything(sys, ms[1], A);
          t.is(sys.stats().counters.DEVICE_PAGES, before, `${label}: the other mount reads from the cache`);
        }
        t.like(sys.metadata(), { superblocks: 2, mounts: 2 }, `${label}: after one unmount`);
        sys.unmount(ms[1]);
        sys.unmount(ms[2]);
        t.like(sys.metadata(), { superblocks: 0, mounts: 0, dentries: 0, threadStates: 0 }, `${label}: all gone`);
      } finally {
        sys.detach();
      }
    }
  }
});
