// mm/ names no structure above it: the arena places its own page pool and only what the structures above
// declare (declareCount / declareRegion / declareHeaderWord). The inode table, the mount table and the
// page index are vfs's declarations, sized by vfs's record sizes; a worker attaching gets the same layout.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { System } from '../src/system.ts';
import { Arena } from '../src/mm/arena.ts';
import { INODE_WORDS, ICACHE_BUCKET_WORDS, INODE_POOL_WORDS, INODE_LRU_WORDS } from '../src/vfs/inode.ts';
import { MOUNT_WORDS, MOUNT_TABLE_WORDS } from '../src/vfs/mount.ts';
import { PAGE_BUCKET_WORDS } from '../src/vfs/pagecache.ts';

const ARENA_SRC = fileURLToPath(new URL('../src/mm/arena.ts', import.meta.url));

test('mm/arena.ts names no inode, mount, page index or filesystem structure (comments aside)', (t) => {
  const code = readFileSync(ARENA_SRC, 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/\/\/.*$/gm, '');
  const found = code.match(/inode|mount|bucket|pcluster|erofs|policy|inject|debug/gi) ?? [];
  t.deepEqual(found, []);
});

test('the vfs tables are their owners’ declared counts and regions, sized by their records', (t) => {
  const sys = System.create({ poolMiB: 1, inodeSlots: 100, mountSlots: 3 });
  try {
    const a = sys.arena;
    // 1 MiB of 4 KiB pages; buckets: the next power of two of the records they hash.
    t.is(a.counts.nframes, 256);
    t.is(a.counts.ninodes, 100);
    t.is(a.counts.ninodeBuckets, 128);
    t.is(a.counts.nmounts, 3);
    t.is(a.counts.npageBuckets, 256);
    const sizes: Record<string, number> = {
      'vfs.inodes': 100 * INODE_WORDS,
      'vfs.inodeBuckets': 128 * ICACHE_BUCKET_WORDS,
      'vfs.inodePool': INODE_POOL_WORDS,
      'vfs.inodeLru': INODE_LRU_WORDS,
      'vfs.mounts': 3 * MOUNT_WORDS,
      'vfs.mountTable': MOUNT_TABLE_WORDS,
      'vfs.pageBuckets': 256 * PAGE_BUCKET_WORDS,
    };
    // Regions are placed one after another: each one's size is the gap to the next base (or to the end).
    const placed = Object.entries(a.regions).sort((x, y) => x[1] - y[1]);
    const ends = [...placed.slice(1).map(([, b]) => b), a.i32.length];
    const gap = new Map(placed.map(([name, b], i) => [name, ends[i] - b]));
    for (const [name, words] of Object.entries(sizes)) t.is(gap.get(name), words, name);
    // A worker attaching through the (structured-cloned) handle sees the same counts and bases.
    const copy = Arena.attach(structuredClone(a.handle));
    t.deepEqual(copy.counts, a.counts);
    t.deepEqual(copy.regions, a.regions);
  } finally {
    sys.detach();
  }
});

test('each owner checks its own setting', (t) => {
  t.throws(() => System.create({ poolMiB: 1, inodeSlots: 2 }), { message: 'inode slots out of range (4..16M)' });
  t.throws(() => System.create({ poolMiB: 1, mountSlots: 0 }), { message: 'mount slots out of range (1..1024)' });
});
