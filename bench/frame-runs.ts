// How a fill lays the page cache out in the pool: the images mounted COPIES times, filled (drop caches,
// read every file once) by a pool of 1 and of 2 workers in turn, and after each fill the runs of
// adjacent frames the files' pages lie in (a file read alone in address order is one run) and the
// folios by size. A warm read copies one run with one copy and finds the next page in the next frame,
// so more, shorter runs cost the warm passes that follow.
// Usage: tsx --conditions=source bench/frame-runs.ts IMG... (COPIES=N default 12, SPLIT=BYTES default
// 1 MiB as `pnpm bench` reads, ROUNDS=N fills per pool size default 2, SHARE=1 each copy mounted with
// inode_share in a domain of its own, as the bench's disjoint-share family: the shared inodes' layout)
import { mountCopies } from './copies-system.ts';
import { ReaderPool } from '../packages/workers/src/index.ts';
import { FRAME_WORDS, F_FLAGS, F_FOLIO, F_INDEX, F_MAPPING, PG_FREE } from '../packages/core/src/mm/pagepool.ts';
import { NIL } from '../packages/core/src/mm/list.ts';

const images = process.argv.slice(2);
if (images.length === 0) {
  process.stderr.write('usage: tsx --conditions=source bench/frame-runs.ts IMG... (COPIES SPLIT ROUNDS)\n');
  process.exit(2);
}
const copies = Number(process.env.COPIES ?? 12);
const split = Number(process.env.SPLIT ?? 1 << 20);
const rounds = Number(process.env.ROUNDS ?? 2);
const { sys, sets } = mountCopies(images, copies, process.env.SHARE === '1');
const pools = new Map([1, 2].map((w) => [w, new ReaderPool(sys, { workers: w })]));
for (let r = 0; r < rounds; r++)
  for (const [w, pool] of pools) {
    sys.dropCaches();
    await pool.readClaimed(sets, { split });
    // Quiescent (the pool is idle): the descriptors are read directly, page by page.
    const a = sys.arena;
    const i32 = a.i32;
    const folios = new Map<number, number>();
    const pages = new Map<number, [number, number][]>();
    for (let f = 0; f < a.nframes; f++) {
      const d = a.frames + f * FRAME_WORDS;
      if (i32[d + F_FLAGS] & PG_FREE || i32[d + F_MAPPING] === NIL) continue;
      const nr = i32[d + F_FOLIO];
      if (nr > 0) folios.set(nr, (folios.get(nr) ?? 0) + 1);
      let l = pages.get(i32[d + F_MAPPING]);
      if (!l) pages.set(i32[d + F_MAPPING], (l = []));
      l.push([i32[d + F_INDEX], f]);
    }
    let runs = 0;
    let n = 0;
    for (const l of pages.values()) {
      l.sort((x, y) => x[0] - y[0]);
      for (let j = 0; j < l.length; j++, n++)
        if (j === 0 || l[j][1] !== l[j - 1][1] + 1 || l[j][0] !== l[j - 1][0] + 1) runs++;
    }
    const sizes = [...folios].sort((x, y) => x[0] - y[0]).map(([k, v]) => `${k}:${v}`);
    console.log(
      `fill ${w}w: ${n} pages of ${pages.size} files in ${runs} runs of frames; folios (pages:count) ${sizes.join(' ')}`,
    );
  }
for (const p of pools.values()) await p.destroy();
sys.detach();
