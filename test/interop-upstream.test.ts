// Interop with upstream erofs-utils 1.9.3, the release that writes page-cache-sharing fingerprints.
// The matrix (README "Interop"):
//  - our images (4096 / 1024 B blocks, with and without fingerprints; xattrs, hard links, devices,
//    fifos, sockets, 255-byte names, pre-1970 times): upstream fsck.erofs (--xattr-inode-digest when
//    fingerprinted) passes, fsck.erofs --extract gives back the source tree, dump.erofs -s agrees
//    with `ishare inspect` field by field;
//  - upstream images (--xattr-inode-digest, =NAME, -T0, --chunksize, -b 1024, --MZ, --tar=f): our
//    extract gives back the source tree, our fingerprint of every file is the one upstream stored
//    (upstream fsck verifies its own against the data; ours must equal sha256 of the source file and
//    the value in our image of the same file);
//  - compare of two upstream images, and of a mixed pair (one ours, one upstream): the share figure
//    is the file-level bound computed from the source trees (pages of distinct contents).
// Expected values come from the source trees and the upstream tools, never from our own output.
import anyTest, { type TestFn } from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErofsImage } from '@ishare/core/format';
import { mkfs } from '@ishare/core';
import { extractTree } from '../packages/cli/src/commands/extract.ts';
import { inspectImage } from '../packages/cli/src/commands/inspect.ts';
import { runCompare } from '@ishare/workers';
import { expectedNoShare, expectedShare, writeVersion } from '../packages/workers/test/helpers/pair-trees.ts';
import { makeEdgeTree, removeDir, tempDir } from './helpers/trees.ts';
import { upstreamTool } from './helpers/erofs-utils.ts';

interface Ctx {
  dir: string;
  src: string;
  view: Record<string, string>;
  xattrs: Record<string, Record<string, string>>;
}
const test = anyTest as TestFn<Ctx>;
const asRoot = process.getuid?.() === 0;

/** Everything extract must give back, per path: type, mode, owner, size, content, target, rdev, mtime. */
function treeView(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const p = join(root, r);
      const st = lstatSync(p, { bigint: true });
      // Times to the millisecond: Node (our extract) sets them through a double.
      const ms = st.mtimeNs / 1_000_000n - (st.mtimeNs % 1_000_000n < 0n ? 1n : 0n);
      let v = `${st.mode.toString(8)} ${asRoot ? `${st.uid}:${st.gid}` : ''} n${st.nlink} t${ms}`;
      if (st.isFile()) v += ` ${st.size} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`;
      else if (st.isSymbolicLink()) v += ` -> ${readlinkSync(p)}`;
      else if (st.isCharacterDevice() || st.isBlockDevice()) v += ` rdev ${st.rdev}`;
      out[r] = v;
      if (st.isDirectory()) walk(r);
    }
  };
  walk('');
  return out;
}

/** relative path → xattr name → hex value (getfattr on the tree, symlinks themselves). */
function xattrView(root: string): Record<string, Record<string, string>> {
  const out = execFileSync('getfattr', ['-R', '-h', '-P', '-d', '-m', '-', '-e', 'hex', '.'], {
    cwd: root,
    encoding: 'latin1',
    maxBuffer: 1 << 28,
  });
  const table: Record<string, Record<string, string>> = {};
  let cur: Record<string, string> | undefined;
  for (const line of out.split('\n')) {
    if (line.startsWith('# file: ')) {
      cur = {};
      table[line.slice(8).replace(/^\.\/?/, '') || '.'] = cur;
    } else if (cur && line.includes('=')) {
      const i = line.indexOf('=');
      cur[line.slice(0, i)] = line.slice(i + 1);
    }
  }
  for (const k of Object.keys(table)) if (Object.keys(table[k]).length === 0) delete table[k];
  return table;
}

function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): { ok: boolean; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...opts.env } });
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` };
}

test.before(async (t) => {
  const dir = tempDir('ishare-interop-');
  const src = join(dir, 'src');
  mkdirSync(src);
  makeEdgeTree(src, { longName: 255, bigDir: false });
  // What mkfs.erofs and the kernel handle beyond the edge tree: specials, a file from 1960, owners.
  mkdirSync(join(src, 'special'));
  spawnSync('mkfifo', [join(src, 'special', 'fifo')]);
  const sock = spawnSync(process.execPath, [
    '-e',
    "const n=require('net'),f=require('fs');const p=process.argv[1];const s=n.createServer().listen(p+'.l',()=>{f.linkSync(p+'.l',p);s.close()})",
    join(src, 'special', 'sock'),
  ]);
  if (sock.status !== 0) throw new Error('cannot make a socket');
  if (asRoot) {
    spawnSync('mknod', [join(src, 'special', 'null'), 'c', '1', '3']);
    spawnSync('mknod', [join(src, 'special', 'loop9'), 'b', '7', '9']);
    writeFileSync(join(src, 'special', 'shadow'), 'root:*:1::::::\n', { mode: 0o640 });
    spawnSync('chown', ['0:42', join(src, 'special', 'shadow')]);
    writeFileSync(join(src, 'special', 'sgid'), 'setgid', { mode: 0o755 });
    spawnSync('chown', ['1000:50', join(src, 'special', 'sgid')]);
    spawnSync('chmod', ['2755', join(src, 'special', 'sgid')]);
  }
  writeFileSync(join(src, 'special', 'old'), 'before 1970');
  utimesSync(join(src, 'special', 'old'), '-300000000.25', '-300000000.25');
  // Entries made just now (symlinks, fifo, socket) get a fixed past time with a fraction: upstream
  // mkfs.erofs writes a compact inode when an mtime's seconds equal the build time and then stores the
  // superblock's fixed_nsec instead of the file's (lib/inode.c erofs_should_use_inode_extended), so a
  // tree made in the same second as the image would lose its fractions there, depending on the clock.
  spawnSync('find', [src, '-newermt', '@1700000001', '-exec', 'touch', '-h', '-d', '@1712345678.255', '{}', '+']);
  utimesSync(join(src, 'special'), 1_700_000_000, 1_700_000_000);
  t.context = { dir, src, view: treeView(src), xattrs: xattrView(src) };
});

test.after.always((t) => {
  if (t.context.dir) removeDir(t.context.dir);
});

/** dump.erofs -s → field name → value. */
function dumpSuper(img: string): Record<string, string> {
  const r = run(upstreamTool('dump.erofs'), ['-s', img], { env: { TZ: 'UTC' } });
  if (!r.ok) throw new Error(`dump.erofs -s failed: ${r.out}`);
  const f: Record<string, string> = {};
  for (const line of r.out.split('\n')) {
    const m = /^Filesystem ([^:]+):\s*(.*?)\s*$/.exec(line);
    if (m) f[m[1]] = m[2]!;
  }
  return f;
}

// dump.erofs names a bit by every alias it has; ours by one name for compat, joined aliases for incompat.
const INCOMPAT_ALIASES: Record<string, string> = {
  lz4_0padding: 'zero_padding',
  compr_cfgs: 'compr_cfgs/big_pcluster',
  big_pcluster: 'compr_cfgs/big_pcluster',
  chunked_file: 'chunked_file',
  device_table: 'device_table/compr_head2',
  ztailpacking: 'ztailpacking',
  fragments: 'fragments/dedupe',
  dedupe: 'fragments/dedupe',
  xattr_prefixes: 'xattr_prefixes',
  '48bit': '48bit',
  metabox: 'metabox',
};

function checkDumpAgrees(t: import('ava').ExecutionContext<Ctx>, img: string): void {
  const d = dumpSuper(img);
  const im = ErofsImage.open(img);
  try {
    const r = inspectImage(im, img).superblock;
    t.is(Number(d.blocksize), r.blockSize, 'blocksize');
    t.is(Number(d.blocks), r.blocks, 'blocks');
    t.is(Number(d['inode metadata start block']), r.metaBlkaddr, 'meta start');
    t.is(Number(d['shared xattr metadata start block']), r.xattrBlkaddr, 'xattr start');
    t.is(Number(d['root nid']), r.rootNid, 'root nid');
    t.is(Number(d.lz4_max_distance), r.lz4MaxDistance, 'lz4_max_distance');
    t.is(Number(d.sb_size), r.sbSize, 'sb_size');
    t.is(Number(d['inode count']), r.inodes, 'inode count');
    t.is(Date.parse(`${d.created} UTC`), Math.floor(Date.parse(r.buildTime) / 1000) * 1000, 'created');
    t.deepEqual(d['compatible features'].split(/\s+/).filter(Boolean), r.featureCompat, 'compat features');
    t.deepEqual(
      [
        ...new Set(
          d['incompatible features']
            .split(/\s+/)
            .filter(Boolean)
            .map((n) => INCOMPAT_ALIASES[n] ?? n),
        ),
      ],
      r.featureIncompat,
      'incompat features',
    );
    t.is(d.UUID, r.uuid, 'uuid');
  } finally {
    im.close();
  }
}

test.serial('the source tree holds what the matrix is about', (t) => {
  const v = t.context.view;
  t.true(Object.keys(v).length > 40, `${Object.keys(v).length} paths`);
  t.regex(v['special/sock'] ?? '', /^140/, 'a socket');
  t.regex(v['special/fifo'] ?? '', /^10/, 'a fifo');
  t.regex(v['special/old'] ?? '', / t-300000000250 /, 'a file from 1960');
  t.regex(v['links/hard-a'] ?? '', / n2 /, 'hard links');
  t.true(
    Object.keys(v).some((k) => k.endsWith('L'.repeat(255))),
    'a 255-byte name',
  );
  if (asRoot) t.regex(v['special/null'] ?? '', /^20.* rdev /, 'a device');
  t.true(Object.keys(t.context.xattrs).length >= 4, 'xattrs');
});

// ---- our images through the upstream tools ----

for (const bs of [4096, 1024]) {
  for (const fingerprint of [true, false]) {
    const label = `ours bs ${bs}, ${fingerprint ? 'fingerprints' : 'no fingerprints'}`;
    test.serial(
      `${label}: upstream fsck.erofs passes, --extract gives the source back, dump.erofs -s agrees with inspect`,
      async (t) => {
        const { dir, src } = t.context;
        const img = join(dir, `ours-${bs}-${fingerprint}.img`);
        await mkfs({ out: img, source: src, blockSize: bs, fingerprint });
        const args = fingerprint ? ['--xattr-inode-digest'] : [];
        const f = run(upstreamTool('fsck.erofs'), ['-d3', ...args, img]);
        t.true(f.ok, f.out);
        if (fingerprint) {
          t.regex(f.out, /verifying digests using xattr "erofs\.fingerprint\.v1"/);
          t.notRegex(f.out, /no digest xattr/, 'every non-empty file carries a fingerprint');
        }
        const ex = join(dir, `fsck-ex-${bs}-${fingerprint}`);
        const x = run(upstreamTool('fsck.erofs'), [`--extract=${ex}`, '--xattrs', img]);
        t.true(x.ok, x.out);
        t.deepEqual(treeView(ex), t.context.view, 'fsck.erofs --extract = source');
        t.deepEqual(xattrView(ex), t.context.xattrs, "xattrs: the source's, the fingerprint hidden");
        removeDir(ex);
        checkDumpAgrees(t, img);
      },
    );
  }
}

// ---- upstream images through our reader ----

const UPSTREAM: { name: string; args: string[]; fpName: string | undefined }[] = [
  { name: '--xattr-inode-digest', args: ['--xattr-inode-digest'], fpName: 'erofs.fingerprint.v1' },
  { name: '--xattr-inode-digest=trusted.fp', args: ['--xattr-inode-digest=trusted.fp'], fpName: 'trusted.fp' },
  { name: '-T0 --xattr-inode-digest', args: ['-T0', '--xattr-inode-digest'], fpName: 'erofs.fingerprint.v1' },
  {
    name: '--chunksize=8192 --xattr-inode-digest',
    args: ['--chunksize=8192', '--xattr-inode-digest'],
    fpName: 'erofs.fingerprint.v1',
  },
  { name: '-b1024 --xattr-inode-digest', args: ['-b1024', '--xattr-inode-digest'], fpName: 'erofs.fingerprint.v1' },
  { name: '--MZ --xattr-inode-digest', args: ['--MZ', '--xattr-inode-digest'], fpName: 'erofs.fingerprint.v1' },
  { name: 'no digest', args: [], fpName: undefined },
];

for (const u of UPSTREAM) {
  test.serial(`upstream mkfs.erofs ${u.name}: our extract = source, our fingerprints = upstream's`, async (t) => {
    const { dir, src } = t.context;
    const img = join(dir, `up-${u.name.replace(/\W+/g, '_')}.img`);
    const m = run(upstreamTool('mkfs.erofs'), ['--quiet', ...u.args, img, src]);
    t.true(m.ok, m.out);
    if (u.fpName) {
      const f = run(upstreamTool('fsck.erofs'), ['--xattr-inode-digest', img]);
      t.true(f.ok, `upstream verifies its own digests: ${f.out}`);
    }
    const im = ErofsImage.open(img);
    try {
      t.is(im.fingerprintName(), u.fpName);
      const rep = inspectImage(im, img);
      t.deepEqual(rep.superblock.ishare, u.fpName ? { prefixId: 0, fingerprintName: u.fpName } : null);
      let n = 0;
      for (const { path, inode } of im.walk()) {
        if (inode.type !== 'file') continue;
        const data = readFileSync(join(src, path));
        const want = u.fpName && data.length > 0 ? createHash('sha256').update(data).digest('hex') : undefined;
        t.is(im.fingerprint(inode), want, path);
        if (want) n++;
      }
      t.true(u.fpName === undefined || n > 20, `${n} fingerprinted files`);
      t.is(rep.badFingerprints, 0);
    } finally {
      im.close();
    }
    const out = join(dir, `our-ex-${u.name.replace(/\W+/g, '_')}`);
    const im2 = ErofsImage.open(img);
    try {
      extractTree(im2, out, { xattrs: true });
    } finally {
      im2.close();
    }
    const want = { ...t.context.view };
    if (u.args.includes('-T0')) {
      // -T0 stamps every inode with time 0 (mkfs.erofs --all-time): the source's times are not in it.
      for (const k of Object.keys(want)) want[k] = want[k].replace(/ t-?\d+/, ' t0');
    }
    t.deepEqual(treeView(out), want, 'our extract = source');
    t.deepEqual(xattrView(out), t.context.xattrs, "xattrs: the source's, never the fingerprint");
    removeDir(out);
  });
}

test.serial(
  'upstream mkfs.erofs --tar=f --xattr-inode-digest: fingerprints from a tar stream read the same',
  async (t) => {
    const { dir } = t.context;
    const src = join(dir, 'tarsrc');
    mkdirSync(src);
    writeVersion(src, 1);
    const tar = join(dir, 'v1.tar');
    execFileSync('tar', ['-cf', tar, '-C', src, '.']);
    const img = join(dir, 'up-tar.img');
    const m = run(upstreamTool('mkfs.erofs'), ['--quiet', '--tar=f', '--xattr-inode-digest', img, tar]);
    t.true(m.ok, m.out);
    const im = ErofsImage.open(img);
    try {
      let n = 0;
      for (const { path, inode } of im.walk()) {
        if (inode.type !== 'file') continue;
        const data = readFileSync(join(src, path));
        t.is(
          im.fingerprint(inode),
          data.length > 0 ? createHash('sha256').update(data).digest('hex') : undefined,
          path,
        );
        n++;
      }
      t.true(n > 30);
    } finally {
      im.close();
    }
  },
);

// ---- sharing across upstream and mixed pairs ----

async function twoTrees(dir: string): Promise<[string, string]> {
  const a = join(dir, 'v1');
  const b = join(dir, 'v2');
  for (const [p, v] of [
    [a, 1],
    [b, 2],
  ] as const) {
    mkdirSync(p, { recursive: true });
    writeVersion(p, v);
  }
  return [a, b];
}

test.serial(
  'compare of two upstream --xattr-inode-digest images = the file-level bound from the sources; a mixed pair (ours + upstream) too',
  async (t) => {
    const dir = join(t.context.dir, 'pairs');
    const srcs = await twoTrees(dir);
    const up = srcs.map((s, i) => {
      const img = join(dir, `up${i}.img`);
      const m = run(upstreamTool('mkfs.erofs'), ['--quiet', '--xattr-inode-digest', img, s]);
      if (!m.ok) throw new Error(m.out);
      return img;
    });
    const ours1 = join(dir, 'ours1.img');
    await mkfs({ out: ours1, source: srcs[1] });
    const noShare = expectedNoShare(srcs);
    const bound = expectedShare(srcs);
    t.true(bound < noShare);
    for (const [name, images] of [
      ['upstream pair', up],
      ['mixed pair', [up[0], ours1]],
    ] as const) {
      const r = await runCompare({ images: [...images], workers: 2 });
      t.is(r.noShare.pageCacheBytes, noShare, `${name}: no share = pages of every inode`);
      t.is(r.share.pageCacheBytes, bound, `${name}: share = pages of every distinct content`);
      t.is(r.share.badFingerprint, 0);
      t.true(r.share.inodesJoined > 0, `${name}: identical files of the two images joined one page cache`);
      t.log(
        `${name}: no share ${noShare} B, share ${r.share.pageCacheBytes} B (bound ${bound} B), ${r.share.inodesJoined} inodes joined`,
      );
    }
  },
);
