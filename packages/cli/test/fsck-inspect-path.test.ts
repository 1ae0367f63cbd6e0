// `ishare inspect --path P` against dump.erofs --path P -e (the reference tool), and `ishare fsck`
// on sound and damaged images: counts from the source tree, damage planted by locating a file's bytes
// in the image by their content (not with our reader).
import test from 'ava';
import { copyFileSync, lstatSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  makeEdgeTree,
  seededBytes,
  snapshotTree,
  tempDir,
  removeDir,
  type TreeEntry,
} from '../../../test/helpers/trees.ts';
import { upstreamTool } from '../../../test/helpers/erofs-utils.ts';
import { spawnSync } from 'node:child_process';
import { inspectPath, type InodeReport } from '../src/commands/inspect.ts';
import { ErofsImage } from '../src/engine.ts';
import { modeString } from '../src/format.ts';
import type { FsckReport } from '../src/commands/fsck.ts';
import { dumpErofs, ishare, isOneErrorLine, json, mkfsErofs } from './helpers/run.ts';

let dir = '';
let src = '';
let snap = new Map<string, TreeEntry>();
const img = { ref: '', chunked: '', ours: '' };
const MARKER = seededBytes(40_000, 777_001);

test.before(async () => {
  dir = tempDir('ishare-cli-fsck-');
  src = join(dir, 'src');
  mkdirSync(src);
  makeEdgeTree(src); // 254-byte longest name: mkfs.erofs 1.5 cannot take 255
  writeFileSync(join(src, 'marker.bin'), MARKER);
  snap = snapshotTree(src);
  img.ref = join(dir, 'ref.img');
  img.chunked = join(dir, 'chunked.img');
  img.ours = join(dir, 'ours.img');
  mkfsErofs(img.ref, src);
  mkfsErofs(img.chunked, src, ['--chunksize=4096']);
  const r = await ishare(['mkfs', img.ours, src]);
  if (r.status !== 0) throw new Error(`ishare mkfs failed: ${r.stderr}`);
});
test.after.always(() => removeDir(dir));

interface DumpView {
  size: number;
  nid: number;
  links: number;
  layout: number;
  inodeSize: number;
  xattrSize: number;
  uid: number;
  gid: number;
  access: string;
  extents: [number, number, number][];
}

/** The fields of `dump.erofs --path P -e` both tools show. */
function dump(image: string, path: string): DumpView {
  const out = dumpErofs([`--path=${path}`, '-e', image]);
  const num = (re: RegExp): number => {
    const m = re.exec(out);
    if (!m) throw new Error(`dump.erofs output lacks ${re}: ${out}`);
    return Number(m[1]);
  };
  const extents: [number, number, number][] = [];
  for (const m of out.matchAll(/^\s*\d+:\s+(\d+)\.\.\s*(\d+) \|\s*(\d+) :\s+(\d+)\.\.\s*(\d+) \|\s*(\d+)$/gm)) {
    extents.push([Number(m[1]), Number(m[3]), Number(m[4])]);
  }
  const size = num(/^Size: (\d+)/m);
  // A chunk-based file's last chunk is printed whole; the file ends inside it.
  for (const x of extents) x[1] = Math.min(x[1], size - x[0]);
  return {
    size: num(/^Size: (\d+)/m),
    nid: num(/NID: (\d+)/),
    links: num(/Links: (\d+)/),
    layout: num(/Layout: (\d+)/),
    inodeSize: num(/Inode size: (\d+)/),
    xattrSize: num(/Xattr size: (\d+)/),
    uid: num(/Uid: (\d+)/),
    gid: num(/Gid: (\d+)/),
    // dump.erofs 1.5 prints the rwx bits only (no setuid, setgid, sticky).
    access: /Access: \d+\/(\S+)/.exec(out)?.[1] ?? '',
    extents,
  };
}

for (const which of ['ref', 'chunked', 'ours'] as const) {
  test(`inspect --path agrees with dump.erofs --path -e on every path (${which} image)`, async (t) => {
    // Every path through the report function in-process (one CLI process per path would take minutes),
    // one through the CLI to check it prints that same report.
    const image = ErofsImage.open(img[which]);
    let checked = 0;
    try {
      for (const [rel, e] of snap) {
        if (/[\n\\]/.test(rel)) continue;
        const ours = inspectPath(image, `/${rel}`);
        const ref = dump(img[which], `/${rel}`);
        t.deepEqual(
          {
            size: ours.size,
            nid: ours.nid,
            links: ours.nlink,
            layout: ours.layout,
            inodeSize: ours.inodeSize,
            xattrSize: ours.xattrSize,
            uid: ours.uid,
            gid: ours.gid,
            access: modeString(ours.type, ours.mode & ~0o7000).slice(1),
            extents:
              e.type === 'other'
                ? ref.extents
                : ours.extents.filter((x) => x.kind !== 'hole').map((x) => [x.logical, x.length, x.physical]),
          },
          ref,
          rel,
        );
        checked++;
      }
    } finally {
      image.close();
    }
    t.true(checked >= snap.size - 2, `checked ${checked} of ${snap.size}`);
    const r = await ishare(['inspect', img[which], '--path', '/marker.bin', '--json']);
    t.is(r.status, 0, r.stderr);
    t.is(json<InodeReport>(r).nid, dump(img[which], '/marker.bin').nid);
  });
}

test('inspect --path of a missing path: one line, exit 2', async (t) => {
  const r = await ishare(['inspect', img.ours, '--path', '/no/such']);
  t.is(r.status, 2);
  t.true(isOneErrorLine(r.stderr), r.stderr);
});

/** Distinct regular files of the source, those with data, and their bytes (a hard-linked file once). */
function sourceFiles(): { files: number; nonEmpty: number; bytes: number } {
  const seen = new Map<number, number>();
  for (const [rel, e] of snap) if (e.type === 'file') seen.set(lstatSync(join(src, rel)).ino, e.size);
  const sizes = [...seen.values()];
  return { files: seen.size, nonEmpty: sizes.filter((n) => n > 0).length, bytes: sizes.reduce((a, b) => a + b, 0) };
}

test('fsck of a sound image: every file read, every fingerprint verified, exit 0', async (t) => {
  const r = await ishare(['fsck', img.ours, '--json']);
  t.is(r.status, 0, r.stderr);
  const d = json<FsckReport>(r);
  const want = sourceFiles();
  t.deepEqual(d.problems, []);
  t.is(d.files, want.files);
  t.is(d.bytes, want.bytes);
  t.is(
    d.fingerprintsVerified,
    want.nonEmpty,
    'our mkfs fingerprints every non-empty regular file (as mkfs.erofs --xattr-inode-digest)',
  );
  const text = await ishare(['fsck', img.ours]);
  t.is(text.status, 0);
  t.regex(text.text, /^no errors found$/m);
  // An image made by mkfs.erofs without fingerprints reads clean too: nothing to verify is not an error.
  const ref = json<FsckReport>(await ishare(['fsck', img.ref, '--json']));
  t.deepEqual(ref.problems, []);
  t.is(ref.files, want.files);
  t.is(ref.withoutFingerprint, want.files);
});

test('fsck finds a flipped data byte: the file is named, exit 1', async (t) => {
  const bad = join(dir, 'flipped.img');
  copyFileSync(img.ours, bad);
  const bytes = readFileSync(bad);
  // Located by content: the marker file's bytes appear once in the image.
  const at = bytes.indexOf(MARKER.subarray(10_000, 10_064));
  t.true(at > 0 && bytes.indexOf(MARKER.subarray(10_000, 10_064), at + 1) < 0, 'marker found once');
  bytes[at + 5] ^= 0x40;
  writeFileSync(bad, bytes);
  const r = await ishare(['fsck', bad]);
  t.is(r.status, 1, r.stderr);
  t.regex(r.text, /\/marker\.bin \(nid \d+\): fingerprint MISMATCH/);
  t.is(r.text.match(/MISMATCH/g)?.length, 1, 'only that file');
  t.true(isOneErrorLine(r.stderr), r.stderr);
  t.regex(r.stderr, /found filesystem corruption \(1 problem\)/);
  // --path limits the check to a subtree: elsewhere the image is sound.
  const dirs = [...snap].filter(([, e]) => e.type === 'dir').map(([rel]) => rel);
  if (dirs.length > 0) {
    const sub = await ishare(['fsck', bad, '--path', `/${dirs[0]}`]);
    t.is(sub.status, 0, sub.text + sub.stderr);
  }
});

test('fsck of a truncated image or a broken superblock: no stack trace, non-zero exit', async (t) => {
  const half = join(dir, 'half.img');
  const whole = readFileSync(img.ours);
  writeFileSync(half, whole.subarray(0, Math.floor(whole.length / 2)));
  const r = await ishare(['fsck', half]);
  t.true(r.status === 1 || r.status === 2, `status ${r.status}`);
  t.true(isOneErrorLine(r.stderr), r.stderr);
  const noMagic = join(dir, 'nomagic.img');
  const b = Buffer.from(whole);
  b.writeUInt32LE(0, 1024);
  writeFileSync(noMagic, b);
  const m = await ishare(['fsck', noMagic]);
  t.is(m.status, 2);
  t.true(isOneErrorLine(m.stderr), m.stderr);
  t.regex(m.stderr, /nomagic\.img: /);
});

test('fsck of a sound compressed image (mkfs.erofs -zlz4): never reported as corrupt', async (t) => {
  const srcZ = join(dir, 'src-z');
  mkdirSync(srcZ);
  writeFileSync(join(srcZ, 'text'), 'compressible line\n'.repeat(20_000));
  writeFileSync(join(srcZ, 'small'), 'hi\n');
  const z = join(dir, 'z.img');
  const mk = spawnSync(upstreamTool('mkfs.erofs'), ['-zlz4', z, srcZ], { encoding: 'utf8' });
  t.is(mk.status, 0, mk.stderr);
  const r = await ishare(['fsck', z, '--json']);
  // Read and clean (exit 0), or listed as not checked because the reader lacks the layout (exit 2).
  t.not(r.status, 1, r.stderr);
  const d = json<FsckReport>(r);
  t.deepEqual(d.problems, []);
  if (r.status === 2) {
    t.true(d.unchecked.length > 0);
    t.true(isOneErrorLine(r.stderr), r.stderr);
    t.regex(r.stderr, /not checked/);
  } else {
    t.is(r.status, 0);
    t.is(d.bytes, 'compressible line\n'.length * 20_000 + 3);
  }
});
