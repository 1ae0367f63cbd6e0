// The lzma decoder (@napi-rs/lzma) keeps a reference to every input buffer its synchronous call is given,
// for good: a fresh input buffer per pcluster made each read of an lzma image leave its compressed size
// behind (a long lzma bench ran a 24 GiB machine out of memory). An image of upstream `mkfs.erofs -zlzma`
// is read again and again in a child process, the collector run after each pass: the ArrayBuffer bytes
// still alive must not grow with the passes. Expected growth without the fix: about the image's
// compressed data per pass (measured: 7.7 MB per 400 decodes of 20 KB inputs in a bare loop).
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { removeDir, tempDir } from '../../../test/helpers/trees.ts';
import { upstreamTool } from '../../../test/helpers/erofs-utils.ts';

const CHILD = fileURLToPath(new URL('./helpers/lzma-retain.mjs', import.meta.url));
const PASSES = 12;

test('reading an lzma image again and again keeps no input buffer alive', (t) => {
  const dir = tempDir('ishare-lzma-retain-');
  try {
    const src = join(dir, 'src');
    mkdirSync(src);
    // Base64 of random bytes: compresses to about three quarters, so most of a pass is compressed input.
    for (let i = 0; i < 4; i++) writeFileSync(join(src, `f${i}`), randomBytes(768 * 1024).toString('base64'));
    const img = join(dir, 'lzma.img');
    execFileSync(upstreamTool('mkfs.erofs'), ['-T0', '-zlzma', img, src], { stdio: 'pipe' });
    const size = statSync(img).size;
    const out = execFileSync(process.execPath, ['--expose-gc', CHILD, img, String(PASSES)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const { bytes, after } = JSON.parse(out.trim().split('\n').at(-1)!) as { bytes: number; after: number[] };
    t.is(bytes, PASSES * 4 * 1024 * 1024, 'every pass read every byte');
    // From the second pass (the first sizes the caches) to the last: what a leak would add is about
    // (PASSES - 2) images' worth; allow a quarter of that for the collector's slack.
    const growth = after[PASSES - 1] - after[1];
    t.log(
      `image ${size} bytes; ArrayBuffers after each pass: ${after.map((b) => (b / 2 ** 20).toFixed(1)).join(' ')} MiB`,
    );
    t.true(
      growth < ((PASSES - 2) * size) / 4,
      `grew ${growth} bytes over ${PASSES - 2} passes of a ${size}-byte image`,
    );
  } finally {
    removeDir(dir);
  }
});
