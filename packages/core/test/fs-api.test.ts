// The fs-shaped API (openImage) against its oracle, the source tree seen through node:fs: every path's
// lstat/stat, readdir, readlink, readFile and read streams, and the errors of bad calls (code, errno,
// syscall, path, message), on images written by our mkfs and by upstream mkfs.erofs 1.9.3, read
// straight from the image and through a mount of the kernel model. Then fast-glob, given the image as
// its `fs`, must walk the image exactly as it walks the source directory.
import anyTest, { type TestFn } from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import * as nodeFs from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import fg from 'fast-glob';
import { mkfs, openImage, System, PAGE_SIZE, type ImageFs } from '@ishare/core';
import { removeDir, seededBytes, setXattr, tempDir, xattrsSupported } from '../../../test/helpers/trees.ts';
import { upstreamTool } from '../../../test/helpers/erofs-utils.ts';

interface Ctx {
  dir: string;
  src: string;
  ours: string;
  upstream: string;
  /** Every path of the source tree, relative ('' is the root), in walk order. */
  paths: string[];
  xattrs: boolean;
}
const test = anyTest as TestFn<Ctx>;

const BIG = 5 * PAGE_SIZE * 16 + 777;
const XATTR_FILE = 'dir/with-xattr';

function makeTree(root: string): boolean {
  const w = (rel: string, data: string | Buffer, mode = 0o644): void => {
    nodeFs.writeFileSync(join(root, rel), data, { mode });
  };
  nodeFs.mkdirSync(join(root, 'dir/sub/deeper'), { recursive: true });
  nodeFs.mkdirSync(join(root, 'emptydir'));
  nodeFs.mkdirSync(join(root, 'private'), { mode: 0o700 });
  nodeFs.mkdirSync(join(root, 'links'));
  w('empty', '');
  w('one-byte', 'x');
  for (const n of [PAGE_SIZE - 1, PAGE_SIZE, PAGE_SIZE + 1, 3 * PAGE_SIZE + 100]) w(`dir/f${n}`, seededBytes(n, n));
  w('big.bin', seededBytes(BIG, 7));
  w('dir/sub/deeper/leaf.txt', 'deep leaf\n');
  w('dir/sub/notes.txt', 'notes\n');
  w('dir/héllo wörld ✓.txt', 'utf8 name');
  w('exec.sh', '#!/bin/sh\necho hi\n', 0o755);
  w('private/secret', 'secret', 0o600);
  w('setuid', 'setuid', 0o4755);
  w('owned', 'owned by someone else');
  spawnSync('chown', ['1000:50', join(root, 'owned')]);
  w(XATTR_FILE, 'has xattrs');
  w('links/hard-a', 'hard linked\n');
  nodeFs.linkSync(join(root, 'links/hard-a'), join(root, 'links/hard-b'));
  nodeFs.symlinkSync('../one-byte', join(root, 'links/rel'));
  nodeFs.symlinkSync('rel', join(root, 'links/chain'));
  nodeFs.symlinkSync('../dir', join(root, 'links/dirlink'));
  nodeFs.symlinkSync('nowhere', join(root, 'links/dangling'));
  nodeFs.symlinkSync('loop-b', join(root, 'links/loop-a'));
  nodeFs.symlinkSync('loop-a', join(root, 'links/loop-b'));
  nodeFs.symlinkSync('../exec.sh/x', join(root, 'links/through-file'));
  spawnSync('mkfifo', [join(root, 'fifo')]);
  let xattrs = false;
  if (xattrsSupported(root)) {
    setXattr(join(root, XATTR_FILE), 'user.colour', 'blue');
    setXattr(join(root, XATTR_FILE), 'user.size', 'large');
    xattrs = true;
  }
  // One past time with a fraction for every entry (links themselves included, directories after
  // their children): upstream mkfs.erofs stores a compact inode, without the fraction, for an mtime
  // whose seconds equal the build time.
  execFileSync('find', [root, '-depth', '-exec', 'touch', '-h', '-d', '@1712345678.255', '{}', '+']);
  nodeFs.utimesSync(join(root, 'dir/f4096'), 1_000_000_000.5, 1_000_000_000.5);
  execFileSync('touch', ['-h', '-d', '@1712345678.255', join(root, 'dir')]);
  return xattrs;
}

function walkPaths(root: string): string[] {
  const out: string[] = [''];
  const walk = (rel: string): void => {
    for (const e of nodeFs
      .readdirSync(join(root, rel), { withFileTypes: true })
      .sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const r = rel === '' ? e.name : `${rel}/${e.name}`;
      out.push(r);
      if (e.isDirectory()) walk(r);
    }
  };
  walk('');
  return out;
}

test.before(async (t) => {
  const dir = tempDir('ishare-fs-api-');
  const src = join(dir, 'src');
  nodeFs.mkdirSync(src);
  const xattrs = makeTree(src);
  const ours = join(dir, 'ours.img');
  await mkfs({ out: ours, source: src });
  const upstream = join(dir, 'upstream.img');
  execFileSync(upstreamTool('mkfs.erofs'), ['--quiet', '--xattr-inode-digest', upstream, src]);
  t.context = { dir, src, ours, upstream, paths: walkPaths(src), xattrs };
});

test.after.always((t) => {
  if (t.context.dir) removeDir(t.context.dir);
});

/** The three ways of opening an image the comparisons run on. */
const MODES: { name: string; open: (c: Ctx) => { fs: ImageFs; done: () => void } }[] = [
  {
    name: 'our mkfs, direct',
    open: (c) => {
      const fs = openImage(c.ours);
      return { fs, done: () => fs.close() };
    },
  },
  {
    name: 'our mkfs, mounted in a System',
    open: (c) => {
      const system = System.create({ poolMiB: 16 });
      const fs = openImage(c.ours, { system });
      const done = (): void => {
        fs.close();
        system.detach();
      };
      return { fs, done };
    },
  },
  {
    name: 'upstream mkfs.erofs 1.9.3, direct',
    open: (c) => {
      const fs = openImage(c.upstream);
      return { fs, done: () => fs.close() };
    },
  },
];

const imgPath = (rel: string): string => `/${rel}`;

/** What a stat says that the image must carry from the source (dev, ino, blocks, blksize are the fs's own). */
type StatLike = Pick<
  nodeFs.Stats,
  | 'mode'
  | 'nlink'
  | 'uid'
  | 'gid'
  | 'size'
  | 'mtimeMs'
  | 'mtime'
  | 'isFile'
  | 'isDirectory'
  | 'isSymbolicLink'
  | 'isFIFO'
  | 'isSocket'
  | 'isCharacterDevice'
  | 'isBlockDevice'
>;

function statView(st: StatLike, isDir: boolean): Record<string, unknown> {
  return {
    mode: st.mode,
    nlink: st.nlink,
    uid: st.uid,
    gid: st.gid,
    // A directory's size is the filesystem's own layout, not the tree's.
    size: isDir ? 'dir' : st.size,
    mtimeMs: st.mtimeMs,
    mtime: st.mtime.getTime(),
    types: [
      st.isFile(),
      st.isDirectory(),
      st.isSymbolicLink(),
      st.isFIFO(),
      st.isSocket(),
      st.isCharacterDevice(),
      st.isBlockDevice(),
    ],
  };
}

/** An error's Node fields, the host's source path rewritten to the image path it stands for. */
function errView(e: unknown, src: string): Record<string, unknown> {
  if (!(e instanceof Error)) return { notAnError: String(e) };
  const x = e as NodeJS.ErrnoException;
  const fix = (s: string | undefined): string | undefined =>
    s === undefined ? undefined : s.split(`${src}/`).join('/').split(`'${src}'`).join("'/'");
  return {
    name: x.name,
    code: x.code,
    errno: x.errno,
    syscall: x.syscall,
    path: x.path === src ? '/' : fix(x.path),
    message: fix(x.message),
  };
}

function catchSync(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return new Error('no error');
}

async function catchAsync(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  return new Error('no error');
}

async function drain(s: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks);
}

for (const mode of MODES) {
  test(`${mode.name}: lstat, stat, readdir, readlink, readFile of every path = the source tree's`, async (t) => {
    const { src, paths } = t.context;
    const { fs, done } = mode.open(t.context);
    try {
      const inoOf = new Map<number, number>(); // host ino → image ino: hard links must agree
      for (const rel of paths) {
        const host = join(src, rel);
        const p = imgPath(rel);
        const hl = nodeFs.lstatSync(host);
        const il = fs.lstatSync(p);
        t.deepEqual(statView(il, hl.isDirectory()), statView(hl, hl.isDirectory()), `lstat ${p}`);
        t.deepEqual(
          statView(await fs.promises.lstat(p), hl.isDirectory()),
          statView(hl, hl.isDirectory()),
          `lstat ${p}`,
        );
        const known = inoOf.get(hl.ino);
        if (known === undefined) inoOf.set(hl.ino, il.ino);
        else t.is(il.ino, known, `${p}: hard links share an inode number`);
        t.is(il.blksize, fs.statSync('/').blksize);
        t.is(il.blocks, Math.ceil(il.size / il.blksize) * (il.blksize / 512));

        // stat follows symlinks; a dangling or looping one fails as on the host.
        let hs: nodeFs.Stats | undefined;
        try {
          hs = nodeFs.statSync(host);
        } catch (e) {
          t.deepEqual(
            errView(
              catchSync(() => fs.statSync(p)),
              src,
            ),
            errView(e, src),
            `stat ${p}`,
          );
          t.deepEqual(errView(await catchAsync(() => fs.promises.stat(p)), src), errView(e, src), `stat ${p}`);
          t.is(fs.existsSync(p), false);
        }
        if (hs !== undefined) {
          t.deepEqual(statView(fs.statSync(p), hs.isDirectory()), statView(hs, hs.isDirectory()), `stat ${p}`);
          t.deepEqual(
            statView(await fs.promises.stat(p), hs.isDirectory()),
            statView(hs, hs.isDirectory()),
            `stat ${p}`,
          );
          t.is(fs.existsSync(p), true);
        }

        if (hl.isSymbolicLink()) {
          t.is(fs.readlinkSync(p), nodeFs.readlinkSync(host), `readlink ${p}`);
          t.is(await fs.promises.readlink(p), nodeFs.readlinkSync(host), `readlink ${p}`);
        } else {
          t.deepEqual(
            errView(
              catchSync(() => fs.readlinkSync(p)),
              src,
            ),
            errView(
              catchSync(() => nodeFs.readlinkSync(host)),
              src,
            ),
          );
        }

        if (hs?.isDirectory()) {
          const want = nodeFs.readdirSync(host).sort();
          t.deepEqual([...fs.readdirSync(p)].sort(), want, `readdir ${p}`);
          t.deepEqual([...(await fs.promises.readdir(p))].sort(), want, `readdir ${p}`);
          const hd = nodeFs.readdirSync(host, { withFileTypes: true });
          const idn = await fs.promises.readdir(p, { withFileTypes: true });
          const dview = (d: {
            name: string;
            parentPath: string;
            isFile(): boolean;
            isDirectory(): boolean;
            isSymbolicLink(): boolean;
            isFIFO(): boolean;
          }): string =>
            `${d.name} ${d.parentPath === host ? p : d.parentPath} ${[d.isFile(), d.isDirectory(), d.isSymbolicLink(), d.isFIFO()].join()}`;
          t.deepEqual(idn.map(dview).sort(), hd.map(dview).sort(), `readdir withFileTypes ${p}`);
          t.deepEqual(
            errView(await catchAsync(() => fs.promises.readFile(p)), src),
            errView(await catchAsync(() => nodeFs.promises.readFile(host)), src),
            `readFile of a directory ${p}`,
          );
        } else if (hs?.isFile()) {
          const want = nodeFs.readFileSync(host);
          t.true(fs.readFileSync(p).equals(want), `readFileSync ${p}`);
          t.true((await fs.promises.readFile(p)).equals(want), `readFile ${p}`);
          t.is(await fs.promises.readFile(p, 'utf8'), want.toString('utf8'));
          t.is(fs.readFileSync(p, { encoding: 'latin1' }), want.toString('latin1'));
          t.deepEqual(
            errView(
              catchSync(() => fs.readdirSync(p)),
              src,
            ),
            errView(
              catchSync(() => nodeFs.readdirSync(host)),
              src,
            ),
            `readdir of a file ${p}`,
          );
        }
      }
    } finally {
      done();
    }
  });

  test(`${mode.name}: recursive readdir = the source tree walked without following symlinks`, async (t) => {
    const { src } = t.context;
    const { fs, done } = mode.open(t.context);
    try {
      for (const rel of ['', 'dir', 'links/dirlink']) {
        const host = rel === '' ? src : join(src, rel);
        const p = imgPath(rel);
        // The oracle: node:fs's one-level readdir, recursing into entries that are directories themselves
        // (Node 20's own recursive readdir stats, so it follows symlinks to directories, and loops).
        const names: string[] = [];
        const entries: string[] = [];
        const walk = (dir: string, prefix: string): void => {
          for (const d of nodeFs.readdirSync(dir, { withFileTypes: true })) {
            const name = prefix === '' ? d.name : `${prefix}/${d.name}`;
            names.push(name);
            entries.push(`${join(p, prefix)}|${d.name}|${String(d.isDirectory())}|${String(d.isSymbolicLink())}`);
            if (d.isDirectory()) walk(join(dir, d.name), name);
          }
        };
        walk(host, '');
        t.deepEqual([...(await fs.promises.readdir(p, { recursive: true }))].sort(), names.sort(), `readdir -r ${p}`);
        t.deepEqual(
          fs
            .readdirSync(p, { recursive: true, withFileTypes: true })
            .map((d) => `${d.parentPath}|${d.name}|${String(d.isDirectory())}|${String(d.isSymbolicLink())}`)
            .sort(),
          entries.sort(),
          `readdir -r withFileTypes ${p}`,
        );
      }
    } finally {
      done();
    }
  });

  test(`${mode.name}: bad calls fail with Node's errors`, async (t) => {
    const { src } = t.context;
    const { fs, done } = mode.open(t.context);
    try {
      const rels = [
        'nope',
        'dir/nope/x',
        'one-byte/x',
        'one-byte/',
        'links/dangling',
        'links/loop-a',
        'links/loop-a/x',
        'links/through-file',
        'links/dangling/',
        'dir',
        'links/dirlink/nope',
      ];
      for (const rel of rels) {
        const host = join(src, rel);
        const p = imgPath(rel);
        const pairs: [string, () => unknown, () => unknown][] = [
          ['readFileSync', () => fs.readFileSync(p), () => nodeFs.readFileSync(host)],
          ['statSync', () => fs.statSync(p), () => nodeFs.statSync(host)],
          ['lstatSync', () => fs.lstatSync(p), () => nodeFs.lstatSync(host)],
          ['readdirSync', () => fs.readdirSync(p), () => nodeFs.readdirSync(host)],
          ['readlinkSync', () => fs.readlinkSync(p), () => nodeFs.readlinkSync(host)],
          ['accessSync', () => fs.accessSync(p), () => nodeFs.accessSync(host)],
        ];
        for (const [name, ours, theirs] of pairs) {
          const want = catchSync(theirs);
          if ((want as Error).message === 'no error') continue;
          t.deepEqual(errView(catchSync(ours), src), errView(want, src), `${name} ${p}`);
        }
        const want = await catchAsync(() => nodeFs.promises.readFile(host));
        if ((want as Error).message !== 'no error')
          t.deepEqual(
            errView(await catchAsync(() => fs.promises.readFile(p)), src),
            errView(want, src),
            `readFile ${p}`,
          );
      }
      // stat(..., { throwIfNoEntry: false }) as Node's.
      t.is(nodeFs.statSync(join(src, 'nope'), { throwIfNoEntry: false }), undefined);
      t.is(fs.statSync('/nope', { throwIfNoEntry: false }), undefined);
      t.is(fs.statSync('/one-byte/x', { throwIfNoEntry: false }), undefined);
      // The callback forms hand errors to the callback.
      const cbErr = await new Promise<unknown>((res) => {
        fs.stat('/nope', (e) => {
          res(e);
        });
      });
      const hostErr = await new Promise<unknown>((res) => {
        nodeFs.stat(join(src, 'nope'), (e) => {
          res(e);
        });
      });
      t.deepEqual(errView(cbErr, src), errView(hostErr, src));
      // Relative paths are inside the image too; '..' stops at its root.
      t.true(fs.readFileSync('dir/sub/notes.txt').equals(nodeFs.readFileSync(join(src, 'dir/sub/notes.txt'))));
      t.true(
        fs
          .readFileSync('/../../dir/./sub/../sub/notes.txt')
          .equals(nodeFs.readFileSync(join(src, 'dir/sub/notes.txt'))),
      );
      // A read-only filesystem: writing flags and W_OK are EROFS, as on a read-only mount.
      t.like(
        catchSync(() => fs.readFileSync('/one-byte', { flag: 'r+' })),
        { code: 'EROFS', syscall: 'open', path: '/one-byte' },
      );
      t.like(await catchAsync(() => fs.promises.access('/one-byte', nodeFs.constants.W_OK)), {
        code: 'EROFS',
        syscall: 'access',
      });
      t.like(
        catchSync(() => fs.accessSync('/one-byte', nodeFs.constants.X_OK)),
        { code: 'EACCES', syscall: 'access' },
      );
      fs.accessSync('/exec.sh', nodeFs.constants.X_OK | nodeFs.constants.R_OK);
    } finally {
      done();
    }
  });

  test(`${mode.name}: createReadStream ranges and errors = node:fs's`, async (t) => {
    const { src } = t.context;
    const { fs, done } = mode.open(t.context);
    try {
      const file = 'big.bin';
      const size = nodeFs.statSync(join(src, file)).size;
      const ranges: { start?: number; end?: number; highWaterMark?: number }[] = [
        {},
        { start: 0, end: 0 },
        { start: 5, end: 5 },
        { start: PAGE_SIZE - 1, end: PAGE_SIZE },
        { start: 100, end: 3 * PAGE_SIZE + 7, highWaterMark: 1000 },
        { start: size - 1 },
        { start: size },
        { start: size + 10 },
        { end: size + 100 },
        { start: 17, end: 20_000, highWaterMark: 3 },
        { start: 10 * PAGE_SIZE + 1, end: size - 2 },
      ];
      for (const r of ranges) {
        const want = await drain(nodeFs.createReadStream(join(src, file), r));
        const s = fs.createReadStream(`/${file}`, r);
        t.true(s instanceof Readable);
        const got = await drain(s);
        t.is(got.length, want.length, JSON.stringify(r));
        t.true(got.equals(want), JSON.stringify(r));
        t.is(s.bytesRead, want.length);
      }
      t.is(await drain(fs.createReadStream('/empty')).then((b) => b.length), 0);
      t.is((await drain(fs.createReadStream('/links/chain', { encoding: 'utf8' }))).toString(), 'x');
      // Bad ranges throw synchronously, as Node's.
      for (const r of [{ start: 3, end: 2 }, { start: -1 }, { start: 1.5 }, { end: -2 }]) {
        t.deepEqual(
          errView(
            catchSync(() => fs.createReadStream(`/${file}`, r)),
            src,
          ),
          errView(
            catchSync(() => nodeFs.createReadStream(join(src, file), r)),
            src,
          ),
          JSON.stringify(r),
        );
      }
      // Open and read failures arrive as 'error' events.
      for (const rel of ['nope', 'dir', 'links/loop-a']) {
        const theirs = await catchAsync(() => drain(nodeFs.createReadStream(join(src, rel))));
        const ours = await catchAsync(() => drain(fs.createReadStream(`/${rel}`)));
        t.deepEqual(errView(ours, src), errView(theirs, src), rel);
      }
      // A stream destroyed half way releases its file.
      const s = fs.createReadStream(`/${file}`, { highWaterMark: 4096 });
      await new Promise<void>((res) => s.once('readable', () => res()));
      s.destroy();
      await new Promise<void>((res) => s.once('close', () => res()));
      t.true(s.destroyed);
    } finally {
      done();
    }
  });

  test(`${mode.name}: fast-glob walks the image as it walks the source tree`, async (t) => {
    const { src } = t.context;
    const { fs, done } = mode.open(t.context);
    try {
      const runs: fg.Options[] = [
        { dot: true, onlyFiles: false, markDirectories: true },
        { dot: true },
        { dot: true, onlyDirectories: true },
        { dot: true, followSymbolicLinks: false, onlyFiles: false },
        { dot: true, deep: 2, onlyFiles: false },
        { dot: true, ignore: ['dir/sub/**'] },
      ];
      const patterns = ['**', '**/*.txt', 'dir/**/f*', 'links/*', '{one-byte,empty,nope}', 'links/dirlink/sub/**'];
      for (const o of runs) {
        for (const pat of patterns) {
          const want = (await fg.glob(pat, { ...o, cwd: src })).sort();
          const got = (await fg.glob(pat, { ...o, cwd: '/', fs })).sort();
          t.deepEqual(got, want, `glob ${pat} ${JSON.stringify(o)}`);
          t.deepEqual(fg.sync(pat, { ...o, cwd: '/', fs }).sort(), want, `sync ${pat} ${JSON.stringify(o)}`);
        }
        const streamed: string[] = [];
        for await (const e of fg.stream('**', { ...o, cwd: '/', fs })) streamed.push(e.toString());
        t.deepEqual(streamed.sort(), (await fg.glob('**', { ...o, cwd: src })).sort(), `stream ${JSON.stringify(o)}`);
      }
      // With stats: the entries carry the image's own stats, equal to the source's where they must be.
      const want = await fg.glob('**', { cwd: src, dot: true, stats: true, onlyFiles: false });
      const got = await fg.glob('**', { cwd: '/', fs, dot: true, stats: true, onlyFiles: false });
      const view = (es: fg.Entry[]): string[] =>
        es
          .map(
            (e) =>
              `${e.path} ${e.stats?.isDirectory() ? 'dir' : String(e.stats?.size)} ${String(e.stats?.mode)} ${String(e.stats?.mtimeMs)}`,
          )
          .sort();
      t.deepEqual(view(got), view(want));
    } finally {
      done();
    }
  });
}

test('through a System: reads go through the page cache, whose figure grows by the pages read', async (t) => {
  const { ours, src } = t.context;
  const system = System.create({ poolMiB: 16 });
  const fs = openImage(ours, { system });
  try {
    t.is(typeof fs.mount, 'number');
    t.is(system.stats().pageCacheBytes, 0);
    fs.statSync('/big.bin');
    fs.readdirSync('/dir');
    t.is(system.stats().pageCacheBytes, 0, 'metadata is not file data');
    const size = nodeFs.statSync(join(src, 'dir/f4097')).size;
    t.true((await fs.promises.readFile('/dir/f4097')).equals(nodeFs.readFileSync(join(src, 'dir/f4097'))));
    const afterOne = system.stats().pageCacheBytes;
    t.is(afterOne, Math.ceil(size / PAGE_SIZE) * PAGE_SIZE, 'the file pages, as fincore would count them');
    // A range of another file: at least the pages of the range join the cache.
    const start = 3 * PAGE_SIZE + 5;
    const end = 6 * PAGE_SIZE;
    const got = await drain(fs.createReadStream('/big.bin', { start, end }));
    t.true(got.equals(nodeFs.readFileSync(join(src, 'big.bin')).subarray(start, end + 1)));
    const pagesOfRange = Math.floor(end / PAGE_SIZE) - Math.floor(start / PAGE_SIZE) + 1;
    t.true(system.stats().pageCacheBytes >= afterOne + pagesOfRange * PAGE_SIZE, `${system.stats().pageCacheBytes}`);
    // Reading the same file again is served from the cache: the figure does not move.
    const before = system.stats().pageCacheBytes;
    fs.readFileSync('/dir/f4097');
    t.is(system.stats().pageCacheBytes, before);
  } finally {
    fs.close();
    system.detach();
  }
  t.true(fs.closed);
  t.like(
    catchSync(() => fs.statSync('/')),
    { code: 'EBADF', syscall: 'stat' },
  );
});

test('two images mounted with inode_share in one System share the pages of identical files', async (t) => {
  const { ours, upstream, src } = t.context;
  const system = System.create({ poolMiB: 16 });
  const a = openImage(ours, { system, inodeShare: true, domainId: 'd' });
  const b = openImage(upstream, { system, inodeShare: true, domainId: 'd' });
  try {
    const want = nodeFs.readFileSync(join(src, 'big.bin'));
    t.true(a.readFileSync('/big.bin').equals(want));
    const one = system.stats().pageCacheBytes;
    t.true(b.readFileSync('/big.bin').equals(want));
    t.is(system.stats().pageCacheBytes, one, 'the second image reads the first one’s pages');
  } finally {
    a.close();
    b.close();
    system.detach();
  }
});

test('xattrs: listxattr and getxattr give the source’s', async (t) => {
  if (!t.context.xattrs) {
    t.log('skipped: setfattr or user xattrs are not available on this filesystem');
    t.pass();
    return;
  }
  const { ours, src } = t.context;
  const fs = openImage(ours);
  try {
    const want = execFileSync('getfattr', ['-d', '--absolute-names', '-m', '-', join(src, XATTR_FILE)], {
      encoding: 'utf8',
    })
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => l.split('=')[0])
      .sort();
    t.deepEqual((await fs.promises.listxattr(`/${XATTR_FILE}`)).sort(), want);
    for (const name of want) {
      const v = execFileSync('getfattr', ['--only-values', '--absolute-names', '-n', name, join(src, XATTR_FILE)]);
      t.true((await fs.promises.getxattr(`/${XATTR_FILE}`, name)).equals(v), name);
    }
    t.like(await catchAsync(() => fs.promises.getxattr('/one-byte', 'user.none')), {
      code: 'ENODATA',
      syscall: 'getxattr',
      path: '/one-byte',
    });
  } finally {
    fs.close();
  }
});

test('absolute symlink targets restart at the image root, not the host’s', async (t) => {
  const { dir } = t.context;
  const src = join(dir, 'abs-src');
  nodeFs.mkdirSync(join(src, 'etc'), { recursive: true });
  nodeFs.writeFileSync(join(src, 'etc/motd'), 'inside the image\n');
  nodeFs.symlinkSync('/etc/motd', join(src, 'motd'));
  nodeFs.symlinkSync('/etc', join(src, 'etclink'));
  const img = join(dir, 'abs.img');
  await mkfs({ out: img, source: src });
  const fs = openImage(img);
  try {
    t.is(fs.readlinkSync('/motd'), '/etc/motd');
    t.is(fs.readFileSync('/motd', 'utf8'), 'inside the image\n');
    t.is(fs.readFileSync('/etclink/motd', 'utf8'), 'inside the image\n');
    t.deepEqual(fs.readdirSync('/etclink'), ['motd']);
    t.is(fs.statSync('/motd').size, 'inside the image\n'.length);
    t.true(fs.lstatSync('/motd').isSymbolicLink());
  } finally {
    fs.close();
  }
});

test('openImage of a missing file or of something that is not an image fails with one clear error', (t) => {
  const { dir, src } = t.context;
  const missing = join(dir, 'missing.img');
  t.deepEqual(
    errView(
      catchSync(() => openImage(missing)),
      dir,
    ),
    errView(
      catchSync(() => nodeFs.statSync(missing)),
      dir,
    ),
  );
  const e = catchSync(() => openImage(join(src, 'big.bin'))) as Error;
  t.is(e.name, 'ErofsError');
  t.regex(e.message, /magic/i);
});
