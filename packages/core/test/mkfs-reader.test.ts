// Round trip through our own reader, plus the layout rules the writer promises: fingerprints are the
// sha256 of the data, tails packed inline never cross a block, inodes stay inside one block where
// they can, compact inodes only where they tell the truth, the superblock checksum verifies.
import anyTest, { type TestFn } from 'ava';
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DATALAYOUT, FEATURE_COMPAT, ErofsImage } from '@ishare/core/format';
import { mkfs } from '@ishare/core';
import { makeEdgeTree, removeDir, snapshotTree, tempDir, type TreeEntry } from '../../../test/helpers/trees.ts';
import { asObject, GETFATTR, readerSnapshot, readerXattrs, xattrTable } from './mkfs-helpers.ts';

interface Ctx {
  dir: string;
  src: string;
  snap: Map<string, TreeEntry>;
  xattrs: boolean;
}
const test = anyTest as TestFn<Ctx>;
const FP = 'erofs.fingerprint.v1';

test.before((t) => {
  const dir = tempDir('ishare-mkfs-reader-');
  const src = join(dir, 'src');
  mkdirSync(src);
  const { xattrs } = makeEdgeTree(src, { longName: 255 });
  t.context = { dir, src, snap: snapshotTree(src), xattrs };
});

test.after.always((t) => {
  if (t.context.dir) removeDir(t.context.dir);
});

for (const bs of [4096, 2048, 1024, 512]) {
  test(`bs ${bs}: walk + readFile give the source back; fingerprints are the data's sha256`, async (t) => {
    const { dir, src, snap } = t.context;
    const img = join(dir, `rt-${bs}.img`);
    const rep = await mkfs({ out: img, source: src, blockSize: bs });
    t.is(rep.bytes, lstatSync(img).size);
    t.deepEqual(asObject(readerSnapshot(img)), asObject(snap));
    const im = ErofsImage.open(img);
    try {
      t.true(im.sb.hasFingerprints);
      t.is(im.fingerprintName(), FP);
      t.true(im.sb.checksumVerified);
      t.is(im.sb.featureCompat & FEATURE_COMPAT.SB_CHKSUM, FEATURE_COMPAT.SB_CHKSUM);
      t.is(im.sb.blockSize, bs);
      t.is(im.sb.inos, rep.inodes);
      t.is(im.sb.blocks, rep.blocks);
      t.true(im.sb.rootNid > 0 && im.sb.rootNid < 0x10000);
      const files = new Set<number>();
      let inlined = 0;
      for (const { path, inode } of im.walk()) {
        const where = `${path} (nid ${inode.nid})`;
        const off = inode.iloc % bs;
        if (inode.inodeSize + inode.xattrSize <= bs)
          t.true(off + inode.inodeSize + inode.xattrSize <= bs, `${where}: inode and xattrs inside one block`);
        if (inode.layout === DATALAYOUT.FLAT_INLINE) {
          inlined++;
          t.true(
            off + inode.inodeSize + inode.xattrSize + (inode.size % bs) <= bs,
            `${where}: inline tail inside the inode's block`,
          );
        } else {
          t.is(inode.layout, DATALAYOUT.FLAT_PLAIN, where);
        }
        if (inode.compact) t.is(inode.mtime, im.sb.epoch, `${where}: compact only when mtime is the build time`);
        if (inode.type !== 'file') {
          t.is(im.fingerprint(inode), undefined, where);
          continue;
        }
        files.add(inode.nid);
        const data = readFileSync(join(src, path));
        // mkfs.erofs fingerprints non-empty files only.
        t.is(
          im.fingerprint(inode),
          data.length > 0 ? createHash('sha256').update(data).digest('hex') : undefined,
          where,
        );
      }
      t.is(files.size, rep.files);
      t.true(inlined > 100, `tail packing used (${inlined} inodes)`);
      const a = im.resolve('/links/hard-a');
      t.is(a.nid, im.resolve('/links/hard-b').nid);
      t.is(a.nlink, 2);
      t.is(
        im.resolve('/').nlink,
        2 + [...snap.entries()].filter(([k, e]) => !k.includes('/') && e.type === 'dir').length,
      );
    } finally {
      im.close();
    }
    if (!t.context.xattrs || !GETFATTR) {
      t.log('source filesystem takes no xattrs (or getfattr missing): xattr round trip not checked');
      return;
    }
    // The fingerprint is hidden (base index 0): listxattr shows exactly the source's xattrs.
    t.deepEqual(readerXattrs(img), xattrTable(src));
  });
}

test('fingerprint: false writes neither the xattrs nor the superblock feature', async (t) => {
  const { dir, src } = t.context;
  const img = join(dir, 'nofp.img');
  const rep = await mkfs({ out: img, source: src, fingerprint: false });
  t.is(rep.fingerprinted, 0);
  const im = ErofsImage.open(img);
  try {
    t.false(im.sb.hasFingerprints);
    t.is(im.sb.xattrPrefixCount, 0);
    for (const { inode } of im.walk()) t.is(im.fingerprintResult(inode).status, 'none');
  } finally {
    im.close();
  }
  if (t.context.xattrs) t.deepEqual(readerXattrs(img), xattrTable(src));
});

test('a custom fingerprint name is used instead of the default', async (t) => {
  const { dir, src } = t.context;
  const img = join(dir, 'customfp.img');
  await mkfs({ out: img, source: src, xattrInodeDigest: 'user.ishare.fp', xattrs: false });
  const im = ErofsImage.open(img);
  try {
    const f = im.resolve('/dup-a');
    const sha = createHash('sha256')
      .update(readFileSync(join(src, 'dup-a')))
      .digest('hex');
    t.is(im.fingerprint(f), sha);
    t.is(im.fingerprintName(), 'user.ishare.fp');
    // Under the user. namespace the name is an ordinary visible xattr, value "sha256:" + digest.
    t.deepEqual(
      im.xattrs(f).map((x) => [x.name, Buffer.from(x.value).toString('latin1')]),
      [['user.ishare.fp', `sha256:${Buffer.from(sha, 'hex').toString('latin1')}`]],
    );
  } finally {
    im.close();
  }
});

test('xattrs repeated across inodes go to the shared area and read back the same', async (t) => {
  if (!t.context.xattrs) return void (t.log('skipped: the temp filesystem takes no xattrs'), t.pass());
  const { dir, src } = t.context;
  const img = join(dir, 'shared.img');
  await mkfs({ out: img, source: src, timestamp: 1 });
  const im = ErofsImage.open(img);
  try {
    t.true(im.sb.xattrBlkaddr > 0, 'a shared xattr area exists');
    const a = im.resolve('/dup-a');
    const b = im.resolve('/dup-b');
    // dup-a and dup-b carry the same user.same and the same fingerprint: both shared, so each body
    // is just the header and two ids.
    t.is(a.xattrSize, 12 + 2 * 4);
    t.is(b.xattrSize, 12 + 2 * 4);
    t.deepEqual(im.xattrs(a), im.xattrs(b));
    t.is(Buffer.from(im.getXattr(a, 'user.same')!).toString(), 'shared-value');
  } finally {
    im.close();
  }
});

test('extended inodes where compact ones cannot say the truth', async (t) => {
  const { dir, src } = t.context;
  const img = join(dir, 'ext.img');
  await mkfs({ out: img, source: src });
  const im = ErofsImage.open(img);
  try {
    let compact = 0;
    let extended = 0;
    for (const { path, inode } of im.walk()) {
      const st = lstatSync(path === '/' ? src : join(src, path), { bigint: true });
      t.is(BigInt(inode.mtime) * 1_000_000_000n + BigInt(inode.mtimeNsec), st.mtimeNs, path);
      if (inode.compact) compact++;
      else extended++;
    }
    // Symlinks were made "now", the rest carry the tree's fixed mtime: both kinds appear.
    t.true(compact > 0 && extended > 0, `${compact} compact, ${extended} extended`);
  } finally {
    im.close();
  }
});
