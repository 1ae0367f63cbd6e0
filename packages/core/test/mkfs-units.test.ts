// The writer's small pure pieces (xattr naming and sharing, directory block packing, device numbers,
// getfattr and pax parsing), and the awkward inputs they exist for: file names that are not text or
// that getfattr has to escape, binary pax values, tars that repeat or imply directories.
import anyTest, { type TestFn } from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tarStream from 'tar-stream';
import { XATTR_INDEX, ErofsImage } from '@ishare/core/format';
import { planDirBlocks } from '../src/erofs/mkfs/dirent.ts';
import { encodeDev } from '../src/erofs/mkfs/fromdir.ts';
import { parseGetfattr } from '../src/erofs/mkfs/getfattr.ts';
import { mkfs } from '@ishare/core';
import { parsePax, readTar } from '../src/erofs/mkfs/tarread.ts';
import { chooseShared, encodeXattr, splitXattrName } from '../src/erofs/mkfs/xattr.ts';
import { hasCommand, removeDir, tempDir, xattrsSupported } from '../../../test/helpers/trees.ts';
import { FSCK, fsck, readerSnapshot, tryMount } from './mkfs-helpers.ts';

interface Ctx {
  dir: string;
}
const test = anyTest as TestFn<Ctx>;

test.before((t) => {
  t.context = { dir: tempDir('ishare-mkfs-units-') };
});
test.after.always((t) => {
  if (t.context.dir) removeDir(t.context.dir);
});

test('xattr names map to the longest known prefix', (t) => {
  t.deepEqual(splitXattrName('user.a'), { index: XATTR_INDEX.USER, suffix: 'a' });
  t.deepEqual(splitXattrName('trusted.overlay.opaque'), { index: XATTR_INDEX.TRUSTED, suffix: 'overlay.opaque' });
  t.deepEqual(splitXattrName('security.selinux'), { index: XATTR_INDEX.SECURITY, suffix: 'selinux' });
  t.deepEqual(splitXattrName('system.posix_acl_access'), { index: XATTR_INDEX.POSIX_ACL_ACCESS, suffix: '' });
  t.deepEqual(splitXattrName('system.posix_acl_default'), { index: XATTR_INDEX.POSIX_ACL_DEFAULT, suffix: '' });
  t.is(splitXattrName('system.nfs4_acl'), undefined);
  t.is(splitXattrName('user.'), undefined);
  t.is(splitXattrName('other.x'), undefined);
  t.throws(() => encodeXattr('system.nfs4_acl', Buffer.alloc(1), 'f'), { message: /no EROFS name prefix/ });
  t.throws(() => encodeXattr('user.big', Buffer.alloc(70000), 'f'), { message: /larger than EROFS allows/ });
  t.is(encodeXattr('user.ab', Buffer.from('xyz'), 'f').size, 12); // header 4 + 'ab' + 'xyz' = 9, padded to 4
});

test('sharing pays only when several inodes carry an xattr big enough', (t) => {
  const big = encodeXattr('user.same', Buffer.from('shared-value'), 'f');
  const tiny = encodeXattr('user.a', Buffer.alloc(0), 'f');
  const once = encodeXattr('user.once', Buffer.alloc(100), 'f');
  const s = chooseShared([
    [big, tiny, once],
    [big, tiny],
  ]);
  t.true(s.has(big.key));
  t.false(s.has(tiny.key), 'an 8-byte entry on 2 inodes: 16 bytes inline, 8 + 2 ids shared: no gain');
  t.false(s.has(once.key));
  t.true(chooseShared([[tiny], [tiny], [tiny]]).has(tiny.key), 'on 3 inodes: 24 inline vs 20 shared');
});

test('directory blocks fill exactly to the block size and no further', (t) => {
  const bs = 512;
  // 4 entries of 12 + 116 = 128 bytes fill a 512-byte block exactly.
  const e = (c: string) => ({ name: Buffer.from(c.repeat(116)), type: 1 });
  const exact = planDirBlocks([e('a'), e('b'), e('c'), e('d')], bs);
  t.deepEqual(exact.blocks, [{ start: 0, end: 4 }]);
  t.is(exact.size, 512);
  const spill = planDirBlocks([e('a'), e('b'), e('c'), e('d'), { name: Buffer.from('e'), type: 1 }], bs);
  t.deepEqual(spill.blocks, [
    { start: 0, end: 4 },
    { start: 4, end: 5 },
  ]);
  t.is(spill.lastUsed, 13);
  t.is(spill.size, 512 + 13);
});

test('device numbers use the kernel encoding', (t) => {
  t.is(encodeDev(1, 3), 0x103);
  t.is(encodeDev(259, 70000), 0x11110370);
});

test('getfattr output: escaped names, empty values, hex', (t) => {
  const out = [
    '# file: /r/new\\012line',
    'user.q=0x31',
    '',
    '# file: /r/back\\134slash',
    'user.na\\075me=0x00ff',
    'user.empty=0x',
    '',
  ].join('\n');
  const tab = parseGetfattr(out);
  t.deepEqual([...tab.keys()], ['/r/new\nline', '/r/back\\slash']);
  t.deepEqual(tab.get('/r/back\\slash')?.get('user.na=me'), Buffer.from([0, 255]));
  t.deepEqual(tab.get('/r/back\\slash')?.get('user.empty'), Buffer.alloc(0));
});

test('pax records keep binary values as bytes', (t) => {
  const rec = (k: string, v: Buffer): Buffer => {
    const body = Buffer.concat([Buffer.from(` ${k}=`), v, Buffer.from('\n')]);
    let len = body.length + 1;
    while (String(len).length + body.length !== len) len++;
    return Buffer.concat([Buffer.from(String(len)), body]);
  };
  const bin = Buffer.from([0, 0xff, 0x80, 0x0a, 0x3d, 0xc3]);
  const pax = parsePax(
    Buffer.concat([rec('path', Buffer.from('a/b')), rec('SCHILY.xattr.security.capability', bin)]),
    0,
  );
  t.deepEqual(pax.get('SCHILY.xattr.security.capability'), bin);
  t.is(pax.get('path')?.toString(), 'a/b');
  t.throws(() => parsePax(Buffer.from('99 path=x\n'), 0), { message: /malformed/ });
});

test('pax mtimes keep their nanoseconds', async (t) => {
  if (!hasCommand('tar')) return void (t.log('skipped: no tar command'), t.pass());
  const d = join(t.context.dir, 'ns');
  mkdirSync(d);
  writeFileSync(join(d, 'f'), 'x');
  execFileSync('touch', ['-d', '@1650000000.123456789', join(d, 'f')]);
  const archive = join(t.context.dir, 'ns.tar');
  execFileSync('tar', ['--format=pax', '-C', d, '-cf', archive, 'f']);
  const chunks = async function* (): AsyncGenerator<Buffer> {
    yield readFileSync(archive);
  };
  const seen = [];
  for await (const { entry } of readTar(chunks())) seen.push(entry);
  t.is(seen.length, 1);
  t.deepEqual(seen[0].mtime, { sec: 1_650_000_000, nsec: 123_456_789 });
});

async function packTar(
  items: { name: string; type?: 'file' | 'directory'; mode?: number; data?: string }[],
): Promise<Buffer> {
  const pack = tarStream.pack();
  const out: Buffer[] = [];
  pack.on('data', (c: Buffer) => out.push(c));
  const end = new Promise<void>((res) => pack.on('end', () => res()));
  for (const it of items) {
    await new Promise<void>((res, rej) =>
      pack.entry(
        { name: it.name, type: it.type ?? 'file', mode: it.mode ?? 0o644, mtime: new Date(1000) },
        it.data ?? '',
        (e) => (e ? rej(e) : res()),
      ),
    );
  }
  pack.finalize();
  await end;
  return Buffer.concat(out);
}

test('tar: an empty archive gives a root-only image; a directory met again keeps its entries', async (t) => {
  const { dir } = t.context;
  const empty = join(dir, 'empty.tar');
  writeFileSync(empty, Buffer.alloc(1024));
  const rep = await mkfs({ out: join(dir, 'empty.img'), source: empty });
  t.is(rep.inodes, 1);
  t.is(readerSnapshot(join(dir, 'empty.img')).size, 0);
  if (FSCK) t.true(fsck(join(dir, 'empty.img')).ok);

  const again = join(dir, 'again.tar');
  writeFileSync(
    again,
    await packTar([
      { name: 'd/x', data: 'one' },
      { name: 'd', type: 'directory', mode: 0o700 },
      { name: 'd/y', data: 'two' },
      { name: 'd/x', data: 'replaced' },
    ]),
  );
  await mkfs({ out: join(dir, 'again.img'), source: again });
  const snap = readerSnapshot(join(dir, 'again.img'));
  t.deepEqual([...snap.keys()], ['d', 'd/x', 'd/y']);
  t.is(snap.get('d')?.mode, 0o700);
  t.is(snap.get('d/x')?.size, 'replaced'.length);
});

test('names that are not UTF-8 or that getfattr escapes survive, xattrs included', async (t) => {
  const { dir } = t.context;
  const src = join(dir, 'odd');
  mkdirSync(src);
  const names = [
    Buffer.from('new\nline'),
    Buffer.from('back\\slash'),
    Buffer.from('eq=sign'),
    Buffer.from([0x66, 0xff, 0x80, 0x2e]),
    Buffer.from(' lead'),
  ];
  const srcB = Buffer.from(src);
  for (const [i, n] of names.entries()) writeFileSync(Buffer.concat([srcB, Buffer.from('/'), n]), `file ${i}`);
  const withXattrs = hasCommand('setfattr') && xattrsSupported(src);
  if (withXattrs) {
    for (const [i, n] of names.entries()) {
      // setfattr takes the path as bytes; pass it through a shell variable set from hex.
      const r = spawnSync('sh', [
        '-c',
        `p="$(printf '${[...Buffer.concat([srcB, Buffer.from('/'), n])].map((b) => `\\${b.toString(8).padStart(3, '0')}`).join('')}')"; setfattr -n user.i -v ${i} "$p"`,
      ]);
      t.is(r.status, 0, r.stderr.toString());
    }
  } else {
    t.log('no xattr support under the temp dir: names checked without xattrs');
  }
  const img = join(dir, 'odd.img');
  await mkfs({ out: img, source: src });
  const im = ErofsImage.open(img);
  try {
    const ents = im.readdir(im.root()).filter((e) => e.name !== '.' && e.name !== '..');
    const sorted = [...names].sort(Buffer.compare);
    t.deepEqual(
      ents.map((e) => Buffer.from(e.nameBytes)),
      sorted,
    );
    for (const e of ents) {
      const i = names.findIndex((n) => n.equals(Buffer.from(e.nameBytes)));
      const ino = im.inode(e.nid);
      t.is(Buffer.from(im.readFile(ino)).toString(), `file ${i}`);
      if (withXattrs) t.is(Buffer.from(im.getXattr(ino, 'user.i') ?? []).toString(), String(i));
    }
  } finally {
    im.close();
  }
  const m = tryMount(img, join(dir, 'mnt-odd'));
  if (!m.mounted) {
    t.log(`kernel check skipped: ${m.reason}`);
    return;
  }
  try {
    t.deepEqual(readdirSync(m.dir, { encoding: 'buffer' }).sort(Buffer.compare), [...names].sort(Buffer.compare));
  } finally {
    m.unmount();
  }
});

test('POSIX ACLs travel as system.posix_acl_access (name index 2, empty suffix)', async (t) => {
  const { dir } = t.context;
  const src = join(dir, 'acl');
  mkdirSync(src);
  writeFileSync(join(src, 'f'), 'acl\n');
  // user::rw- user:1234:r-- group::r-- mask::r-- other::r-- in the kernel's xattr form.
  const acl = '0x0200000001000600ffffffff02000400d204000004000400ffffffff10000400ffffffff20000400ffffffff';
  const r = spawnSync('setfattr', ['-n', 'system.posix_acl_access', '-v', acl, join(src, 'f')], { encoding: 'utf8' });
  if (r.status !== 0)
    return void (t.log(`skipped: cannot set an ACL here (${(r.stderr || r.error?.message || '').trim()})`), t.pass());
  const img = join(dir, 'acl.img');
  await mkfs({ out: img, source: src });
  const im = ErofsImage.open(img);
  try {
    t.is(`0x${Buffer.from(im.getXattr(im.resolve('/f'), 'system.posix_acl_access') ?? []).toString('hex')}`, acl);
  } finally {
    im.close();
  }
  const m = tryMount(img, join(dir, 'mnt-acl'));
  if (!m.mounted) {
    t.log(`kernel check skipped: ${m.reason}`);
    return;
  }
  try {
    const out = execFileSync('getfattr', ['-n', 'system.posix_acl_access', '-e', 'hex', join(m.dir, 'f')], {
      encoding: 'utf8',
    });
    t.true(out.includes(`system.posix_acl_access=${acl}`), out);
  } finally {
    m.unmount();
  }
});
