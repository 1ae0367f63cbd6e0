// Multi-device images written by upstream erofs-utils 1.9.3 (interop cells of issue 19 part 1):
//  - `--blobdev --chunksize` (chunk data in a blob), with -zlz4hc too (upstream keeps chunked data
//    uncompressed in the blob), `--tar=i` over a plain tar and over a gzip tar (`--ungzip=RAW`: the
//    index points into RAW, the decompressed stream), and rebuild mode (`mkfs.erofs fsmeta.img l1 l2`,
//    one device per layer image, tagged with its uuid): extract gives back the source tree, upstream
//    fsck.erofs with --device finds them clean;
//  - `compare` of two blobdev images: the page cache is the figure computed from the source trees;
//  - bad device input through the CLI: one `ishare:` line naming image and device, exit 2, nothing written.
// Expected values come from the source trees and upstream's tools.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { seededBytes, snapshotTree, tempDir, removeDir } from '../../../test/helpers/trees.ts';
import { upstreamTool } from '../../../test/helpers/erofs-utils.ts';
import { expectedNoShare, expectedShare } from '../../workers/test/helpers/pair-trees.ts';
import { ishare, isOneErrorLine, json } from './helpers/run.ts';
import { extractTree } from '../src/commands/extract.ts';
import { openImage } from '../src/image.ts';
import { setDevices } from '../src/devices.ts';

let dir = '';
let src = '';

function up(tool: 'mkfs.erofs' | 'fsck.erofs', args: string[]): void {
  const r = spawnSync(upstreamTool(tool), ['-d0', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${tool} ${args.join(' ')}: ${r.stderr}`);
}

test.before(() => {
  dir = tempDir('ishare-multidev-cli-');
  src = join(dir, 'src');
  mkdirSync(join(src, 'd/e'), { recursive: true });
  writeFileSync(join(src, 'big'), seededBytes(70000, 1));
  writeFileSync(join(src, 'd/copy'), seededBytes(70000, 1)); // same content: shares
  writeFileSync(join(src, 'd/e/mid'), seededBytes(9000, 2));
  writeFileSync(join(src, 'small'), 'hello\n');
  writeFileSync(join(src, 'empty'), '');
  symlinkSync('d/e/mid', join(src, 'link'));
  // The tar, in both forms; GNU tar keeps data 512-aligned, as index mode needs.
  const tar = spawnSync('tar', ['-C', src, '-cf', join(dir, 't.tar'), '.']);
  if (tar.status !== 0) throw new Error(String(tar.stderr));
  writeFileSync(join(dir, 't.tar.gz'), gzipSync(readFileSync(join(dir, 't.tar'))));
});
test.after.always(() => removeDir(dir));

/** Extract `img` with `devices` in-process (the CLI's own open + extract) and snapshot the result. */
function extracted(img: string, devices: string[], out: string): ReturnType<typeof snapshotTree> {
  setDevices(devices.map((d) => `${img}=${d}`));
  const im = openImage(img);
  try {
    extractTree(im, out, {});
  } finally {
    im.close();
    setDevices([]);
  }
  return snapshotTree(out);
}

/** Entries extract must reproduce exactly (modes and owners aside: tar and blobdev keep them alike). */
function view(s: ReturnType<typeof snapshotTree>): Record<string, string> {
  const o: Record<string, string> = {};
  for (const [p, e] of s) o[p] = `${e.type} ${e.size} ${e.sha256 ?? ''} ${e.target ?? ''}`;
  return o;
}

const cells: { name: string; build: () => { img: string; devices: string[] } }[] = [
  {
    name: '--blobdev --chunksize=4096',
    build: () => {
      const img = join(dir, 'blob-meta.img');
      const blob = join(dir, 'blob.img');
      up('mkfs.erofs', ['--chunksize=4096', `--blobdev=${blob}`, img, src]);
      return { img, devices: [blob] };
    },
  },
  {
    name: '-zlz4hc --blobdev --chunksize=8192',
    build: () => {
      const img = join(dir, 'zblob-meta.img');
      const blob = join(dir, 'zblob.img');
      up('mkfs.erofs', ['-zlz4hc', '--chunksize=8192', `--blobdev=${blob}`, img, src]);
      return { img, devices: [blob] };
    },
  },
  {
    name: '--tar=i over a plain tar',
    build: () => {
      const img = join(dir, 'tari.img');
      up('mkfs.erofs', ['--tar=i', img, join(dir, 't.tar')]);
      return { img, devices: [join(dir, 't.tar')] };
    },
  },
  {
    name: '--tar=i --ungzip=RAW over a gzip tar',
    build: () => {
      const img = join(dir, 'targz.img');
      const raw = join(dir, 'raw.tar');
      up('mkfs.erofs', ['--tar=i', `--ungzip=${raw}`, img, join(dir, 't.tar.gz')]);
      return { img, devices: [raw] };
    },
  },
];

for (const cell of cells) {
  test(`upstream ${cell.name}: extract gives back the source tree; upstream fsck clean`, (t) => {
    const { img, devices } = cell.build();
    up('fsck.erofs', [...devices.map((d) => `--device=${d}`), img]);
    const out = join(dir, `x-${cell.name.replace(/[^a-z0-9]+/gi, '_')}`);
    t.deepEqual(view(extracted(img, devices, out)), view(snapshotTree(src)));
  });
}

test('upstream rebuild mode (fsmeta over two layer images): extract is the merged tree; wrong order refused', async (t) => {
  const l1src = join(dir, 'l1src');
  const l2src = join(dir, 'l2src');
  mkdirSync(l1src);
  mkdirSync(join(l2src, 'sub'), { recursive: true });
  writeFileSync(join(l1src, 'one'), seededBytes(5000, 3));
  writeFileSync(join(l2src, 'sub/two'), seededBytes(20000, 4));
  const l1 = join(dir, 'l1.erofs');
  const l2 = join(dir, 'l2.erofs');
  // Rebuild mode indexes layer data in place: the layers keep no inline tails.
  up('mkfs.erofs', ['-Enoinline_data', l1, l1src]);
  up('mkfs.erofs', ['-Enoinline_data', l2, l2src]);
  const meta = join(dir, 'fsmeta.img');
  up('mkfs.erofs', [meta, l1, l2]);
  up('fsck.erofs', [`--device=${l1}`, `--device=${l2}`, meta]);
  const got = view(extracted(meta, [l1, l2], join(dir, 'x-fsmeta')));
  t.is(got.one, view(snapshotTree(l1src)).one);
  t.is(got['sub/two'], view(snapshotTree(l2src))['sub/two']);
  const r = await ishare(['ls', meta, '--device', `${meta}=${l2}`, '--device', `${meta}=${l1}`]);
  t.is(r.status, 2);
  t.true(isOneErrorLine(r.stderr), r.stderr);
  t.regex(
    r.stderr,
    /fsmeta\.img: device 1 \(tag '[0-9a-f]{32}'\) .*l2\.erofs is the wrong device: its uuid is [0-9a-f]{32}/,
  );
});

test('compare of two upstream blobdev images: page cache from the source trees, with and without sharing', async (t) => {
  const imgs: string[] = [];
  const args: string[] = [];
  for (const n of ['c1', 'c2']) {
    const img = join(dir, `${n}.img`);
    const blob = join(dir, `${n}.blob`);
    up('mkfs.erofs', ['--xattr-inode-digest', '--chunksize=4096', `--blobdev=${blob}`, img, src]);
    imgs.push(img);
    args.push('--device', `${img}=${blob}`);
  }
  const r = await ishare(['compare', ...imgs, ...args, '--workers', '2', '--json']);
  t.is(r.status, 0, r.stderr);
  const res = json<{ noShare: { pageCacheBytes: number }; share: { pageCacheBytes: number } }>(r);
  t.is(res.noShare.pageCacheBytes, expectedNoShare([src, src]));
  t.is(res.share.pageCacheBytes, expectedShare([src, src]));
});

test('bad device input: missing, truncated blob, wrong count — one line naming image and device, exit 2, nothing written', async (t) => {
  const img = join(dir, 'bad-meta.img');
  const blob = join(dir, 'bad.blob');
  up('mkfs.erofs', ['--chunksize=4096', `--blobdev=${blob}`, img, src]);
  const short = join(dir, 'short.blob');
  copyFileSync(blob, short);
  truncateSync(short, 4096);
  const out = join(dir, 'never');
  // Through the real CLI: the exit code, the one line, and no output directory.
  const runs = await Promise.all([
    ishare(['extract', img, out]),
    ishare(['extract', img, out, '--device', `${img}=${short}`]),
  ]);
  const want = [
    /bad-meta\.img: device 1, \d+ blocks, is missing: give it with --device/,
    /bad-meta\.img: device 1 .*short\.blob is 4096 bytes, the device table says \d+ blocks/,
  ];
  runs.forEach((r, i) => {
    t.is(r.status, 2, r.stderr);
    t.true(isOneErrorLine(r.stderr), r.stderr);
    t.regex(r.stderr, want[i]);
    t.is(r.stdout.length, 0);
  });
  // The same open path every command takes (openImage), in-process: a wrong count, a missing file.
  const refused = (devices: string[]): string => {
    setDevices(devices.map((d) => `${img}=${d}`));
    try {
      openImage(img).close();
      return '(opened)';
    } catch (e) {
      return (e as Error).message;
    } finally {
      setDevices([]);
    }
  };
  t.regex(refused([blob, blob]), /bad-meta\.img: the image has 1 extra device\(s\), 2 given/);
  t.regex(refused([join(dir, 'nope.blob')]), /bad-meta\.img: device 1: cannot open .*nope\.blob: ENOENT/);
  t.false(existsSync(out), 'extract left nothing behind');
});
