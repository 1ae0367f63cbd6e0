// inspect: superblock fields agree with dump.erofs; counts agree with the source tree.
import test from 'ava';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeEdgeTree, snapshotTree, tempDir, removeDir, type TreeEntry } from '../../../test/helpers/trees.ts';
import type { InspectReport } from '../src/commands/inspect.ts';
import { dumpErofs, ishare, isOneErrorLine, json, mkfsErofs } from './helpers/run.ts';
import { EROFS_SUPER_OFFSET, SB, superblockChecksum } from '@ishare/core/format';

let dir = '';
let refSnap = new Map<string, TreeEntry>();
let oursSnap = new Map<string, TreeEntry>();
const img = { ref: '', chunked: '', ours: '' };
let oursError: string | undefined;

test.before(async () => {
  dir = tempDir('ishare-cli-inspect-');
  const refSrc = join(dir, 'ref-src');
  const oursSrc = join(dir, 'src');
  mkdirSync(refSrc);
  mkdirSync(oursSrc);
  makeEdgeTree(refSrc); // 254-byte longest name: mkfs.erofs 1.5 cannot take 255
  makeEdgeTree(oursSrc, { longName: 255 });
  refSnap = snapshotTree(refSrc);
  oursSnap = snapshotTree(oursSrc);
  img.ref = join(dir, 'ref.img');
  img.chunked = join(dir, 'chunked.img');
  img.ours = join(dir, 'ours.img');
  mkfsErofs(img.ref, refSrc);
  mkfsErofs(img.chunked, refSrc, ['--chunksize=4096']);
  const r = await ishare(['mkfs', img.ours, oursSrc]);
  if (r.status !== 0) oursError = `ishare mkfs failed: ${r.stderr}`;
});
test.after.always(() => removeDir(dir));

/** What inspect should count, from the source: distinct inodes (the hard link pair is one). */
function expected(snap: Map<string, TreeEntry>): {
  files: number;
  dirs: number;
  symlinks: number;
  dataBytes: number;
  contents: number;
  nonEmptyFiles: number;
  nonEmptyContents: number;
} {
  let files = 0;
  let nonEmptyFiles = 0;
  const nonEmpty = new Set<string>();
  let dirs = 1; // the root
  let symlinks = 0;
  let dataBytes = 0;
  const contents = new Set<string>();
  for (const [rel, e] of snap) {
    if (rel === 'links/hard-b') continue;
    if (e.type === 'file') {
      files++;
      dataBytes += e.size;
      contents.add(e.sha256!);
      if (e.size > 0) {
        nonEmptyFiles++;
        nonEmpty.add(e.sha256!);
      }
    } else if (e.type === 'dir') dirs++;
    else if (e.type === 'symlink') symlinks++;
  }
  return { files, dirs, symlinks, dataBytes, contents: contents.size, nonEmptyFiles, nonEmptyContents: nonEmpty.size };
}

test('mkfs.erofs image: superblock agrees with dump.erofs, counts with the source', async (t) => {
  const r = await ishare(['inspect', '--json', img.ref]);
  t.is(r.status, 0, r.stderr);
  const rep = json<InspectReport>(r);
  const dump = dumpErofs([img.ref]);
  const field = (label: string): string => new RegExp(`^${label}:\\s+(.*)$`, 'm').exec(dump)![1].trim();
  t.is(rep.superblock.rootNid, Number(field('Filesystem root nid')));
  t.is(rep.superblock.inodes, Number(field('Filesystem inode count')));
  t.is(rep.superblock.blocks, Number(field('Filesystem blocks')));
  t.is(rep.superblock.uuid, field('Filesystem UUID'));
  t.is(rep.superblock.blockSize, 4096);
  t.true(rep.superblock.featureCompat.includes('sb_csum'));
  t.true(rep.superblock.checksumVerified);
  const want = expected(refSnap);
  t.like(rep.counts, {
    files: want.files,
    dirs: want.dirs,
    symlinks: want.symlinks,
    others: 0,
    hardlinks: 1,
    paths: refSnap.size + 1,
  });
  t.is(rep.dataBytes, want.dataBytes);
  t.is(rep.fingerprinted, 0, 'mkfs.erofs writes no fingerprints');
  t.is(rep.superblock.inodes, want.files + want.dirs + want.symlinks);
  t.is(
    Object.values(rep.layouts).reduce((a, b) => a + b, 0),
    rep.superblock.inodes,
    'every inode has one layout',
  );
});

test('chunked image: layouts show CHUNK_BASED and the chunked_file feature', async (t) => {
  const rep = json<InspectReport>(await ishare(['inspect', '--json', img.chunked]));
  t.true(rep.superblock.featureIncompat.includes('chunked_file'));
  t.true((rep.layouts.CHUNK_BASED ?? 0) > 0, JSON.stringify(rep.layouts));
});

test('our image: fingerprints counted, one per distinct content', async (t) => {
  if (oursError) {
    t.fail(oursError);
    return;
  }
  const rep = json<InspectReport>(await ishare(['inspect', '--json', img.ours]));
  const want = expected(oursSnap);
  t.like(rep.counts, { files: want.files, dirs: want.dirs, symlinks: want.symlinks, hardlinks: 1 });
  t.is(rep.dataBytes, want.dataBytes);
  t.is(rep.fingerprinted, want.nonEmptyFiles, 'every non-empty regular file carries a fingerprint');
  // Equal contents, equal fingerprint; different contents, different fingerprint.
  t.is(rep.distinctFingerprints, want.nonEmptyContents);
  t.is(rep.badFingerprints, 0);
  t.true(rep.superblock.featureCompat.includes('ishare_xattrs'), rep.superblock.featureCompat.join(','));
  t.deepEqual(rep.superblock.ishare, { prefixId: 0, fingerprintName: 'erofs.fingerprint.v1' });
  t.deepEqual(rep.superblock.xattrPrefixes, [{ id: 0, baseIndex: 0, name: 'erofs.fingerprint.v1' }]);
});

test('text output is a readable report', async (t) => {
  const r = await ishare(['inspect', img.ref]);
  t.is(r.status, 0, r.stderr);
  for (const s of [
    'block size',
    '4096',
    'compat features',
    'sb_csum',
    'root nid',
    '(verified)',
    'FLAT_INLINE',
    'fingerprinted files: 0',
  ])
    t.true(r.text.includes(s), s);
});

test('an ishare prefix id past the prefix table is a corrupt superblock: exit 2, one line, for every command', async (t) => {
  if (oursError) {
    t.fail(oursError);
    return;
  }
  const bytes = readFileSync(img.ours);
  bytes[EROFS_SUPER_OFFSET + SB.ishareXattrPrefixId] = 3;
  bytes.writeUInt32LE(superblockChecksum(bytes, 4096), EROFS_SUPER_OFFSET + SB.checksum);
  const bad = join(dir, 'bad-prefix-id.img');
  writeFileSync(bad, bytes);
  for (const args of [
    ['inspect', bad],
    ['ls', bad],
    ['extract', bad, join(dir, 'never')],
    ['read', bad, '--share'],
  ]) {
    const r = await ishare(args);
    t.is(r.status, 2, `${args[0]}: ${r.stderr}`);
    t.true(isOneErrorLine(r.stderr), r.stderr);
    t.regex(r.stderr, /invalid ishare xattr prefix id 3 \(image has 1 long xattr name prefixes\)/);
  }
});
