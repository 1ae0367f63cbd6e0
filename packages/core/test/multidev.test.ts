// Multi-device images written by our writer (mkfsFromTree with devices): the reader maps chunk indexes
// with device ids through the device table, upstream fsck.erofs 1.9.3 (given the devices) finds them
// clean, and each bad-device case (missing, wrong size, wrong order, truncated) is one error naming the
// image and the device. Expected bytes come from the blobs the test itself laid out.
import test from 'ava';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErofsImage, isErofsError } from '../src/erofs/index.ts';
import { mkfsFromTree, newNode, uuidTag, type TreeNode } from '../src/erofs/mkfs/index.ts';
import { upstreamTool } from '../../../test/helpers/erofs-utils.ts';

const BS = 4096;

interface Layer {
  blob: Buffer;
  files: Map<string, Buffer>;
}

/** A blob holding `files` back to back, each padded to a block: what a layer blob's data area is. */
function layer(seed: number, names: string[], sizes: number[]): Layer {
  const parts: Buffer[] = [];
  const files = new Map<string, Buffer>();
  names.forEach((n, i) => {
    const b = Buffer.alloc(sizes[i]);
    for (let j = 0; j < b.length; j++) b[j] = (j * 31 + seed * 7 + i) & 0xff;
    files.set(n, b);
    parts.push(b, Buffer.alloc((BS - (b.length % BS)) % BS));
  });
  return { blob: Buffer.concat(parts), files };
}

function fileNode(device: number, blkaddr: number, data: Buffer): TreeNode {
  return newNode('file', {
    size: data.length,
    data: { size: data.length, blkaddr, blocks: Math.ceil(data.length / BS), tail: null, device },
    sha256: createHash('sha256').update(data).digest(),
  });
}

/** A metadata image over two layer blobs: /a,/b on device 1, /d/c on device 2, /empty nowhere. */
async function build(
  dir: string,
  tags: [string, string],
): Promise<{ img: string; blobs: string[]; want: Map<string, Buffer> }> {
  const l1 = layer(1, ['a', 'b'], [10000, 5000]);
  const l2 = layer(2, ['c'], [70000]);
  const blobs = [join(dir, 'l1.blob'), join(dir, 'l2.blob')];
  writeFileSync(blobs[0], l1.blob);
  writeFileSync(blobs[1], l2.blob);
  const root = newNode('dir');
  const d = newNode('dir');
  const a = l1.files.get('a')!;
  const b = l1.files.get('b')!;
  const c = l2.files.get('c')!;
  root.children!.set('a', { name: Buffer.from('a'), node: fileNode(1, 0, a) });
  root.children!.set('b', { name: Buffer.from('b'), node: fileNode(1, Math.ceil(a.length / BS), b) });
  root.children!.set('d', { name: Buffer.from('d'), node: d });
  d.children!.set('c', { name: Buffer.from('c'), node: fileNode(2, 0, c) });
  const empty = newNode('file', {
    data: { size: 0, blkaddr: 0, blocks: 0, tail: null },
    sha256: createHash('sha256').digest(),
  });
  root.children!.set('empty', { name: Buffer.from('empty'), node: empty });
  const img = join(dir, 'meta.img');
  await mkfsFromTree(root, {
    out: img,
    timestamp: 1700000000,
    devices: [
      { tag: tags[0], blocks: l1.blob.length / BS },
      { tag: tags[1], blocks: l2.blob.length / BS },
    ],
  });
  const want = new Map([
    ['/a', a],
    ['/b', b],
    ['/d/c', c],
    ['/empty', Buffer.alloc(0)],
  ]);
  return { img, blobs, want };
}

function readAll(im: ErofsImage): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const { path, inode } of im.walk()) if (inode.type === 'file') out.set(path, Buffer.from(im.readFile(inode)));
  return out;
}

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (isErofsError(e)) return e.message;
    throw e;
  }
  return '(no error)';
}

test('writer: device table and chunk indexes with device ids read back, upstream fsck clean with --device', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ishare-multidev-'));
  try {
    const { img, blobs, want } = await build(dir, ['l1.blob', 'l2.blob']);
    const im = ErofsImage.open(img, undefined, { paths: blobs });
    t.deepEqual(
      im.devices.map((d) => [d.id, d.tag, d.blocks]),
      [
        [1, 'l1.blob', readFileSync(blobs[0]).length / BS],
        [2, 'l2.blob', readFileSync(blobs[1]).length / BS],
      ],
    );
    t.deepEqual(readAll(im), want);
    im.close();
    // Without paths the tags name the files beside the image.
    const byTag = ErofsImage.open(img);
    t.deepEqual(readAll(byTag), want);
    byTag.close();
    const fsck = spawnSync(upstreamTool('fsck.erofs'), [`--device=${blobs[0]}`, `--device=${blobs[1]}`, img], {
      encoding: 'utf8',
    });
    t.is(fsck.status, 0, fsck.stdout + fsck.stderr);
    // Upstream extracts the same bytes through its own reading of the table.
    const out = join(dir, 'x');
    const ex = spawnSync(
      upstreamTool('fsck.erofs'),
      [`--device=${blobs[0]}`, `--device=${blobs[1]}`, `--extract=${out}`, img],
      { encoding: 'utf8' },
    );
    t.is(ex.status, 0, ex.stderr);
    for (const [p, data] of want) t.deepEqual(readFileSync(join(out, p)), data, p);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad devices: missing, wrong count, truncated, wrong order (uuid tags) are one line naming image and device', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ishare-multidev-'));
  try {
    const { img, blobs } = await build(dir, ['l1.blob', 'l2.blob']);
    // Missing: the tag names a file that is not there and nothing was given.
    rmSync(blobs[1]);
    const missing = errorOf(() => ErofsImage.open(img));
    t.regex(missing, /meta\.img: device 2 \(tag 'l2\.blob'\), \d+ blocks, is missing/);
    t.regex(
      errorOf(() => ErofsImage.open(img, undefined, { paths: [blobs[0]] })),
      /meta\.img: the image has 2 extra device\(s\), 1 given/,
    );
    t.regex(
      errorOf(() => ErofsImage.open(img, undefined, { paths: [blobs[0], join(dir, 'nope')] })),
      /meta\.img: device 2: cannot open .*nope: ENOENT/,
    );
    // Wrong size: a blob cut short (and the other one given in its place).
    const { img: img2, blobs: blobs2 } = await build(join(dir), ['l1.blob', 'l2.blob']);
    const short = join(dir, 'short.blob');
    copyFileSync(blobs2[1], short);
    truncateSync(short, BS * 3);
    t.regex(
      errorOf(() => ErofsImage.open(img2, undefined, { paths: [blobs2[0], short] })),
      /meta\.img: device 2 \(tag 'l2\.blob'\) .*short\.blob is 12288 bytes, the device table says 18 blocks/,
    );
    t.regex(
      errorOf(() => ErofsImage.open(img2, undefined, { paths: [blobs2[1], blobs2[0]] })),
      /meta\.img: device 2 \(tag 'l2\.blob'\) .*l1\.blob is \d+ bytes, the device table says 18 blocks/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad devices: layer images tagged by uuid, given out of order, are refused by uuid', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ishare-multidev-'));
  try {
    // Two EROFS images as the devices (what fsmeta's layers are), tagged as upstream rebuild mode tags them.
    const mk = (name: string, uuid: string): string => {
      const p = join(dir, name);
      const r = spawnSync(upstreamTool('mkfs.erofs'), ['-U', uuid, '-b4096', p, '/dev/null'], { encoding: 'utf8' });
      if (r.status !== 0) {
        // An empty source directory works for every upstream build.
        const src = mkdtempSync(join(dir, 'src-'));
        const r2 = spawnSync(upstreamTool('mkfs.erofs'), ['-U', uuid, p, src], { encoding: 'utf8' });
        t.is(r2.status, 0, r2.stderr);
      }
      return p;
    };
    const u1 = '11111111-2222-4333-8444-555555555555';
    const u2 = '66666666-7777-4888-8999-aaaaaaaaaaaa';
    const l1 = mk('l1.erofs', u1);
    const l2 = mk('l2.erofs', u2);
    const root = newNode('dir');
    const img = join(dir, 'fsmeta.img');
    const blocks = readFileSync(l1).length / BS;
    await mkfsFromTree(root, {
      out: img,
      devices: [
        { tag: uuidTag(u1), blocks },
        { tag: uuidTag(u2), blocks: readFileSync(l2).length / BS },
      ],
    });
    const ok = ErofsImage.open(img, undefined, { paths: [l1, l2] });
    t.is(ok.devices[0].tag, '11111111222243338444555555555555');
    ok.close();
    t.regex(
      errorOf(() => ErofsImage.open(img, undefined, { paths: [l2, l1] })),
      /fsmeta\.img: device 1 \(tag '11111111222243338444555555555555'\) .*l2\.erofs is the wrong device: its uuid is 66666666777748888999aaaaaaaaaaaa/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
