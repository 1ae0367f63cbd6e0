// Newer on-disk features upstream erofs-utils 1.9.3 writes (issue 19 part 4), as interop cells:
//  - INCOMPAT_48BIT (`-E48bit`): rootnid_8b / blocks_hi in the superblock, compact mtimes from the
//    superblock epoch, 48-bit chunk indexes, and for compressed files the encoded extents 1.9.3 writes
//    on 48-bit images (with fragments, dedupe, deflate): our reader gives back the
//    source bytes, through the plain reader and through the kernel model (compare), and upstream
//    fsck.erofs finds the images clean;
//  - INCOMPAT_METABOX (`-m`): not read yet, refused with one line naming the feature.
// Expected bytes are the source tree's; page counts are computed from the file sizes.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErofsImage } from '@ishare/core/format';
import { runCompare } from '@ishare/workers';
import { removeDir, seededBytes, tempDir } from './helpers/trees.ts';
import { upstreamTool } from './helpers/erofs-utils.ts';

let dir = '';
let src = '';
const files = new Map<string, Buffer>();

test.before(() => {
  dir = tempDir('ishare-newer-');
  src = join(dir, 'src');
  mkdirSync(join(src, 'd'), { recursive: true });
  // Compressible text (so upstream compresses it), a small file, an incompressible one.
  const words = ['alpha', 'beta', 'gamma', 'delta', 'epsilon'];
  const text = Array.from({ length: 40000 }, (_, i) => words[(i * 7 + (i >> 3)) % 5]).join(' ');
  files.set('/text', Buffer.from(text));
  files.set('/d/small', Buffer.from('hello world '.repeat(60)));
  files.set('/d/random', seededBytes(20000, 5));
  for (const [p, b] of files) writeFileSync(join(src, p), b);
});
test.after.always(() => removeDir(dir));

function up(tool: 'mkfs.erofs' | 'fsck.erofs', args: string[]): { status: number | null; stderr: string } {
  return spawnSync(upstreamTool(tool), ['-d0', ...args], { encoding: 'utf8' });
}

const cells = ['', '--chunksize=8192', '-zlz4hc', '-zlz4 -Efragments', '-zdeflate -Ededupe'];

for (const opts of cells) {
  test(`upstream -E48bit ${opts}: read byte-exact, upstream fsck clean`, (t) => {
    const img = join(dir, `e48-${opts.replace(/[^a-z0-9]+/gi, '_')}.img`);
    const mk = up('mkfs.erofs', ['-E48bit', ...opts.split(' ').filter(Boolean), img, src]);
    t.is(mk.status, 0, mk.stderr);
    const fsck = up('fsck.erofs', [img]);
    t.is(fsck.status, 0, fsck.stderr);
    const im = ErofsImage.open(img);
    try {
      t.truthy(im.sb.featureIncompat & 0x80, 'the image is 48-bit');
      for (const [p, want] of files) t.deepEqual(Buffer.from(im.readFile(im.resolve(p))), want, p);
    } finally {
      im.close();
    }
  });
}

test('upstream -E48bit -zlz4hc through the kernel model: compare reads every page of both copies', async (t) => {
  const a = join(dir, 'k1.img');
  t.is(up('mkfs.erofs', ['-E48bit', '-zlz4hc', '--xattr-inode-digest', a, src]).status, 0);
  const b = join(dir, 'k2.img');
  writeFileSync(b, readFileSync(a));
  const r = await runCompare({ images: [a, b], workers: 2 });
  let pages = 0;
  for (const buf of files.values()) pages += Math.ceil(buf.length / 4096);
  t.is(r.noShare.pageCacheBytes, 2 * pages * 4096);
  t.is(r.share.pageCacheBytes, pages * 4096);
});

test('upstream -m (INCOMPAT_METABOX): refused with one line naming the feature', (t) => {
  const img = join(dir, 'metabox.img');
  t.is(up('mkfs.erofs', ['-m4096', img, src]).status, 0);
  const e = t.throws(() => ErofsImage.open(img));
  t.regex(e.message, /unsupported incompatible feature\(s\): metabox/);
});
