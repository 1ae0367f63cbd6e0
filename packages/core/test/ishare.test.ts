// Page-cache sharing mechanism (single thread, deterministic): shared inodes, backing and processing
// lists, both real-inode policies, the seed's unhandled cases, eviction and unmount, domains, size checks.
import test from 'ava';
import { copyFileSync, writeFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { System, mkfs, ErofsError, type OpenFile } from '@ishare/core';
import {
  ishareOf,
  sharedInodeView,
  readBegin,
  readEnd,
  realInode,
  processingCount,
  POLICY_ANY,
  POLICY_PROCESSING,
} from '../src/fs/erofs/ishare.ts';
import { inodeMount, inodeWord, iput, I_FREEING } from '../src/vfs/inode.ts';
import { readLockStats, setCountAcquisitions } from '../src/mm/lockstat.ts';
import { versionPair, forgeFingerprint } from './helpers/share-trees.ts';
import { sha256, mkfsErofs } from './helpers/images.ts';
import { removeDir, seededBytes, tempDir } from '../../../test/helpers/trees.ts';

function readPath(sys: System, m: number, path: string): Buffer {
  const f = sys.open(m, path);
  try {
    return sys.readAll(f);
  } finally {
    sys.close(f);
  }
}

test('identical files of two images read through one shared inode; changed files do not', async (t) => {
  const pair = await versionPair();
  const sys = System.create({ poolMiB: 32 });
  try {
    const [a, b] = pair.images.map((img) => sys.mount(img, { inodeShare: true, domainId: 'd' }).mount);
    const fa = sys.open(a, '/lib/libc.so.6');
    const fb = sys.open(b, '/lib/libc.so.6');
    t.not(fa.mapping, fa.inode, 'a shared file reads through the shared inode');
    t.is(fa.mapping, fb.mapping, 'both images attach to the same shared inode');
    const view = sharedInodeView(sys.arena, fa.mapping);
    t.deepEqual(view.backing.map((s) => inodeMount(sys.arena, s)).sort(), [a, b].sort(), 'one backing inode per image');
    t.is(view.nbacking, 2);
    t.deepEqual(view.processing, [], 'nobody reading: processing list empty');
    t.true(sys.readAll(fa).equals(readFileSync(join(pair.srcs[0], 'lib/libc.so.6'))));
    const before = sys.stats().counters.DEVICE_PAGES;
    t.true(sys.readAll(fb).equals(readFileSync(join(pair.srcs[1], 'lib/libc.so.6'))));
    t.is(sys.stats().counters.DEVICE_PAGES, before, 'the second image read hits the shared pages');
    sys.close(fa);
    sys.close(fb);
    const ca = sys.open(a, '/bin/config');
    const cb = sys.open(b, '/bin/config');
    t.not(ca.mapping, cb.mapping, 'different content, different shared inodes');
    t.is(sys.readAll(ca).toString(), 'version=1\n');
    t.is(sys.readAll(cb).toString(), 'version=2\n');
    sys.close(ca);
    sys.close(cb);
    // Duplicates inside one image share too, and a moved file shares across paths.
    const m1 = sys.open(a, '/lib/libm.so.6');
    const m2 = sys.open(a, '/lib/copy-of-libm');
    const o = sys.open(a, '/old-name');
    const n = sys.open(b, '/new-name');
    t.is(m1.mapping, m2.mapping);
    t.is(o.mapping, n.mapping);
    for (const f of [m1, m2, o, n]) sys.close(f);
  } finally {
    sys.detach();
    removeDir(pair.dir);
  }
});

test('sharing needs both the option and the fingerprint feature; otherwise the mount warns and falls back', async (t) => {
  const pair = await versionPair({ fingerprint: false });
  const dir = tempDir();
  const sys = System.create({ poolMiB: 16 });
  try {
    const r = sys.mount(pair.images[0], { inodeShare: true, domainId: 'test' });
    t.false(r.shareActive);
    t.regex(r.warning ?? '', /no fingerprints; mounted without sharing/);
    const f = sys.open(r.mount, '/lib/libc.so.6');
    t.is(f.mapping, f.inode);
    sys.close(f);
    // A mkfs.erofs image has no fingerprints either.
    mkdirSync(join(dir, 's'));
    writeFileSync(join(dir, 's', 'f'), 'hello');
    mkfsErofs(join(dir, 'r.img'), join(dir, 's'));
    t.false(sys.mount(join(dir, 'r.img'), { inodeShare: true, domainId: 'test' }).shareActive);
    // Fingerprints without the option: no sharing.
    const p2 = await versionPair();
    const m = sys.mount(p2.images[0], {}).mount;
    const g = sys.open(m, '/lib/libc.so.6');
    t.is(g.mapping, g.inode);
    sys.close(g);
    removeDir(p2.dir);
  } finally {
    sys.detach();
    removeDir(pair.dir);
    removeDir(dir);
  }
});

/**
 * Both images of the pair mounted with sharing in one domain, libc.so.6 open in each: the shared inode,
 * the head of its backing list (`first`) and the other image's backing inode.
 */
function twoReaders(
  sys: System,
  images: readonly string[],
): { fa: OpenFile; fb: OpenFile; dedup: number; first: number; other: number } {
  const a = sys.mount(images[0], { inodeShare: true, domainId: 'test' }).mount;
  const b = sys.mount(images[1], { inodeShare: true, domainId: 'test' }).mount;
  const fa = sys.open(a, '/lib/libc.so.6');
  const fb = sys.open(b, '/lib/libc.so.6');
  const dedup = fa.mapping;
  const first = sharedInodeView(sys.arena, dedup).backing[0];
  return { fa, fb, dedup, first, other: first === fa.inode ? fb.inode : fa.inode };
}

test("the pick takes no lock when the list it walks first starts with the reader's own inode, and takes it otherwise", async (t) => {
  const pair = await versionPair();
  const sys = System.create({ poolMiB: 16 });
  setCountAcquisitions(true);
  try {
    const { fa, fb, dedup, first, other } = twoReaders(sys, pair.images);
    const ar = sys.arena;
    const out = { grabbed: true, candidates: 0 };
    const ishareLocks = (): number => readLockStats(ar.i32).find((c) => c.name === 'ishare')!.acquisitions;
    // [the pick, the shared inode's lock acquisitions it made]
    const pick = (policy: number, own: number): [number, number] => {
      const before = ishareLocks();
      const r = realInode(ar, dedup, policy, out, own);
      const locks = ishareLocks() - before;
      if (out.grabbed) iput(ar, r, sys.kernel.ops);
      return [r, locks];
    };
    // Mainline's policy walks the backing list, headed by `first`.
    t.deepEqual(pick(POLICY_ANY, first), [first, 0]);
    t.deepEqual(pick(POLICY_ANY, other), [first, 1]);
    // The seed's walks the processing list first: empty, so the pick of `first` is made under the lock.
    t.deepEqual(pick(POLICY_PROCESSING, first), [first, 1]);
    readBegin(ar, other, dedup);
    t.deepEqual(pick(POLICY_PROCESSING, other), [other, 0]);
    t.deepEqual(pick(POLICY_PROCESSING, first), [other, 1]);
    // list_add puts `first` in front of `other`: `other` is now second, and its pick takes the lock.
    readBegin(ar, first, dedup);
    t.deepEqual(pick(POLICY_PROCESSING, other), [first, 1]);
    t.deepEqual(pick(POLICY_PROCESSING, first), [first, 0]);
    readEnd(ar, first, dedup);
    readEnd(ar, other, dedup);
    t.is(sys.inodeCount(first), 1, 'every reference a pick took was dropped');
    t.is(sys.inodeCount(other), 1);
    sys.close(fa);
    sys.close(fb);
  } finally {
    setCountAcquisitions(false);
    sys.detach();
    removeDir(pair.dir);
  }
});

test('processing policy prefers an inode whose read is in flight; any takes the first live backing inode', async (t) => {
  const pair = await versionPair();
  const sys = System.create({ poolMiB: 16 });
  try {
    const { fa, fb, dedup, first, other } = twoReaders(sys, pair.images);
    const ar = sys.arena;
    const out = { grabbed: false, candidates: 0 };
    // Nobody processing: both policies take the head of the backing list.
    for (const p of [POLICY_PROCESSING, POLICY_ANY]) {
      const r = realInode(ar, dedup, p, out);
      t.is(r, first);
      t.true(out.grabbed);
      t.is(sys.inodeCount(r), 2, 'igrab took a reference (file + realInode)');
      iput(ar, r, sys.kernel.ops);
    }
    readBegin(ar, other, dedup);
    readBegin(ar, other, dedup);
    t.is(processingCount(ar, other), 2);
    t.deepEqual(sharedInodeView(ar, dedup).processing, [other]);
    const rp = realInode(ar, dedup, POLICY_PROCESSING, out);
    t.is(rp, other, 'v7: the processing inode first');
    iput(ar, rp, sys.kernel.ops);
    const ra = realInode(ar, dedup, POLICY_ANY, out);
    t.is(ra, first, 'mainline: any live backing inode');
    iput(ar, ra, sys.kernel.ops);
    readEnd(ar, other, dedup);
    t.deepEqual(sharedInodeView(ar, dedup).processing, [other], 'still one read in flight');
    readEnd(ar, other, dedup);
    t.is(processingCount(ar, other), 0);
    t.deepEqual(sharedInodeView(ar, dedup).processing, []);
    sys.close(fa);
    sys.close(fb);
  } finally {
    sys.detach();
    removeDir(pair.dir);
  }
});

test("a reader's own backing inode, which its open file holds, is picked as the seed picks it but without a reference of its own; any other pick takes one", async (t) => {
  const pair = await versionPair();
  const sys = System.create({ poolMiB: 16 });
  try {
    const { fa, fb, dedup, first, other } = twoReaders(sys, pair.images);
    const ar = sys.arena;
    const out = { grabbed: true, candidates: 0 };
    // Each open file holds one reference on its backing inode.
    t.is(sys.inodeCount(first), 1);
    t.is(sys.inodeCount(other), 1);
    // Nobody processing, mainline's pick: the head of the backing list, whoever reads.
    t.is(realInode(ar, dedup, POLICY_ANY, out, first), first);
    t.false(out.grabbed, 'its own inode: no reference taken');
    t.is(sys.inodeCount(first), 1);
    t.is(realInode(ar, dedup, POLICY_ANY, out, other), first, 'the same pick for the other reader');
    t.true(out.grabbed, "another image's inode: referenced");
    t.is(sys.inodeCount(first), 2);
    iput(ar, first, sys.kernel.ops);
    // v7: the inode whose read is in flight first, whoever asks.
    readBegin(ar, other, dedup);
    t.is(realInode(ar, dedup, POLICY_PROCESSING, out, other), other);
    t.false(out.grabbed);
    t.is(sys.inodeCount(other), 1);
    t.is(realInode(ar, dedup, POLICY_PROCESSING, out, first), other);
    t.true(out.grabbed);
    t.is(sys.inodeCount(other), 2);
    iput(ar, other, sys.kernel.ops);
    // Candidate by candidate: the reader's own inode behind another one on the processing list (list_add
    // puts the latest at the head) is not preferred; behind one being evicted, it is the next pick.
    readEnd(ar, other, dedup);
    readBegin(ar, first, dedup);
    readBegin(ar, other, dedup);
    t.deepEqual(sharedInodeView(ar, dedup).processing, [other, first]);
    t.is(realInode(ar, dedup, POLICY_PROCESSING, out, first), other);
    t.true(out.grabbed);
    iput(ar, other, sys.kernel.ops);
    const owned = sys.stats().counters.REALINODE_OWN;
    Atomics.or(ar.i32, inodeWord(ar, other, 1), I_FREEING); // as if mid-eviction: igrab fails on it
    t.is(realInode(ar, dedup, POLICY_PROCESSING, out, first), first);
    t.false(out.grabbed);
    t.is(out.candidates, 2);
    t.is(sys.inodeCount(first), 1);
    t.is(sys.stats().counters.REALINODE_OWN, owned + 1);
    Atomics.and(ar.i32, inodeWord(ar, other, 1), ~I_FREEING);
    readEnd(ar, other, dedup);
    readEnd(ar, first, dedup);
    t.deepEqual(sharedInodeView(ar, dedup).processing, []);
    // Through the read path: each file reads its bytes, and no reference is left behind.
    const want = readFileSync(join(pair.srcs[0], 'lib/libc.so.6'));
    t.true(sys.readAll(fa).equals(want));
    t.true(sys.readAll(fb).equals(want));
    t.is(sys.inodeCount(fa.inode), 1);
    t.is(sys.inodeCount(fb.inode), 1);
    const [ia, ib] = [fa.inode, fb.inode];
    sys.close(fa);
    sys.close(fb);
    t.is(sys.inodeCount(ia), 0, 'unused once closed: evictable');
    t.is(sys.inodeCount(ib), 0);
  } finally {
    sys.detach();
    removeDir(pair.dir);
  }
});

test('every backing inode being freed (the seed left realinode NULL): retried, then a clear I/O error', async (t) => {
  const pair = await versionPair();
  const sys = System.create({ poolMiB: 16 });
  try {
    const a = sys.mount(pair.images[0], { inodeShare: true, domainId: 'test' }).mount;
    const f = sys.open(a, '/lib/libm.so.6');
    const copy = sys.open(a, '/lib/copy-of-libm'); // inodes join at fill time (lookup), as in the kernel
    const backing = sharedInodeView(sys.arena, f.mapping).backing;
    t.true(backing.length >= 2);
    // A reader whose own backing inode its open file holds always has that one to read through; the
    // seed's NULL comes to a reader holding none — an mmap whose file is closed — when every backing
    // inode is mid-eviction. Make igrab fail on every one, as if each were.
    const map = sys.mmap(f);
    sys.close(f);
    sys.close(copy);
    for (const s of backing) Atomics.or(sys.arena.i32, inodeWord(sys.arena, s, 1), I_FREEING);
    const err = t.throws(() => sys.readAll(map), { instanceOf: ErofsError });
    t.is(err?.code, 'EIO');
    t.regex(err?.message ?? '', /no live backing inode/);
    const st = sys.stats();
    t.true(st.counters.REALINODE_RETRY > 0, 'retried before giving up');
    t.is(st.counters.REALINODE_EIO, 1);
    for (const s of backing) Atomics.and(sys.arena.i32, inodeWord(sys.arena, s, 1), ~I_FREEING);
    t.true(
      sys.readAll(map).equals(readFileSync(join(pair.srcs[0], 'lib/libm.so.6'))),
      'the failed pages are read again correctly',
    );
    sys.munmap(map);
  } finally {
    sys.detach();
    removeDir(pair.dir);
  }
});

test('mmap of a shared file pins only the shared inode: after close it reads through whichever image is left, and with none left fails at once', async (t) => {
  const pair = await versionPair();
  const sys = System.create({ poolMiB: 16 });
  try {
    const a = sys.mount(pair.images[0], { inodeShare: true, domainId: 'd' }).mount;
    const b = sys.mount(pair.images[1], { inodeShare: true, domainId: 'd' }).mount;
    const want = readFileSync(join(pair.srcs[0], 'lib/libc.so.6'));
    const f = sys.open(a, '/lib/libc.so.6');
    const map = sys.mmap(f);
    t.is(map.mapping, f.mapping);
    sys.close(f);
    const fb = sys.open(b, '/lib/libc.so.6');
    sys.close(fb);
    sys.unmount(a); // the mapping does not hold image a (its file is closed)
    const buf = Buffer.alloc(want.length);
    t.is(sys.read(map, 0, want.length, buf), want.length);
    t.true(buf.equals(want), 'read through the backing inode of image b');
    sys.dropCaches();
    sys.unmount(b);
    t.is(
      sharedInodeView(sys.arena, map.mapping).nbacking,
      0,
      'no backing inode left; the mapping keeps the shared inode',
    );
    const retries = sys.stats().counters.REALINODE_RETRY;
    const err = t.throws(() => sys.read(map, 0, 4096, buf), { instanceOf: ErofsError });
    t.is(err?.code, 'EIO');
    t.is(sys.stats().counters.REALINODE_RETRY, retries, 'nothing to wait for: no retries');
    sys.munmap(map);
    const st = sys.stats();
    t.is(st.inodesInUse, 0, 'the shared inode went with the mapping');
    t.is(st.framesUsed, 0);
  } finally {
    sys.detach();
    removeDir(pair.dir);
  }
});

test('unmounting one image keeps the shared pages valid for the other; the last one takes them away', async (t) => {
  const pair = await versionPair();
  const sys = System.create({ poolMiB: 16 });
  try {
    const a = sys.mount(pair.images[0], { inodeShare: true, domainId: 'test' }).mount;
    const b = sys.mount(pair.images[1], { inodeShare: true, domainId: 'test' }).mount;
    const want = readFileSync(join(pair.srcs[0], 'lib/libc.so.6'));
    t.true(readPath(sys, a, '/lib/libc.so.6').equals(want));
    const fb = sys.open(b, '/lib/libc.so.6');
    const dedup = fb.mapping;
    sys.close(fb);
    const pages = sys.stats().sharedPageCacheBytes;
    t.true(pages >= want.length);
    sys.unmount(a);
    const view = sharedInodeView(sys.arena, dedup);
    t.is(view.nbacking, 1, 'the evicted backing inode left the backing list');
    t.is(inodeMount(sys.arena, view.backing[0]), b);
    sys.resetStats();
    t.true(readPath(sys, b, '/lib/libc.so.6').equals(want));
    t.is(sys.stats().counters.DEVICE_PAGES, 0, 'the cached shared pages are still used');
    sys.unmount(b);
    const st = sys.stats();
    t.is(st.filePages, 0, 'shared inode and its pages are gone with the last backing inode');
    t.is(st.inodesInUse, 0);
    t.is(st.framesUsed, 0);
  } finally {
    sys.detach();
    removeDir(pair.dir);
  }
});

test('a size mismatch under one fingerprint is refused (counted), and each file reads its own bytes', async (t) => {
  const dir = tempDir();
  const sys = System.create({ poolMiB: 16 });
  try {
    const small = seededBytes(5000, 1);
    const big = seededBytes(9000, 2);
    for (const [name, data] of [
      ['s', small],
      ['b', big],
    ] as const) {
      mkdirSync(join(dir, name));
      writeFileSync(join(dir, name, 'f'), data);
      await mkfs({ out: join(dir, `${name}.img`), source: join(dir, name), timestamp: 0 });
    }
    forgeFingerprint(join(dir, 'b.img'), big, small); // b's file claims small's fingerprint
    const s = sys.mount(join(dir, 's.img'), { inodeShare: true, domainId: 'test' }).mount;
    const b = sys.mount(join(dir, 'b.img'), { inodeShare: true, domainId: 'test' }).mount;
    t.true(readPath(sys, s, '/f').equals(small));
    const fb = sys.open(b, '/f');
    t.is(fb.mapping, fb.inode, 'not attached to the shared inode of another size');
    t.true(sys.readAll(fb).equals(big));
    sys.close(fb);
    t.is(sys.stats().counters.ISHARE_SIZE_MISMATCH, 1);
  } finally {
    sys.detach();
    removeDir(dir);
  }
});

test('different domain ids never share, whatever the fingerprints say (forged fingerprint, same size)', async (t) => {
  const dir = tempDir();
  const sys = System.create({ poolMiB: 16 });
  try {
    const x = seededBytes(12_000, 5);
    const y = seededBytes(12_000, 6);
    for (const [name, data] of [
      ['x', x],
      ['y', y],
    ] as const) {
      mkdirSync(join(dir, name));
      writeFileSync(join(dir, name, 'f'), data);
      await mkfs({ out: join(dir, `${name}.img`), source: join(dir, name), timestamp: 0 });
    }
    forgeFingerprint(join(dir, 'y.img'), y, x);
    const mx = sys.mount(join(dir, 'x.img'), { inodeShare: true, domainId: 'tenant-a' }).mount;
    const my = sys.mount(join(dir, 'y.img'), { inodeShare: true, domainId: 'tenant-b' }).mount;
    t.is(sha256(readPath(sys, mx, '/f')), sha256(x));
    t.is(sha256(readPath(sys, my, '/f')), sha256(y), 'tenant-b reads its own bytes, not tenant-a cached pages');
    const fx = sys.open(mx, '/f');
    const fy = sys.open(my, '/f');
    t.not(fx.mapping, fy.mapping);
    sys.close(fx);
    sys.close(fy);
    // The same images in ONE domain do share: the fingerprint is trusted within a domain (that is why
    // domains exist), so the forged file reads the other's cached bytes.
    copyFileSync(join(dir, 'y.img'), join(dir, 'y2.img'));
    const my2 = sys.mount(join(dir, 'y2.img'), { inodeShare: true, domainId: 'tenant-a' }).mount;
    const fy2 = sys.open(my2, '/f');
    t.is(fy2.mapping, fx.mapping, 'same domain, same fingerprint: one shared inode');
    sys.close(fy2);
  } finally {
    sys.detach();
    removeDir(dir);
  }
});

test('ishareOf is NIL for files that are not shared (empty backing list never reached)', async (t) => {
  const pair = await versionPair();
  const sys = System.create({ poolMiB: 16 });
  try {
    const a = sys.mount(pair.images[0]).mount;
    const f = sys.open(a, '/lib/libc.so.6');
    t.is(ishareOf(sys.arena, f.inode), -1);
    sys.close(f);
  } finally {
    sys.detach();
    removeDir(pair.dir);
  }
});

test('mainline mount rules: inode_share needs a domain id (EINVAL, one line); O_DIRECT on a shared file is EINVAL', async (t) => {
  const pair = await versionPair();
  const sys = System.create({ poolMiB: 16 });
  try {
    for (const opts of [{ inodeShare: true }, { inodeShare: true, domainId: '' }]) {
      const e = t.throws(() => sys.mount(pair.images[0], opts), { instanceOf: ErofsError });
      t.is(e?.code, 'EINVAL');
      t.regex(e?.message ?? '', /^inode_share needs a domain id/);
      t.false((e?.message ?? '').includes('\n'));
    }
    t.is(sys.stats().mounts.length, 0, 'a refused mount leaves nothing mounted');
    const a = sys.mount(pair.images[0], { inodeShare: true, domainId: 'd' }).mount;
    const e = t.throws(() => sys.open(a, '/lib/libc.so.6', { direct: true }), { instanceOf: ErofsError });
    t.is(e?.code, 'EINVAL');
    t.regex(e?.message ?? '', /O_DIRECT is not supported on a shared/);
    // Without inode_share the same path opens with O_DIRECT (its page cache is its own).
    const plain = sys.mount(pair.images[1]).mount;
    const f = sys.open(plain, '/lib/libc.so.6', { direct: true });
    t.is(f.mapping, f.inode);
    sys.close(f);
    t.notThrows(() => sys.unmount(a, 2000), 'the refused open left no open file or reference behind');
  } finally {
    sys.detach();
    removeDir(pair.dir);
  }
});

test("fadvise(DONTNEED) on one image's file drops the shared pages: the other container's cache of that content empties too", async (t) => {
  const pair = await versionPair();
  const sys = System.create({ poolMiB: 32 });
  try {
    const a = sys.mount(pair.images[0], { inodeShare: true, domainId: 'd' }).mount;
    const b = sys.mount(pair.images[1], { inodeShare: true, domainId: 'd' }).mount;
    const path = '/lib/libc.so.6';
    const size = readFileSync(join(pair.srcs[0], 'lib/libc.so.6')).length;
    const pages = Math.ceil(size / 4096);
    t.true(pages > 4);
    const fb = sys.open(b, path);
    t.true(sys.readAll(fb).equals(readFileSync(join(pair.srcs[1], 'lib/libc.so.6'))));
    t.is(sys.stats().filePages, pages, 'container B cached the content');
    const fa = sys.open(a, path);
    t.is(fa.mapping, fb.mapping);
    // Container A advises DONTNEED on its own file (whole file, len 0 = to EOF).
    t.is(sys.fadvise(fa, 0, 0, 'dontneed'), pages, 'forwarded to the shared inode: every page dropped');
    t.is(sys.stats().filePages, 0, "B's cache of that content is gone too");
    const before = sys.stats().counters.DEVICE_PAGES;
    t.true(sys.readAll(fb).equals(readFileSync(join(pair.srcs[1], 'lib/libc.so.6'))));
    t.is(sys.stats().counters.DEVICE_PAGES - before, pages, 'B reads it from the device again');
    // A range that covers only part of the first and last page keeps those (generic_fadvise rounding), and
    // pages 1 and 2 lie in the large folio readahead gave the file's first pages, which stays whole:
    // find_lock_entries skips a folio partly outside the range, as the kernel's loop mount shows (an
    // order-2 folio of an EROFS file kept by a range over 3 of its pages, dropped by one over all 4).
    t.is(sys.fadvise(fa, 100, 3 * 4096, 'dontneed'), 0, 'pages 1 and 2 are in a folio that begins before the range');
    t.is(sys.stats().filePages, pages);
    // Without sharing, DONTNEED stays with the file's own mapping.
    const plain = sys.mount(pair.images[1]).mount;
    const g = sys.open(plain, path);
    sys.readAll(g);
    t.is(sys.fadvise(g, 0, 0, 'dontneed'), pages);
    t.is(sys.stats().filePages, pages, 'the shared inode keeps its pages');
    for (const f of [fa, fb, g]) sys.close(f);
  } finally {
    sys.detach();
    removeDir(pair.dir);
  }
});
