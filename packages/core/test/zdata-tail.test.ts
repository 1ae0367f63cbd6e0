// One thread reading a compressed file whose extents end inside pages (upstream mkfs.erofs 1.9.3, lz4 and
// lz4hc at the default pcluster size): each readahead window after the first starts on the page the
// previous extent shares with the next one. That page is filled from the thread's kept tail of the
// previous extent's decode (Z_TAIL_REUSED), so every pcluster is decoded exactly once — as many decodes
// as upstream dump.erofs lists extents — and the bytes are the source's.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { System } from '@ishare/core';
import { textBytes } from '../../../test/helpers/compress-tree.ts';
import { removeDir, tempDir } from '../../../test/helpers/trees.ts';
import { upstreamTool } from '../../../test/helpers/erofs-utils.ts';

const PAGE = 4096;

for (const alg of ['-zlz4', '-zlz4hc']) {
  test(`${alg}: extents ending inside pages are each decoded once by one sequential reader`, (t) => {
    const dir = tempDir('ishare-ztail-');
    try {
      const src = join(dir, 'src');
      mkdirSync(src);
      const want = textBytes(1_500_000, 7);
      writeFileSync(join(src, 'a.txt'), want);
      const image = join(dir, 'z.img');
      execFileSync(upstreamTool('mkfs.erofs'), ['-T0', alg, image, src], { stdio: ['ignore', 'ignore', 'pipe'] });
      const dump = execFileSync(upstreamTool('dump.erofs'), ['-e', '--path=/a.txt', image], { encoding: 'utf8' });
      const las = [...dump.matchAll(/^\s*\d+:\s+(\d+)\.\.\s*\d+\s*\|/gm)].map((m) => Number(m[1]));
      const found = Number(/(\d+) extents found/.exec(dump)?.[1] ?? -1);
      t.is(las.length, found);
      const inside = las.filter((la) => la % PAGE !== 0).length;
      t.true(inside >= 8, `${inside} of ${found} extents start inside a page`);
      const sys = System.create({ poolMiB: 64 });
      try {
        const { mount } = sys.mount(image);
        sys.resetStats();
        const file = sys.open(mount, '/a.txt');
        t.true(Buffer.from(sys.readAll(file)).equals(want), 'the source bytes');
        sys.close(file);
        const c = sys.stats().counters;
        t.is(c.Z_PCLUSTERS, found, `each pcluster decoded once (${c.READAHEAD_CALLS} readahead calls)`);
        t.true(c.Z_TAIL_REUSED >= 1, `${c.Z_TAIL_REUSED} pages filled from a kept tail`);
        sys.unmount(mount);
      } finally {
        sys.detach();
      }
    } finally {
      removeDir(dir);
    }
  });
}
