// Tar sources: archives made by the system tar (pax with xattrs, GNU long names, gzip, entries
// without their parent directories) must give the same image content as the tree they came from.
import anyTest, { type TestFn } from 'ava';
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErofsImage } from '@ishare/core/format';
import { mkfs } from '@ishare/core';
import {
  hasCommand,
  makeEdgeTree,
  removeDir,
  setXattr,
  snapshotTree,
  tempDir,
  type TreeEntry,
} from '../../../test/helpers/trees.ts';
import { asObject, FSCK, fsck, readerSnapshot, readerXattrs, tryMount, xattrTable } from './mkfs-helpers.ts';

interface Ctx {
  dir: string;
  src: string;
  snap: Map<string, TreeEntry>;
  xattrs: boolean;
}
const test = anyTest as TestFn<Ctx>;
const TAR = hasCommand('tar');
const FIXED = { timestamp: 1_700_000_000, uuid: '01234567-89ab-cdef-0123-456789abcdef' };

test.before((t) => {
  const dir = tempDir('ishare-mkfs-tar-');
  const src = join(dir, 'src');
  mkdirSync(src);
  const { xattrs } = makeEdgeTree(src, { bigDir: false, longName: 255 });
  if (xattrs) {
    // A value that is not text: pax carries it as raw bytes, which a UTF-8 decoder would mangle.
    execFileSync('setfattr', ['-n', 'user.bin', '-v', '0x00ff80fe0a3dc3', join(src, 'exec.sh')]);
    setXattr(join(src, 'deep'), 'trusted.dir', 'deep dir');
  }
  t.context = { dir, src, snap: snapshotTree(src), xattrs };
});

test.after.always((t) => {
  if (t.context.dir) removeDir(t.context.dir);
});

function tar(args: string[]): void {
  execFileSync('tar', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** fsck.erofs --extract (when it can) and the reader both give back `want`. */
function checkImage(t: import('ava').ExecutionContext<Ctx>, img: string, want: Map<string, TreeEntry>): void {
  t.deepEqual(asObject(readerSnapshot(img)), asObject(want));
  if (!FSCK) {
    t.log('fsck.erofs not installed: image checked with our reader only');
    return;
  }
  t.true(fsck(img).ok, fsck(img).output);
  const ex = `${img}.extract`;
  const r = fsck(img, ex);
  t.true(r.ok, r.output);
  const strip = (m: Map<string, TreeEntry>): Record<string, unknown> =>
    asObject(new Map([...m].map(([k, e]) => [k, { ...e, mode: e.mode & ~0o6000 }]))); // fsck 1.5 drops suid on extract
  t.deepEqual(strip(snapshotTree(ex)), strip(want));
  removeDir(ex);
}

test.serial('pax tar with xattrs, long paths, hard and symbolic links gives the tree back', async (t) => {
  if (!TAR) return void (t.log('skipped: no tar command'), t.pass());
  const { dir, src, snap } = t.context;
  const archive = join(dir, 'tree.tar');
  tar(['--format=pax', '--xattrs', '--xattrs-include=*', '-C', src, '-cf', archive, '.']);
  const longest = execFileSync('tar', ['-tf', archive], { encoding: 'utf8' })
    .split('\n')
    .reduce((a, b) => (b.length > a.length ? b : a));
  t.true(Buffer.byteLength(longest) > 100, 'the archive has a path longer than the ustar name field');
  const img = join(dir, 'pax.img');
  const rep = await mkfs({ out: img, source: archive, ...FIXED });
  t.is(rep.hardlinks, 1);
  t.is(rep.symlinks, 5);
  checkImage(t, img, snap);
  const im = ErofsImage.open(img);
  try {
    t.true(im.sb.hasFingerprints);
    const a = im.resolve('/links/hard-a');
    const b = im.resolve('/links/hard-b');
    t.is(a.nid, b.nid);
    t.is(a.nlink, 2);
    const big = im.resolve('/big.bin');
    t.is(im.fingerprint(big), execFileSync('sha256sum', [join(src, 'big.bin')], { encoding: 'utf8' }).slice(0, 64));
  } finally {
    im.close();
  }
  if (t.context.xattrs) {
    t.deepEqual(readerXattrs(img), xattrTable(src));
    t.is(readerXattrs(img)['exec.sh']?.['user.bin'], '0x00ff80fe0a3dc3');
  } else {
    t.log('filesystem under the temp dir takes no xattrs: xattr copy not checked');
  }
});

test.serial('.tar.gz and .tgz give the same image bytes as the plain tar', async (t) => {
  if (!TAR) return void (t.log('skipped: no tar command'), t.pass());
  const { dir, src } = t.context;
  const plain = join(dir, 'same.tar');
  tar(['--format=pax', '--xattrs', '--xattrs-include=*', '-C', src, '-cf', plain, '.']);
  const gz = join(dir, 'same.tar.gz');
  writeFileSync(gz, execFileSync('gzip', ['-c', plain], { maxBuffer: 1 << 28 }));
  const tgz = join(dir, 'same.tgz');
  tar(['--format=pax', '--xattrs', '--xattrs-include=*', '-C', src, '-czf', tgz, '.']);
  await mkfs({ out: join(dir, 'plain.img'), source: plain, ...FIXED });
  await mkfs({ out: join(dir, 'gz.img'), source: gz, ...FIXED });
  await mkfs({ out: join(dir, 'tgz.img'), source: tgz, ...FIXED });
  const a = readFileSync(join(dir, 'plain.img'));
  t.true(a.equals(readFileSync(join(dir, 'gz.img'))));
  t.true(a.equals(readFileSync(join(dir, 'tgz.img'))));
  checkImage(t, join(dir, 'tgz.img'), t.context.snap);
});

test.serial('GNU format tar (long names as ././@LongLink records)', async (t) => {
  if (!TAR) return void (t.log('skipped: no tar command'), t.pass());
  const { dir, src, snap } = t.context;
  const archive = join(dir, 'gnu.tar');
  tar(['--format=gnu', '-C', src, '-cf', archive, '.']);
  const img = join(dir, 'gnu.img');
  await mkfs({ out: img, source: archive, blockSize: 512, xattrs: false });
  t.deepEqual(asObject(readerSnapshot(img)), asObject(snap));
  t.deepEqual(readerXattrs(img), {});
  const m = tryMount(img, join(dir, 'mnt-gnu'));
  if (!m.mounted) {
    t.log(`kernel check skipped: ${m.reason}`);
    return;
  }
  try {
    t.deepEqual(asObject(snapshotTree(m.dir)), asObject(snap));
  } finally {
    m.unmount();
  }
});

test.serial('directories implied by entry paths are created', async (t) => {
  if (!TAR) return void (t.log('skipped: no tar command'), t.pass());
  const { dir, src } = t.context;
  const leaf = ['deep', ...Array.from({ length: 12 }, (_, i) => `level${i}`), 'leaf.txt'].join('/');
  const archive = join(dir, 'implied.tar');
  tar(['--format=pax', '--no-recursion', '-C', src, '-cf', archive, leaf, 'names/space name', 'links/rel']);
  const img = join(dir, 'implied.img');
  const rep = await mkfs({ out: img, source: archive, ...FIXED });
  t.is(rep.dirs, 1 + 13 + 1 + 1); // root, deep/level0..11, names, links
  const snap = readerSnapshot(img);
  t.deepEqual(snap.get(leaf), t.context.snap.get(leaf));
  t.deepEqual(snap.get('links/rel'), t.context.snap.get('links/rel'));
  t.deepEqual(snap.get('deep/level0'), { type: 'dir', mode: 0o755, size: 0 });
  t.is(snap.size, 3 + 13 + 1 + 1);
  if (FSCK) t.true(fsck(img).ok);
});

test.serial('device nodes and fifos in a tar keep their numbers', async (t) => {
  if (!TAR || process.getuid?.() !== 0) return void (t.log('skipped: needs tar and root (mknod)'), t.pass());
  const { dir } = t.context;
  const devs = join(dir, 'devs');
  mkdirSync(devs);
  execFileSync('mknod', [join(devs, 'zero'), 'c', '1', '5']);
  execFileSync('mknod', [join(devs, 'blk'), 'b', '259', '70000']);
  execFileSync('mkfifo', [join(devs, 'pipe')]);
  const archive = join(dir, 'devs.tar');
  tar(['--format=pax', '-C', devs, '-cf', archive, '.']);
  const img = join(dir, 'devs.img');
  const rep = await mkfs({ out: img, source: archive });
  t.is(rep.others, 3);
  const m = tryMount(img, join(dir, 'mnt-devs'));
  if (!m.mounted) {
    t.log(`kernel check skipped: ${m.reason}`);
    return;
  }
  try {
    for (const n of ['zero', 'blk', 'pipe']) {
      const a = lstatSync(join(devs, n));
      const b = lstatSync(join(m.dir, n));
      t.is(b.mode, a.mode, n);
      t.is(b.rdev, a.rdev, n);
    }
  } finally {
    m.unmount();
  }
});
