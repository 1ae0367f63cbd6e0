// The kernel's compressed data path (fs/erofs/zdata.ts), single thread, on images from upstream
// mkfs.erofs 1.9.3: every byte equal to the source (ranged reads first, then whole files), one page
// frame per page of each distinct inode, a second pass served from the page cache with no device read
// and no decompression, and pcluster decodes bounded by the extents dump.erofs lists (each extent
// once, plus at most one re-decode where a readahead window starts inside an extent).
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { System } from '@ishare/core';
import { makeCompressTree } from '../../../test/helpers/compress-tree.ts';
import { removeDir, tempDir } from '../../../test/helpers/trees.ts';
import { upstreamTool } from '../../../test/helpers/erofs-utils.ts';

let dir = '';
let src = '';
let files: string[] = [];
test.before(() => {
  dir = tempDir('ishare-kz-');
  src = join(dir, 'src');
  mkdirSync(src);
  files = makeCompressTree(src).filter((f) => !f.startsWith('many/'));
});
test.after.always(() => removeDir(dir));

/** Extents of a file as upstream dump.erofs counts them. */
function dumpExtents(image: string, path: string): number {
  const out = execFileSync(upstreamTool('dump.erofs'), ['-e', `--path=${path}`, image], { encoding: 'utf8' });
  const m = /(\d+) extents found/.exec(out);
  return m ? Number(m[1]) : 0;
}

const CELLS = [
  ['-zlz4'],
  ['-zlz4hc', '-C65536', '-Eztailpacking,fragments,dedupe'],
  ['-zdeflate', '-Efragments'],
  ['-zzstd', '-C16384', '-Eztailpacking'],
  ['-zlzma', '-C65536', '-Efragments'],
];

CELLS.forEach((args, i) => {
  test(`kernel reads ${args.join(' ')} image: bytes, page cache, second pass, pcluster decodes`, (t) => {
    const image = join(dir, `k${i}.img`);
    execFileSync(upstreamTool('mkfs.erofs'), ['-T0', ...args, image, src], { stdio: ['ignore', 'ignore', 'pipe'] });
    const sys = System.create({ poolMiB: 64 });
    try {
      const { mount } = sys.mount(image);
      // Ranged reads in the middle of files first (read_folio / readahead starting inside pclusters).
      for (const rel of files) {
        const want = readFileSync(join(src, rel));
        const file = sys.open(mount, '/' + rel);
        for (const [o, l] of [
          [12_345, 9_999],
          [4095, 2],
          [70_000, 1],
        ] as const) {
          if (o >= want.length) continue;
          const dst = Buffer.alloc(l);
          const n = sys.read(file, o, l, dst);
          t.true(dst.subarray(0, n).equals(want.subarray(o, o + l)), `${rel} read(${o}, ${l})`);
        }
        sys.close(file);
      }
      sys.unmount(mount);
      const { mount: m2 } = sys.mount(image);
      sys.resetStats();
      let pages = 0;
      let extents = 0;
      const seen = new Set<number>();
      for (const f of sys.listFiles(m2)) {
        const file = sys.open(m2, f.path);
        t.true(Buffer.from(sys.readAll(file)).equals(readFileSync(join(src, f.path))), f.path);
        sys.close(file);
        if (!seen.has(f.nid)) {
          seen.add(f.nid);
          pages += Math.ceil(f.size / 4096);
          extents += dumpExtents(image, f.path);
        }
      }
      const st = sys.stats();
      t.is(st.filePages, pages, 'one frame per page of each distinct inode');
      const c = st.counters;
      t.true(c.Z_PCLUSTERS >= Math.min(1, extents), `pclusters decoded ${c.Z_PCLUSTERS}`);
      t.true(
        c.Z_PCLUSTERS <= extents + c.READAHEAD_CALLS + c.READFOLIO_CALLS,
        `decoded ${c.Z_PCLUSTERS} for ${extents} extents in ${c.READAHEAD_CALLS} readahead calls`,
      );
      sys.resetStats();
      for (const f of sys.listFiles(m2)) {
        const file = sys.open(m2, f.path);
        sys.readAll(file);
        sys.close(file);
      }
      const st2 = sys.stats();
      t.is(st2.counters.DEVICE_PAGES, 0);
      t.is(st2.counters.Z_PCLUSTERS, 0);
      t.is(st2.counters.MISSES, 0);
      sys.unmount(m2);
      t.is(sys.stats().filePages, 0);
      t.is(sys.stats().inodesInUse, 0);
    } finally {
      sys.detach();
    }
  });
});
