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
const FILES = 5;
const FILE_PAGES = 250;

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
    // 1,250 pages in all: the reader's third extent of 512 frames is left part-used at the end of a round.
    for (let i = 0; i < FILES; i++) writeFileSync(join(src, `f${i}`), seededBytes(FILE_PAGES * PAGE, i + 1));
    const image = join(dir, 'a.img');
    mkfsErofs(image, src);
    const { mount } = sys.mount(image);
    const readAll = (path: string): void => {
      const f = sys.open(mount, path);
      sys.readAll(f);
      sys.close(f);
    };
    // Fill, drop, fill again: each round reads 1,250 frames' worth, almost a third of the pool, so a
    // cursor that went on from where the last round stopped would be near frame 2,500 by the third, and
    // a thread that kept its part-used extent would go on at frame 1,250 in the second.
    for (let round = 0; round < 3; round++) {
      sys.dropCaches();
      for (let i = 0; i < FILES; i++) readAll(`/f${i}`);
      const frames = Array.from({ length: FILES }, (_, i) => framesOf(sys, mount, `/f${i}`)).flat();
      t.is(frames.length, FILES * FILE_PAGES);
      t.is(new Set(frames).size, frames.length);
      // One reader, an empty pool: the lowest 1,250 frames, in the order the pages were read.
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
