// The page index's hash keeps 16 consecutive pages of a mapping in neighbouring buckets (for the cache
// lines a readahead touches). That must not cost its spread: whatever the files are like, a pool's worth
// of pages fills the buckets as keys thrown at random would. For n keys into n buckets at random, a
// fraction 1 - 1/e ≈ 0.632 of the buckets is used and the fullest typically holds 6 to 8 keys
// (n = 16,384); runs of 16 keys thrown together (1,024 runs for 1,024 places) leave the expected
// fraction as it is, with a spread of about 1%. The bounds below (at least 0.58 used, none over 12) hold
// for a random hash with room to spare and fail for one that crowds small files into a few buckets
// (1-page files, all page 0, into the first bucket of each run: 1/16 of them) or that maps small
// mapping and group numbers to few places.
import test from 'ava';
import { System } from '../src/system.ts';
import { bucketOf, PAGE_BUCKET_WORDS } from '../src/vfs/pagecache.ts';

const sys = System.create({ poolMiB: 64, inodeSlots: 1024, mountSlots: 4 });
const a = sys.kernel.a;

function spread(files: number, pagesPerFile: number): { used: number; fullest: number; buckets: number } {
  const buckets = a.counts.npageBuckets;
  const load = new Map<number, number>();
  // Mapping numbers as inode slots give them: small integers, one per file.
  for (let m = 0; m < files; m++)
    for (let i = 0; i < pagesPerFile; i++) {
      const b = bucketOf(a, m, i);
      load.set(b, (load.get(b) ?? 0) + 1);
    }
  return { used: load.size / buckets, fullest: Math.max(...load.values()), buckets };
}

for (const [files, pages, what] of [
  [16384, 1, 'one-page files'],
  [4096, 4, 'four-page files'],
  [1024, 16, 'sixteen-page files'],
  [16, 1024, 'big files'],
  [1, 16384, 'one file'],
] as const) {
  test(`a pool's worth of pages spreads over the page index like random keys: ${what}`, (t) => {
    const s = spread(files, pages);
    t.is(files * pages, s.buckets, 'one key per bucket on average');
    t.true(s.used >= 0.58, `${(s.used * 100).toFixed(1)}% of the buckets used`);
    t.true(s.fullest <= 12, `the fullest bucket holds ${s.fullest}`);
    t.log(`${(s.used * 100).toFixed(1)}% used, fullest ${s.fullest}`);
  });
}

test('16 consecutive pages of a mapping lie in 16 distinct buckets within 16 buckets of each other', (t) => {
  for (const m of [0, 1, 7, 1023])
    for (const first of [0, 16, 4096, 2 ** 31 - 16]) {
      const words = Array.from({ length: 16 }, (_, i) => bucketOf(a, m, first + i));
      t.is(new Set(words).size, 16, `mapping ${m}, pages ${first}..`);
      t.true(Math.max(...words) - Math.min(...words) <= 15 * PAGE_BUCKET_WORDS, `mapping ${m}, pages ${first}..`);
    }
});
