// The kernel is the reference reader: loop-mount images our mkfs wrote and compare what the kernel
// shows — contents, modes, owners, link counts, inode sharing of hard links, exact mtimes, device
// numbers, xattrs, and the fingerprint xattr — with the source tree. Needs root and an EROFS-capable
// kernel; elsewhere each test says why it did not run.
import anyTest, { type TestFn } from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';

import {
  chownSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  utimesSync,
  writeFileSync,
  type BigIntStats,
} from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ErofsImage } from '@ishare/core/format';
import { mkfs } from '@ishare/core';
import { makeEdgeTree, removeDir, snapshotTree, tempDir } from '../../../test/helpers/trees.ts';
import { asObject, GETFATTR, tryMount, xattrTable } from './mkfs-helpers.ts';
import { upstreamTool } from '../../../test/helpers/erofs-utils.ts';

interface Ctx {
  dir: string;
  src: string;
  special: string[];
}
const test = anyTest as TestFn<Ctx>;

async function makeSocket(path: string): Promise<void> {
  // Node unlinks a listening socket's path on close; a second name for the inode survives that.
  const tmp = `${path}.listen`;
  const srv = createServer();
  await new Promise<void>((res, rej) => srv.listen(tmp, res).on('error', rej));
  linkSync(tmp, path);
  await new Promise<void>((res) => srv.close(() => res()));
}

test.before(async (t) => {
  const dir = tempDir('ishare-mkfs-mount-');
  const src = join(dir, 'src');
  mkdirSync(src);
  makeEdgeTree(src, { bigFile: true, longName: 255 });
  const special: string[] = [];
  if (process.getuid?.() === 0) {
    mkdirSync(join(src, 'special'));
    execFileSync('mknod', [join(src, 'special', 'null'), 'c', '1', '3']);
    execFileSync('mknod', [join(src, 'special', 'bigminor'), 'b', '259', '70000']);
    execFileSync('mkfifo', [join(src, 'special', 'fifo')]);
    await makeSocket(join(src, 'special', 'sock'));
    writeFileSync(join(src, 'special', 'bigids'), 'owner outside 16 bits\n');
    chownSync(join(src, 'special', 'bigids'), 70000, 70001);
    writeFileSync(join(src, 'special', 'nsec'), 'fractional mtime\n');
    utimesSync(join(src, 'special', 'nsec'), 1_650_000_000.123456, 1_650_000_000.123456);
    writeFileSync(join(src, 'special', 'old'), 'before the epoch\n');
    utimesSync(join(src, 'special', 'old'), -86400, -86400);
    special.push('null', 'bigminor', 'fifo', 'sock', 'bigids', 'nsec', 'old');
    utimesSync(join(src, 'special'), 1_700_000_000, 1_700_000_000);
  } else {
    t.log('not root: no device nodes, foreign owners or sockets in the source tree');
  }
  t.context = { dir, src, special };
});

test.after.always((t) => {
  if (t.context.dir) removeDir(t.context.dir);
});

/** Every path of a tree (relative), in name order. */
function allPaths(root: string, rel = ''): string[] {
  const out: string[] = [];
  for (const n of readdirSync(join(root, rel)).sort()) {
    const r = rel ? join(rel, n) : n;
    out.push(r);
    if (lstatSync(join(root, r)).isDirectory()) out.push(...allPaths(root, r));
  }
  return out;
}

function statView(st: BigIntStats, withMtime: boolean): Record<string, string> {
  const v: Record<string, string> = {
    mode: st.mode.toString(8),
    uid: String(st.uid),
    gid: String(st.gid),
    nlink: String(st.nlink),
  };
  if (!st.isDirectory()) v.size = String(st.size);
  if (st.isCharacterDevice() || st.isBlockDevice()) v.rdev = String(st.rdev);
  if (withMtime) v.mtime = String(st.mtimeNs);
  return v;
}

for (const bs of [4096, 512]) {
  test.serial(`bs ${bs}: the kernel mount shows the source tree, stat for stat and xattr for xattr`, async (t) => {
    const { dir, src } = t.context;
    const img = join(dir, `tree-${bs}.img`);
    await mkfs({ out: img, source: src, blockSize: bs });
    const m = tryMount(img, join(dir, `mnt-${bs}`));
    if (!m.mounted) {
      t.log(`skipped: ${m.reason}`);
      t.pass();
      return;
    }
    try {
      t.deepEqual(asObject(snapshotTree(m.dir)), asObject(snapshotTree(src)));
      // Owners, link counts, device numbers and mtimes to the nanosecond (extended inodes carry them).
      const want: Record<string, Record<string, string>> = {};
      const got: Record<string, Record<string, string>> = {};
      for (const p of allPaths(src)) {
        want[p] = statView(lstatSync(join(src, p), { bigint: true }), true);
        got[p] = statView(lstatSync(join(m.dir, p), { bigint: true }), true);
      }
      t.deepEqual(got, want);
      const a = lstatSync(join(m.dir, 'links', 'hard-a'));
      const b = lstatSync(join(m.dir, 'links', 'hard-b'));
      t.is(a.ino, b.ino, 'hard links share one inode');
      t.is(a.nlink, 2);
      if (t.context.special.length > 0) {
        t.true(lstatSync(join(m.dir, 'special', 'sock')).isSocket());
        t.true(lstatSync(join(m.dir, 'special', 'fifo')).isFIFO());
        t.is(readFileSync(join(m.dir, 'special', 'null')).length, 0, 'the char device is /dev/null');
      }
      if (!GETFATTR) {
        t.log('getfattr missing: xattrs not compared');
        return;
      }
      // The fingerprint's name has no namespace (base index 0): the kernel's listxattr hides it, so
      // the mount shows exactly the source's xattrs.
      t.deepEqual(xattrTable(m.dir), xattrTable(src));
      // Upstream fsck.erofs recomputes every non-empty file's sha256 and compares it with the
      // fingerprint (it warns "no digest xattr" for a non-empty file that has none).
      const v = spawnSync(upstreamTool('fsck.erofs'), ['-d3', '--xattr-inode-digest', img], { encoding: 'utf8' });
      t.is(v.status, 0, `${v.stdout}${v.stderr}`);
      t.regex(`${v.stdout}${v.stderr}`, /verifying digests using xattr "erofs\.fingerprint\.v1"/);
      t.notRegex(`${v.stdout}${v.stderr}`, /no digest xattr/);
    } finally {
      m.unmount();
    }
  });
}

test.serial('timestamp: every mtime is the given time and the inodes that fit are compact', async (t) => {
  const { dir, src } = t.context;
  const img = join(dir, 'stamped.img');
  const ts = 1_234_567_890;
  await mkfs({ out: img, source: src, timestamp: ts, fingerprint: false });
  const im = ErofsImage.open(img);
  try {
    t.is(im.sb.epoch, ts);
    t.false(im.sb.hasFingerprints);
    for (const { path, inode } of im.walk()) {
      t.is(inode.mtime, ts, path);
      t.is(inode.compact, !path.endsWith('/special/bigids'), `${path} compact=${inode.compact}`);
    }
  } finally {
    im.close();
  }
  const m = tryMount(img, join(dir, 'mnt-stamped'));
  if (!m.mounted) {
    t.log(`kernel check skipped: ${m.reason}`);
    return;
  }
  try {
    for (const p of allPaths(src)) t.is(lstatSync(join(m.dir, p)).mtimeMs, ts * 1000, p);
  } finally {
    m.unmount();
  }
});
