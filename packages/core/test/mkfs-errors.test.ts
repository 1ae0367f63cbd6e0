// Failures: bad options, missing or unsafe sources, archives we refuse (whiteouts, escaping paths,
// broken data). Each is an ErofsError with the right code, and none leaves an output or a temp file
// behind — an existing output is left as it was.
import anyTest, { type TestFn } from 'ava';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as tarStream from 'tar-stream';
import { ErofsError, type ErofsErrorCode, mkfs, type MkfsOptions } from '@ishare/core';
import { removeDir, seededBytes, tempDir } from '../../../test/helpers/trees.ts';
import { tempLeftovers } from './mkfs-helpers.ts';

interface Ctx {
  dir: string;
  src: string;
}
const test = anyTest as TestFn<Ctx>;

test.before((t) => {
  const dir = tempDir('ishare-mkfs-err-');
  const src = join(dir, 'src');
  mkdirSync(join(src, 'sub'), { recursive: true });
  writeFileSync(join(src, 'sub', 'f'), seededBytes(5000, 3));
  t.context = { dir, src };
});

let outs = 0;
/** A fresh output directory per use, so concurrent tests never see each other's temp files. */
function freshDir(t: import('ava').ExecutionContext<Ctx>): string {
  const d = join(t.context.dir, `out${outs++}`);
  mkdirSync(d);
  return d;
}

test.after.always((t) => {
  if (t.context.dir) removeDir(t.context.dir);
});

interface TarItem {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link';
  data?: Buffer;
  linkname?: string;
}

async function makeTar(items: TarItem[]): Promise<Buffer> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<void>((res) => pack.on('end', () => res()));
  for (const it of items) {
    await new Promise<void>((res, rej) =>
      pack.entry(
        { name: it.name, type: it.type ?? 'file', linkname: it.linkname, mode: 0o644, mtime: new Date(0) },
        it.data ?? Buffer.alloc(0),
        (e) => (e ? rej(e) : res()),
      ),
    );
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** mkfs must reject with `code` (and a message matching `msg`) and leave nothing behind. */
async function refuses(
  t: import('ava').ExecutionContext<Ctx>,
  opts: MkfsOptions,
  code: ErofsErrorCode,
  msg?: RegExp,
): Promise<void> {
  const outExisted = existsSync(opts.out);
  const isDir = outExisted && statSync(opts.out).isDirectory();
  const before = outExisted
    ? isDir
      ? Buffer.from(readdirSync(opts.out).join('\n'))
      : readFileSync(opts.out)
    : undefined;
  const err = await t.throwsAsync(mkfs(opts), { instanceOf: ErofsError });
  t.is(err?.code, code, err?.message);
  if (msg) t.regex(err?.message ?? '', msg);
  if (outExisted)
    t.true(
      (isDir ? Buffer.from(readdirSync(opts.out).join('\n')) : readFileSync(opts.out)).equals(before!),
      'existing output untouched',
    );
  else t.false(existsSync(opts.out), 'no output written');
  t.deepEqual(tempLeftovers(join(opts.out, '..')), [], 'no temp file left');
}

for (const blockSize of [3000, 8192, 256, 0, -4096, 4096.5, Number.NaN, 65536]) {
  test(`block size ${blockSize} is refused with EINVAL`, async (t) => {
    await refuses(
      t,
      { out: join(freshDir(t), `bs${blockSize}.img`), source: t.context.src, blockSize },
      'EINVAL',
      /block size/,
    );
  });
}

test('bad options are EINVAL', async (t) => {
  const { src } = t.context;
  const outDir = freshDir(t);
  const out = join(outDir, 'opts.img');
  await refuses(t, { out, source: src, xattrInodeDigest: '' }, 'EINVAL', /fingerprint xattr name/);
  await refuses(t, { out, source: src, xattrInodeDigest: 'x'.repeat(256) }, 'EINVAL', /fingerprint xattr name/);
  await refuses(t, { out, source: src, xattrInodeDigest: 'trusted.' }, 'EINVAL', /only a namespace prefix/);
  await refuses(t, { out, source: src, uuid: 'not-a-uuid' }, 'EINVAL', /uuid/);
  await refuses(t, { out, source: src, timestamp: -1 }, 'EINVAL', /timestamp/);
  await refuses(t, { out, source: src, timestamp: 1.5 }, 'EINVAL', /timestamp/);
});

test('a missing source is ENOENT', async (t) => {
  await refuses(t, { out: join(freshDir(t), 'missing.img'), source: join(t.context.dir, 'nope') }, 'ENOENT', /nope/);
});

test('an output inside the source directory, the source itself, or a directory is refused', async (t) => {
  const { src, dir } = t.context;
  const outDir = freshDir(t);
  await refuses(t, { out: join(src, 'sub', 'inside.img'), source: src }, 'EINVAL', /inside the source/);
  await refuses(t, { out: src, source: src }, 'EINVAL');
  await refuses(t, { out: outDir, source: src }, 'EINVAL', /is a directory/);
  const archive = join(dir, 'self.tar');
  writeFileSync(archive, await makeTar([{ name: 'a', data: Buffer.from('x') }]));
  await refuses(t, { out: archive, source: archive }, 'EINVAL', /source itself/);
  t.is(readdirSync(join(src, 'sub')).length, 1, 'nothing was written into the source');
});

const TAR_CASES: { name: string; items: TarItem[]; code: ErofsErrorCode; msg: RegExp }[] = [
  {
    name: 'a whiteout',
    items: [{ name: 'a/keep', data: Buffer.from('k') }, { name: 'a/.wh.gone' }],
    code: 'EUNSUPPORTED',
    msg: /whiteout .*not supported/,
  },
  {
    name: 'an opaque-dir whiteout',
    items: [{ name: 'd/.wh..wh..opq' }],
    code: 'EUNSUPPORTED',
    msg: /whiteout .*not supported/,
  },
  {
    name: "a '..' path",
    items: [
      { name: 'ok', data: Buffer.from('1') },
      { name: 'a/../../evil', data: Buffer.from('x') },
    ],
    code: 'EINVAL',
    msg: /'\.\.'/,
  },
  { name: 'an absolute path', items: [{ name: '/etc/evil', data: Buffer.from('x') }], code: 'EINVAL', msg: /absolute/ },
  {
    name: 'a hard link to nothing',
    items: [{ name: 'l', type: 'link', linkname: 'missing' }],
    code: 'ECORRUPT',
    msg: /hard link/,
  },
  {
    name: 'a file under a file',
    items: [
      { name: 'f', data: Buffer.from('1') },
      { name: 'f/g', data: Buffer.from('2') },
    ],
    code: 'ENOTDIR',
    msg: /not a directory/,
  },
];

for (const c of TAR_CASES) {
  test(`a tar with ${c.name} is refused (${c.code})`, async (t) => {
    const archive = join(t.context.dir, `${c.name.replace(/\W+/g, '_')}.tar`);
    writeFileSync(archive, await makeTar(c.items));
    await refuses(t, { out: join(freshDir(t), 'tar.img'), source: archive }, c.code, c.msg);
  });
}

test('a truncated tar fails with ETRUNCATED and keeps the previous image', async (t) => {
  const { dir } = t.context;
  const outDir = freshDir(t);
  const full = await makeTar([
    { name: 'big', data: seededBytes(300_000, 9) },
    { name: 'after', data: Buffer.from('z') },
  ]);
  const archive = join(dir, 'cut.tar');
  writeFileSync(archive, full.subarray(0, 150_000));
  const out = join(outDir, 'previous.img');
  writeFileSync(out, 'the previous image');
  await refuses(t, { out, source: archive }, 'ETRUNCATED');
});

test('garbage and broken gzip are refused', async (t) => {
  const { dir } = t.context;
  const outDir = freshDir(t);
  const junk = join(dir, 'junk.tar');
  writeFileSync(junk, seededBytes(4096, 77));
  await refuses(t, { out: join(outDir, 'junk.img'), source: junk }, 'ECORRUPT', /checksum/);
  const gz = gzipSync(await makeTar([{ name: 'a', data: seededBytes(100_000, 1) }]));
  gz[gz.length >> 1] ^= 0xff;
  const bad = join(dir, 'bad.tar.gz');
  writeFileSync(bad, gz);
  await refuses(t, { out: join(outDir, 'gz.img'), source: bad }, 'ECORRUPT', /gzip/);
  const xz = join(dir, 'layer.tar.xz');
  writeFileSync(xz, Buffer.concat([Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), seededBytes(600, 5)]));
  await refuses(t, { out: join(outDir, 'xz.img'), source: xz }, 'EUNSUPPORTED', /xz-compressed/);
});

test.serial('without getfattr: a clear error when xattrs are wanted, fine without them', async (t) => {
  const { src } = t.context;
  const outDir = freshDir(t);
  const path = process.env.PATH;
  process.env.PATH = join(t.context.dir, 'empty-bin');
  try {
    await refuses(t, { out: join(outDir, 'nogetfattr.img'), source: src }, 'EUNSUPPORTED', /getfattr not found/);
    const rep = await mkfs({ out: join(outDir, 'noxattrs.img'), source: src, xattrs: false });
    t.is(rep.files, 1);
  } finally {
    process.env.PATH = path;
  }
});
