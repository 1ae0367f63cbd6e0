// mkfs through the CLI: the report, each option's visible effect, tar sources, and that the result is
// an image the reference tools accept.
import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  makeEdgeTree,
  snapshotTree,
  tempDir,
  removeDir,
  hasCommand,
  type TreeEntry,
} from '../../../test/helpers/trees.ts';
import type { LsEntry } from '../src/commands/ls.ts';
import type { InspectReport } from '../src/commands/inspect.ts';
import { ishare, json } from './helpers/run.ts';
import { upstreamTool } from '../../../test/helpers/erofs-utils.ts';
import { assertListingMatchesSource, byPath } from './helpers/compare.ts';

interface Report {
  image: string;
  inodes: number;
  files: number;
  dirs: number;
  symlinks: number;
  others: number;
  hardlinks: number;
  fingerprinted: number;
  blocks: number;
  bytes: number;
  blockSize: number;
}

let dir = '';
let src = '';
let snap = new Map<string, TreeEntry>();
let xattrs = false;

test.before(() => {
  dir = tempDir('ishare-cli-mkfs-');
  src = join(dir, 'src');
  mkdirSync(src);
  // No big directory: these tests build many images; the listing tests cover big dirs.
  xattrs = makeEdgeTree(src, { longName: 255, bigDir: false }).xattrs;
  snap = snapshotTree(src);
});
test.after.always(() => removeDir(dir));

let n = 0;
async function build(args: string[], source = src): Promise<{ image: string; report: Report }> {
  const image = join(dir, `img-${n++}.img`);
  const r = await ishare(['mkfs', '--json', ...args, image, source]);
  if (r.status !== 0) throw new Error(`ishare mkfs ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return { image, report: json<Report>(r) };
}

async function list(image: string, extra: string[] = []): Promise<LsEntry[]> {
  const r = await ishare(['ls', '-R', '--json', ...extra, image]);
  if (r.status !== 0) throw new Error(`ls failed: ${r.stderr}`);
  return json<LsEntry[]>(r);
}

async function inspect(image: string): Promise<InspectReport> {
  return json<InspectReport>(await ishare(['inspect', '--json', image]));
}

test('the JSON report counts what the source holds, and the image lists back as the source', async (t) => {
  const { image, report } = await build([]);
  const files = [...snap.values()].filter((e) => e.type === 'file').length - 1; // hard-b is hard-a
  const dirs = [...snap.values()].filter((e) => e.type === 'dir').length + 1;
  t.like(report, { image, files, dirs, symlinks: 5, others: 0, hardlinks: 1, blockSize: 4096 });
  t.is(report.inodes, files + dirs + 5);
  t.is(report.fingerprinted > 0, true);
  t.is(report.bytes, readFileSync(image).length);
  assertListingMatchesSource(t, await list(image), snap);
});

test('the text summary is short and names the image', async (t) => {
  const image = join(dir, 'text.img');
  const r = await ishare(['mkfs', image, src]);
  t.is(r.status, 0, r.stderr);
  t.true(r.text.startsWith(`${image}: `));
  t.true(r.text.trim().split('\n').length <= 3);
  t.is(r.stderr, '', 'no progress bar when stderr is not a terminal');
});

for (const bs of [512, 1024, 2048]) {
  test(`--block-size ${bs}`, async (t) => {
    const { image, report } = await build(['--block-size', String(bs)]);
    t.is(report.blockSize, bs);
    t.is((await inspect(image)).superblock.blockSize, bs);
    assertListingMatchesSource(t, await list(image), snap);
    const cat = await ishare(['cat', image, '/big.bin']);
    t.true(cat.stdout.equals(readFileSync(join(src, 'big.bin'))));
  });
}

test('--no-fingerprint writes none', async (t) => {
  const { image, report } = await build(['--no-fingerprint']);
  t.is(report.fingerprinted, 0);
  const rep = await inspect(image);
  t.is(rep.fingerprinted, 0);
  t.false(rep.superblock.featureCompat.includes('ishare_xattrs'));
  t.is(rep.superblock.ishare, null);
  t.deepEqual(rep.superblock.xattrPrefixes, []);
  t.true((await list(image)).every((e) => e.fingerprint === undefined));
});

test('--xattr-inode-digest=NAME stores the fingerprint under that name, as mkfs.erofs does', async (t) => {
  const { image } = await build(['--xattr-inode-digest=user.fp']);
  const rep = await inspect(image);
  t.deepEqual(rep.superblock.ishare, { prefixId: 0, fingerprintName: 'user.fp' });
  const p = byPath(await list(image));
  const a = p.get('/dup-a')!;
  // Under user. the name is visible: value "sha256:" + the digest the fingerprint field shows.
  t.is(
    a.xattrs['user.fp'],
    Buffer.concat([Buffer.from('sha256:'), Buffer.from(a.fingerprint!, 'hex')]).toString('hex'),
  );
  t.is(
    a.fingerprint,
    createHash('sha256')
      .update(readFileSync(join(src, 'dup-a')))
      .digest('hex'),
  );
  t.is(a.fingerprint, p.get('/dup-b')!.fingerprint);
  // A bare --xattr-inode-digest (getopt's optional argument) means the default and takes no operand.
  const bare = await build(['--xattr-inode-digest']);
  t.deepEqual((await inspect(bare.image)).superblock.ishare, { prefixId: 0, fingerprintName: 'erofs.fingerprint.v1' });
  t.false('erofs.fingerprint.v1' in byPath(await list(bare.image)).get('/dup-a')!.xattrs, 'the default name is hidden');
});

test('--no-xattrs drops the source xattrs but keeps fingerprints', async (t) => {
  if (!xattrs) {
    t.log('skipped: the source tree has no xattrs on this filesystem');
    t.pass();
    return;
  }
  const withX = byPath(await list((await build([])).image));
  t.truthy(withX.get('/one-byte')!.xattrs['user.short']);
  const without = byPath(await list((await build(['--no-xattrs'])).image));
  t.false('user.short' in without.get('/one-byte')!.xattrs);
  t.truthy(without.get('/dup-a')!.fingerprint);
});

test('--no-inline: no file tail is packed behind its inode', async (t) => {
  const entries = await list((await build(['--no-inline'])).image);
  const inline = entries.filter((e) => e.type === 'file' && e.layout === 'FLAT_INLINE');
  t.deepEqual(
    inline.map((e) => e.path),
    [],
  );
  const def = await list((await build([])).image);
  t.true(
    def.some((e) => e.type === 'file' && e.layout === 'FLAT_INLINE'),
    'the default does inline tails',
  );
});

test('--timestamp and --uuid make the image reproducible', async (t) => {
  const args = ['--timestamp', '2020-09-13T12:26:40Z', '--uuid', '0f0e0d0c-0b0a-4908-8706-050403020100'];
  const a = await build(args);
  const b = await build(args);
  t.true(readFileSync(a.image).equals(readFileSync(b.image)), 'same inputs, same bytes');
  const rep = await inspect(a.image);
  t.is(rep.superblock.uuid, '0f0e0d0c-0b0a-4908-8706-050403020100');
  t.is(rep.superblock.buildTime, '2020-09-13T12:26:40.000Z');
  t.is(byPath(await list(a.image)).get('/big.bin')!.mtime, 1_600_000_000);
});

for (const kind of ['tar', 'tar.gz'] as const) {
  test(`a .${kind} source lists back as the directory it came from`, async (t) => {
    const tarball = join(dir, `src.${kind}`);
    execFileSync('tar', [kind === 'tar' ? '-cf' : '-czf', tarball, '--xattrs', '-C', src, '.']);
    const { image } = await build([], tarball);
    assertListingMatchesSource(t, await list(image), snap);
    const p = byPath(await list(image));
    t.is(p.get('/links/hard-a')!.nid, p.get('/links/hard-b')!.nid);
  });
}

test('fsck.erofs accepts our image and the kernel can mount it', async (t) => {
  const { image } = await build([]);
  // Upstream 1.9.3 reads the fingerprint format and checks every digest against the data.
  const u = spawnSync(upstreamTool('fsck.erofs'), ['--xattr-inode-digest', '--extract', image], { encoding: 'utf8' });
  t.is(u.status, 0, `${u.stdout}${u.stderr}`);
  // Debian's 1.5 predates long xattr prefixes (INCOMPAT 0x40): it checks the image without fingerprints.
  if (hasCommand('fsck.erofs')) {
    const plain = await build(['--no-fingerprint']);
    const r = spawnSync('fsck.erofs', ['--extract', plain.image], { encoding: 'utf8' });
    t.is(r.status, 0, `${r.stdout}${r.stderr}`);
  } else t.log('fsck.erofs not installed: check skipped');
  const mnt = join(dir, 'mnt');
  mkdirSync(mnt, { recursive: true });
  const m = spawnSync('mount', ['-t', 'erofs', '-o', 'loop,ro', image, mnt], { encoding: 'utf8' });
  if (m.status !== 0) {
    t.log(`mount not possible here (${m.stderr.trim()}): kernel check skipped`);
    t.pass();
    return;
  }
  try {
    const mounted = snapshotTree(mnt);
    t.deepEqual(mounted, snap);
  } finally {
    spawnSync('umount', [mnt]);
  }
});
