// COMPAT_SHARED_EA_IN_METABOX (issue 19 part 4): shared xattrs stored in the metadata box. Upstream
// erofs-utils 1.9.3 reads the bit but its mkfs never sets it, so this cell forges it from an upstream
// `-m4096 -x1` image (test/helpers/forge-shared-ea.ts says how). Expected xattrs are the source tree's
// (getfattr); upstream fsck.erofs --extract --xattrs of the forged image and, where the kernel mounts
// it, getfattr on a loop mount must give them too, so the forge means what the bit means upstream.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErofsImage } from '@ishare/core/format';
import { extractTree } from '../packages/cli/src/commands/extract.ts';
import { readerXattrs, tryMount, xattrTable } from '../packages/core/test/mkfs-helpers.ts';
import { upstreamTool } from './helpers/erofs-utils.ts';
import { forgeSharedEaInMetabox, parseDumpInode, setSharedEaFlag } from './helpers/forge-shared-ea.ts';
import { removeDir, seededBytes, setXattr, tempDir, xattrsSupported } from './helpers/trees.ts';

let dir = '';
let src = '';
let paths: string[] = [];
let why = '';

test.before(() => {
  dir = tempDir('ishare-sharedea-');
  if (!xattrsSupported(dir)) {
    why = 'setfattr is missing or the temp filesystem takes no user.*/trusted.* xattrs';
    return;
  }
  src = join(dir, 'src');
  mkdirSync(join(src, 'sub'), { recursive: true });
  mkdirSync(join(src, 'sub2'));
  paths = ['/', '/sub', '/sub2'];
  const big = 'v'.repeat(300);
  for (let i = 0; i < 6; i++) {
    const p = join(i % 2 ? 'sub' : '', `f${i}`);
    writeFileSync(join(src, p), seededBytes(i * 500, i + 1));
    paths.push(`/${p}`);
    // -x1: an xattr on two or more inodes goes to the shared area; one on a single inode stays inline.
    setXattr(join(src, p), 'user.common', 'shared-value');
    setXattr(join(src, p), 'user.mime', i % 2 ? 'application/octet-stream' : 'text/plain');
    if (i < 4) setXattr(join(src, p), 'user.big', big);
    setXattr(join(src, p), `user.only${i}`, `inline ${i}`);
  }
  setXattr(src, 'user.common', 'shared-value');
  for (const d of ['sub', 'sub2']) setXattr(join(src, d), 'trusted.overlay.opaque', 'y');
  for (const l of ['l1', 'sub/l2']) {
    symlinkSync('f0', join(src, l));
    setXattr(join(src, l), 'trusted.link', 'yes');
    paths.push(`/${l}`);
  }
});
test.after.always(() => removeDir(dir));

function up(tool: 'mkfs.erofs' | 'fsck.erofs' | 'dump.erofs', args: string[]): { status: number | null; out: string } {
  const r = spawnSync(upstreamTool(tool), args, { encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** Upstream fsck.erofs --extract --xattrs of `img`: the xattr table of what it wrote, or its failure. */
function upstreamXattrs(
  img: string,
  out: string,
): { ok: boolean; table?: Record<string, Record<string, string>>; out: string } {
  const r = up('fsck.erofs', [`--extract=${out}`, '--xattrs', img]);
  return r.status === 0 ? { ok: true, table: xattrTable(out), out: r.out } : { ok: false, out: r.out };
}

test('COMPAT_SHARED_EA_IN_METABOX (forged from upstream -m4096 -x1): every xattr as the source tree has it', (t) => {
  if (why) {
    t.log(`skipped: ${why}`);
    t.pass();
    return;
  }
  const want = xattrTable(src);
  const img = join(dir, 'mb.img');
  const mk = up('mkfs.erofs', ['-d0', '-m4096', '-x1', img, src]);
  t.is(mk.status, 0, mk.out);
  const inodes = paths.map((p) => {
    const d = up('dump.erofs', [`--path=${p}`, img]);
    t.is(d.status, 0, d.out);
    return parseDumpInode(d.out);
  });
  const forge = forgeSharedEaInMetabox(new Uint8Array(readFileSync(img)), inodes);
  t.log(`moved ${forge.ids.length} shared entries (${forge.bytes} bytes) into the metabox`);
  t.true(forge.ids.length >= 5, 'common, both mime values, big, opaque, link are shared');
  const forged = join(dir, 'mb-forged.img');
  writeFileSync(forged, forge.image);

  // Upstream reads the forged image the way the bit says.
  const fsck = up('fsck.erofs', [forged]);
  t.is(fsck.status, 0, fsck.out);
  const u = upstreamXattrs(forged, join(dir, 'up-out'));
  t.true(u.ok, u.out);
  t.deepEqual(u.table, want, 'upstream fsck --extract --xattrs of the forged image = the source');
  const mnt = tryMount(forged, join(dir, 'mnt'));
  if (mnt.mounted) {
    try {
      t.deepEqual(xattrTable(mnt.dir), want, 'the kernel (loop mount) reads the forged image as the source');
    } finally {
      mnt.unmount();
    }
  } else t.log(`kernel check skipped: ${mnt.reason}`);

  // ishare: the reader and `ishare extract --xattrs`.
  t.deepEqual(readerXattrs(forged), want, 'our reader = the source');
  const im = ErofsImage.open(forged);
  const out = join(dir, 'ours-out');
  try {
    t.truthy(im.sb.featureCompat & 0x8, 'the forged image carries SHARED_EA_IN_METABOX');
    extractTree(im, out, { xattrs: true });
  } finally {
    im.close();
  }
  t.deepEqual(xattrTable(out), want, 'ishare extract --xattrs = the source');

  // Control: the same image without the bit does not read right (the entries left the primary device).
  const cleared = join(dir, 'mb-cleared.img');
  writeFileSync(cleared, setSharedEaFlag(forge.image, false));
  let clearedView: unknown;
  try {
    clearedView = readerXattrs(cleared);
  } catch (e) {
    clearedView = e;
  }
  t.notDeepEqual(clearedView, want, 'without the bit the shared entries are gone');
});

test('COMPAT_SHARED_EA_IN_METABOX on an image without a metabox: shared xattrs refused as corrupt, as upstream', (t) => {
  if (why) {
    t.log(`skipped: ${why}`);
    t.pass();
    return;
  }
  const img = join(dir, 'plain.img');
  const mk = up('mkfs.erofs', ['-d0', '-x1', img, src]);
  t.is(mk.status, 0, mk.out);
  const bad = join(dir, 'plain-flag.img');
  writeFileSync(bad, setSharedEaFlag(new Uint8Array(readFileSync(img)), true));
  const u = upstreamXattrs(bad, join(dir, 'up-bad'));
  t.false(u.ok, 'upstream fsck --extract --xattrs fails on it');
  const im = ErofsImage.open(bad);
  try {
    const e = t.throws(() => im.xattrs(im.resolve('/f0')));
    t.regex(e.message, /metabox/);
    // File data still reads: the bit only moves the shared xattr area.
    t.deepEqual(Buffer.from(im.readFile(im.resolve('/f2'))), readFileSync(join(src, 'f2')));
  } finally {
    im.close();
  }
});
