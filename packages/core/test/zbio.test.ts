// The per-thread device read window (zbio.ts) serves pclusters from bytes read ahead of them. Those bytes
// must never outlive the image: a read through an image closed since (a use after unmount, which the
// stress harness exists to find) fails as the image's own read does, and is not served from the window.
// And where the address space ends before its size says (the metabox above the image), the window reads
// exactly what was asked.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isErofsError } from '@ishare/core';
import { ErofsImage } from '@ishare/core/format';
import { ZReadWindow } from '../src/erofs/zbio.ts';
import { textBytes } from '../../../test/helpers/compress-tree.ts';
import { removeDir, tempDir } from '../../../test/helpers/trees.ts';
import { upstreamTool } from '../../../test/helpers/erofs-utils.ts';

test('a window filled from an image is forgotten when the image closes: a later read fails with EIO', (t) => {
  const dir = tempDir('ishare-zbio-');
  try {
    const src = join(dir, 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'a.txt'), textBytes(300_000, 3));
    const image = join(dir, 'z.img');
    execFileSync(upstreamTool('mkfs.erofs'), ['-T0', '-zlz4hc', image, src], { stdio: 'ignore' });
    const img = ErofsImage.open(image);
    const w = new ZReadWindow();
    const first = w.read(img.source, 0, 64).slice();
    t.is(w.read(img.source, 64, 64).length, 64, 'served from the window');
    t.deepEqual(w.read(img.source, 0, 64), first);
    img.close();
    const e = t.throws(() => w.read(img.source, 0, 64));
    t.true(isErofsError(e) && e.code === 'EIO', String(e));
  } finally {
    removeDir(dir);
  }
});
