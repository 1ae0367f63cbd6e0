// drop_caches hands its frames back lowest first (mm/pagepool.ts frameAllocRewind): the fill that follows
// writes the frames the last fills wrote, as the kernel's free lists give the most recently freed pages
// out first, instead of going on round the pool from wherever the last allocation stopped.
import test from 'ava';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { System } from '@ishare/core';
import { findGetPage } from '../src/vfs/pagecache.ts';
import { putPage } from '../src/mm/pagepool.ts';
import { NIL } from '../src/mm/list.ts';
import { mkfsErofs } from './helpers/images.ts';
import { seededBytes, tempDir, removeDir } from '../../../test/helpers/trees.ts';

const PAGE = 4096;

/** The frames caching every page of `path`. */
function framesOf(sys: System, mount: number, path: string): number[] {
  const f = sys.open(mount, path);
  try {
    const out: number[] = [];
    for (let i = 0; i < Math.ceil(f.size / PAGE); i++) {
      const fr = findGetPage(sys.arena, f.mapping, i);
      if (fr === NIL) throw new Error(`${path}: page ${i} is not cached`);
      putPage(sys.arena, fr);
      out.push(fr);
    }
    return out;
  } finally {
    sys.close(f);
  }
}

test('after drop_caches a fill takes the lowest frames again, whatever was read before', (t) => {
  const dir = tempDir('ishare-rewind-');
  const sys = System.create({ poolMiB: 16 }); // 4,096 frames
  try {
    const src = join(dir, 'src');
    mkdirSync(src);
    for (let i = 0; i < 6; i++) writeFileSync(join(src, `f${i}`), seededBytes(256 * PAGE, i + 1)); // 1 MiB each
    const image = join(dir, 'a.img');
    mkfsErofs(image, src);
    const { mount } = sys.mount(image);
    const readAll = (path: string): void => {
      const f = sys.open(mount, path);
      sys.readAll(f);
      sys.close(f);
    };
    // Fill, drop, fill again: each round reads 1,536 frames' worth, more than a third of the pool, so a
    // cursor that went on from where the last round stopped would be past frame 3,000 by the third.
    for (let round = 0; round < 3; round++) {
      sys.dropCaches();
      for (let i = 0; i < 6; i++) readAll(`/f${i}`);
      const frames = Array.from({ length: 6 }, (_, i) => framesOf(sys, mount, `/f${i}`)).flat();
      t.is(frames.length, 6 * 256);
      t.is(new Set(frames).size, frames.length);
      // One reader, an empty pool: the lowest 1,536 frames, in the order the pages were read.
      t.deepEqual(
        frames,
        frames.map((_, i) => i),
        `round ${round}`,
      );
    }
  } finally {
    sys.detach();
    removeDir(dir);
  }
});
