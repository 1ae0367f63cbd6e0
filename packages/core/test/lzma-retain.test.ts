// Reading an lzma image over and over must not grow memory. Two decoders ago this failed twice:
// @napi-rs/lzma's synchronous call kept every input buffer it was given alive for good (a long lzma bench
// ran a 24 GiB machine out of memory), and its output buffers were not freed in our pool workers across
// tasks (+23 MB per 21 MiB pass; a bench passed 11 GB). The decoder is now ours (erofs/lzma.ts: it writes
// into the caller's buffer, allocates nothing per call); these tests keep it that way. An image of
// upstream `mkfs.erofs -zlzma` is read again and again in a child process:
// - on the main thread, the collector run after each pass: the live ArrayBuffer bytes must not grow
//   (fails with the addon given a fresh input buffer per pcluster: about the image's size per pass);
// - through a 2-worker ReaderPool, one set of tasks per pass: the resident size must not grow (fails
//   with the addon: +52.8 MB over the last six of twelve passes of this image, 206.9 -> 321.0 MB over
//   all twelve, measured once; with lzma.ts +4 MB).
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { removeDir, tempDir } from '../../../test/helpers/trees.ts';
import { textBytes } from '../../../test/helpers/compress-tree.ts';
import { upstreamTool } from '../../../test/helpers/erofs-utils.ts';

const CHILD = fileURLToPath(new URL('./helpers/lzma-retain.mjs', import.meta.url));
const PASSES = 12;
const FILES = 4;

let dir = '';
/** Base64 of random bytes: compresses to about three quarters, so most of a pass is compressed input. */
let inputImg = '';
/** Text: decodes fast and to much more than it reads, so most of a pass is decoder output. */
let outputImg = '';
const INPUT_FILE_BYTES = 1024 * 1024;
const OUTPUT_FILE_BYTES = 2 * 1024 * 1024;

function build(name: string, file: (i: number) => Buffer | string): string {
  const src = join(dir, name);
  mkdirSync(src);
  for (let i = 0; i < FILES; i++) writeFileSync(join(src, `f${i}`), file(i));
  const img = join(dir, `${name}.img`);
  execFileSync(upstreamTool('mkfs.erofs'), ['-T0', '-zlzma', img, src], { stdio: 'pipe' });
  return img;
}

test.before(() => {
  dir = tempDir('ishare-lzma-retain-');
  inputImg = build('input', () => randomBytes(768 * 1024).toString('base64'));
  outputImg = build('output', (i) => textBytes(OUTPUT_FILE_BYTES, 40 + i));
});
test.after.always(() => removeDir(dir));

function passes(img: string, mode: 'main' | 'pool'): { bytes: number; after: number[] } {
  const out = execFileSync(process.execPath, ['--conditions=source', '--expose-gc', CHILD, img, String(PASSES), mode], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return JSON.parse(out.trim().split('\n').at(-1)!) as { bytes: number; after: number[] };
}

const mib = (xs: number[]): string => xs.map((b) => (b / 2 ** 20).toFixed(1)).join(' ');

test('reading an lzma image again and again on one thread keeps no input buffer alive', (t) => {
  const size = statSync(inputImg).size;
  const { bytes, after } = passes(inputImg, 'main');
  t.is(bytes, PASSES * FILES * INPUT_FILE_BYTES, 'every pass read every byte');
  // From the second pass (the first sizes the caches) to the last: what a leak would add is about
  // (PASSES - 2) images' worth; allow a quarter of that for the collector's slack.
  const growth = after[PASSES - 1] - after[1];
  t.log(`image ${size} bytes; ArrayBuffers after each pass: ${mib(after)} MiB`);
  t.true(growth < ((PASSES - 2) * size) / 4, `grew ${growth} bytes over ${PASSES - 2} passes of a ${size}-byte image`);
});

test('reading an lzma image again and again through a 2-worker pool does not grow the process', (t) => {
  const { bytes, after } = passes(outputImg, 'pool');
  const perPass = FILES * OUTPUT_FILE_BYTES;
  t.is(bytes, PASSES * perPass, 'every pass read every byte');
  // The workers' heaps grow for the first passes and level off (measured: within 1 MB from the sixth
  // pass on); a leak of decoder output grows with every pass (measured once with the addon: +52.8 MB
  // over the last six passes of 8 MiB). Over the second half: less than a quarter of what it decoded.
  const half = PASSES >> 1;
  const growth = after[PASSES - 1] - after[half - 1];
  const decoded = (PASSES - half) * perPass;
  t.log(`resident size after each pass: ${mib(after)} MiB`);
  t.true(growth < decoded / 4, `grew ${growth} bytes over the last ${PASSES - half} passes (${decoded} bytes decoded)`);
});
