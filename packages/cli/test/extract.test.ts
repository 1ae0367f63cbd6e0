// extract: images made by mkfs.erofs (flat and chunked) and by our mkfs come back as the source tree.
import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import {
  makeEdgeTree,
  snapshotTree,
  tempDir,
  removeDir,
  hasCommand,
  type TreeEntry,
} from '../../../test/helpers/trees.ts';
import { ishare, isOneErrorLine, mkfsErofs } from './helpers/run.ts';
import { upstreamTool } from '../../../test/helpers/erofs-utils.ts';

let dir = '';
let refSrc = '';
let oursSrc = '';
let refSnap = new Map<string, TreeEntry>();
let oursSnap = new Map<string, TreeEntry>();
let xattrs = false;
const img = { flat: '', chunked: '', ours: '' };
let oursError: string | undefined;

test.before(async () => {
  dir = tempDir('ishare-cli-extract-');
  refSrc = join(dir, 'ref-src');
  oursSrc = join(dir, 'src');
  mkdirSync(refSrc);
  mkdirSync(oursSrc);
  xattrs = makeEdgeTree(refSrc).xattrs; // 254-byte longest name: mkfs.erofs 1.5 cannot take 255
  makeEdgeTree(oursSrc, { longName: 255 });
  refSnap = snapshotTree(refSrc);
  oursSnap = snapshotTree(oursSrc);
  img.flat = join(dir, 'flat.img');
  img.chunked = join(dir, 'chunked.img');
  img.ours = join(dir, 'ours.img');
  mkfsErofs(img.flat, refSrc);
  mkfsErofs(img.chunked, refSrc, ['--chunksize=4096']);
  const r = await ishare(['mkfs', img.ours, oursSrc]);
  if (r.status !== 0) oursError = `ishare mkfs failed: ${r.stderr}`;
});
test.after.always(() => removeDir(dir));

const cases = [
  { name: 'mkfs.erofs image', image: () => img.flat, snap: () => refSnap },
  { name: 'mkfs.erofs --chunksize=4096 image', image: () => img.chunked, snap: () => refSnap },
  { name: 'our mkfs image', image: () => img.ours, snap: () => oursSnap },
];

for (const c of cases) {
  test(`extract of a ${c.name} equals the source tree`, async (t) => {
    if (c.image() === img.ours && oursError) {
      t.fail(oursError);
      return;
    }
    const out = join(dir, `out-${c.name.replace(/\W+/g, '-')}`);
    const r = await ishare(['extract', c.image(), out]);
    t.is(r.status, 0, r.stderr);
    t.deepEqual(snapshotTree(out), c.snap());
    // Hard links come back as one inode; times come back too.
    t.is(lstatSync(join(out, 'links/hard-a')).ino, lstatSync(join(out, 'links/hard-b')).ino);
    t.is(lstatSync(join(out, 'links/hard-a')).nlink, 2);
    t.is(lstatSync(join(out, 'big.bin')).mtimeMs, 1_700_000_000_000);
    t.is(lstatSync(join(out, 'deep/level0')).mtimeMs, 1_700_000_000_000);
    // makeEdgeTree leaves symlink times alone (utimes follows links); they come back from the source.
    const srcDir = c.image() === img.ours ? oursSrc : refSrc;
    t.is(
      Math.floor(lstatSync(join(out, 'links/rel')).mtimeMs / 1000),
      Math.floor(lstatSync(join(srcDir, 'links/rel')).mtimeMs / 1000),
    );
    t.regex(r.text, /files, \d+ dirs, 5 symlinks, 1 hard links/);
  });
}

test('extract --xattrs restores extended attributes', async (t) => {
  if (!xattrs || !hasCommand('getfattr')) {
    t.log('skipped: xattrs not supported on this filesystem or getfattr missing');
    t.pass();
    return;
  }
  const out = join(dir, 'out-xattrs');
  const r = await ishare(['extract', '--xattrs', img.flat, out]);
  t.is(r.status, 0, r.stderr);
  const get = (p: string, n: string): string =>
    execFileSync('getfattr', ['--absolute-names', '--only-values', '-n', n, join(out, p)], { encoding: 'utf8' });
  t.is(get('one-byte', 'user.short'), 'v');
  t.is(get('one-byte', `user.long-${'k'.repeat(100)}`), 'V'.repeat(1500));
  t.is(get('emptydir', 'user.dir'), 'on a dir');
  t.is(get('names', 'security.label'), 'sec');
  t.deepEqual(snapshotTree(out), refSnap);
});

test('extract --xattrs copes with names that need quoting', async (t) => {
  if (!xattrs || !hasCommand('getfattr')) {
    t.log('skipped: xattrs not supported on this filesystem or getfattr missing');
    t.pass();
    return;
  }
  const src = join(dir, 'odd-src');
  mkdirSync(src);
  const names = ['a=b', 'back\\slash', 'new\nline', 'héllo wörld ✓', '# file: x', ' lead space'];
  for (const n of names) {
    writeFileSync(join(src, n), n);
    execFileSync('setfattr', ['-n', 'user.name', '-v', `v-${n.length}`, join(src, n)]);
  }
  const image = join(dir, 'odd.img');
  mkfsErofs(image, src);
  const out = join(dir, 'out-odd');
  const r = await ishare(['extract', '--xattrs', image, out]);
  t.is(r.status, 0, r.stderr);
  for (const n of names)
    t.is(
      execFileSync('getfattr', ['--absolute-names', '--only-values', '-n', 'user.name', join(out, n)], {
        encoding: 'utf8',
      }),
      `v-${n.length}`,
      n,
    );
});

test('extract into a non-empty directory is refused, then allowed with --force', async (t) => {
  const out = join(dir, 'out-occupied');
  mkdirSync(out);
  writeFileSync(join(out, 'keep-me'), 'mine');
  const r = await ishare(['extract', img.flat, out]);
  t.is(r.status, 2);
  t.true(isOneErrorLine(r.stderr), r.stderr);
  t.deepEqual(readdirSync(out), ['keep-me']);
  const f = await ishare(['extract', '--force', img.flat, out]);
  t.is(f.status, 0, f.stderr);
  t.is(readFileSync(join(out, 'keep-me'), 'utf8'), 'mine');
  const snap = snapshotTree(out);
  snap.delete('keep-me');
  t.deepEqual(snap, refSnap);
  // Again over its own output: replaces files in the way.
  const again = await ishare(['extract', '--force', img.flat, out]);
  t.is(again.status, 0, again.stderr);
});

test('a failed extract removes what it created', async (t) => {
  // Metadata intact, file data cut off: extraction fails part way through.
  const cut = join(dir, 'cut.img');
  const full = readFileSync(img.flat);
  writeFileSync(cut, full.subarray(0, Math.floor(full.length * 0.6)));
  const fresh = join(dir, 'out-fail-fresh');
  const r = await ishare(['extract', cut, fresh]);
  t.is(r.status, 2, r.stderr);
  t.true(isOneErrorLine(r.stderr), r.stderr);
  t.false(existsSync(fresh), 'a directory extract created is gone');
  const empty = join(dir, 'out-fail-empty');
  mkdirSync(empty);
  const r2 = await ishare(['extract', cut, empty]);
  t.is(r2.status, 2);
  t.deepEqual(readdirSync(empty), [], 'an existing empty directory is left empty');
});

test('fifos and devices: made when possible, otherwise counted', async (t) => {
  const src = join(dir, 'special-src');
  mkdirSync(src);
  writeFileSync(join(src, 'plain'), 'x');
  const fifo = spawnSync('mkfifo', [join(src, 'pipe')]).status === 0;
  const dev = process.getuid?.() === 0 && spawnSync('mknod', [join(src, 'null'), 'c', '1', '3']).status === 0;
  if (!fifo && !dev) {
    t.log('skipped: cannot make a fifo or a device node here');
    t.pass();
    return;
  }
  const image = join(dir, 'special.img');
  mkfsErofs(image, src);
  const out = join(dir, 'out-special');
  const r = await ishare(['extract', image, out]);
  t.is(r.status, 0, r.stderr);
  if (fifo) t.true(lstatSync(join(out, 'pipe')).isFIFO());
  if (dev) {
    const st = lstatSync(join(out, 'null'));
    t.true(st.isCharacterDevice());
    t.is(st.rdev, lstatSync(join(src, 'null')).rdev);
  }
  t.regex(r.text, /special files/);
});

test('a name with a slash in a (crafted) image cannot make extract write outside DIR', async (t) => {
  const src = join(dir, 'evil-src');
  mkdirSync(join(src, 'd'), { recursive: true });
  // Enough entries that the directory lives in its own block (outside the checksummed superblock block).
  for (let i = 0; i < 300; i++) writeFileSync(join(src, 'd', `file-${i}-${'p'.repeat(30)}`), 'x');
  const marker = `zz${'Q'.repeat(40)}`;
  writeFileSync(join(src, 'd', marker), 'escaped');
  const image = join(dir, 'evil.img');
  mkfsErofs(image, src);
  const bytes = readFileSync(image);
  const at = bytes.indexOf(marker);
  t.true(at > 4096, 'the name sits in a directory block');
  // From DIR/d, four levels up is the test's temp dir: DIR is evil-out/a/b.
  const escaped = 'x'.repeat(marker.length - 12);
  const evilName = `../../../../${escaped}`;
  bytes.write(evilName, at, 'latin1');
  writeFileSync(image, bytes);
  const out = join(dir, 'evil-out', 'a', 'b');
  const r = await ishare(['extract', image, out]);
  t.is(r.status, 2, r.stderr);
  t.true(isOneErrorLine(r.stderr), r.stderr);
  t.regex(r.stderr, /not a valid file name/);
  t.false(existsSync(join(dir, escaped)), 'nothing written outside DIR');
  t.false(existsSync(join(dir, 'evil-out')), 'the directories extract made are gone, parents included');
});

// What fsck.erofs --extract (upstream 1.9.3) gives back is the reference for owners, sockets and times.
function ownerView(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(root, r), { bigint: true });
      // Node sets times through a double: compare to the millisecond (floored, so pre-1970 times too).
      const ms = st.mtimeNs / 1_000_000n - (st.mtimeNs % 1_000_000n < 0n ? 1n : 0n);
      out[r] = `${st.uid}:${st.gid} ${(st.mode & 0o170000n).toString(8)} ${(st.mode & 0o7777n).toString(8)} ${ms}`;
      if (st.isDirectory()) walk(r);
    }
  };
  walk('');
  return out;
}

test('extract as root restores owners and setgid after chown, makes sockets and keeps pre-1970 times, as fsck.erofs --extract does', async (t) => {
  if (process.getuid?.() !== 0) {
    t.log('skipped: owners are only restored as root');
    t.pass();
    return;
  }
  const src = join(dir, 'owners-src');
  mkdirSync(join(src, 'etc'), { recursive: true });
  writeFileSync(join(src, 'etc/shadow'), 'root:*:1:0:99999:7:::\n');
  chownSync(join(src, 'etc/shadow'), 0, 42);
  writeFileSync(join(src, 'sg'), 'setgid binary');
  chownSync(join(src, 'sg'), 1000, 50);
  chmodSync(join(src, 'sg'), 0o2755);
  writeFileSync(join(src, 'old'), 'from 1960');
  utimesSync(join(src, 'old'), '-315619199.5', '-315619199.5');
  symlinkSync('old', join(src, 'link'));
  lchownSync(join(src, 'link'), 7, 8);
  const sock = spawnSync(process.execPath, [
    '-e',
    "const n=require('net'),f=require('fs');const s=n.createServer().listen(process.argv[1]+'.l',()=>{f.linkSync(process.argv[1]+'.l',process.argv[1]);s.close()})",
    join(src, 'sock'),
  ]);
  t.is(sock.status, 0);
  const image = join(dir, 'owners.img');
  t.is((await ishare(['mkfs', image, src])).status, 0);
  const out = join(dir, 'out-owners');
  const r = await ishare(['extract', image, out]);
  t.is(r.status, 0, r.stderr);
  const ref = join(dir, 'ref-owners');
  const f = spawnSync(upstreamTool('fsck.erofs'), [`--extract=${ref}`, image], { encoding: 'utf8' });
  t.is(f.status, 0, `${f.stdout}${f.stderr}`);
  t.deepEqual(ownerView(out), ownerView(ref));
  t.deepEqual(ownerView(out), ownerView(src), 'and both equal the source');
  t.true(lstatSync(join(out, 'sock')).isSocket());
  t.is(lstatSync(join(out, 'etc/shadow')).gid, 42);
});

test("extract --xattrs gives back the tree's xattrs and never the fingerprint, hidden or visible", async (t) => {
  if (!hasCommand('getfattr')) {
    t.log('skipped: getfattr missing');
    t.pass();
    return;
  }
  const src = join(dir, 'fpx-src');
  mkdirSync(src);
  writeFileSync(join(src, 'a'), 'content a');
  writeFileSync(join(src, 'b'), 'content b');
  execFileSync('setfattr', ['-n', 'trusted.kept', '-v', 'yes', join(src, 'a')]);
  const dump = (root: string): string =>
    execFileSync('getfattr', ['-R', '-d', '-m', '-', '-e', 'hex', '.'], { cwd: root, encoding: 'utf8' });
  for (const args of [[], ['--xattr-inode-digest=trusted.fp']]) {
    const image = join(dir, `fpx${args.length}.img`);
    t.is((await ishare(['mkfs', ...args, image, src])).status, 0);
    const out = join(dir, `out-fpx${args.length}`);
    const r = await ishare(['extract', '--xattrs', image, out]);
    t.is(r.status, 0, r.stderr);
    t.is(dump(out), dump(src), args.join(' ') || 'default name');
    t.regex(r.text, /1 xattrs/);
  }
});
