// mm/ names no structure above it: the arena places its own page pool and only what the structures above
// declare (declareCount / declareRegion / declareHeaderWord). The inode table, the mount table and the
// page index are vfs's declarations, sized by vfs's record sizes; a worker attaching gets the same layout.
// Counters, race windows, lock classes, protected structures and use sites are declared the same way, by
// the layer they belong to, and every thread numbers them alike.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { System } from '../src/system.ts';
import { Arena } from '../src/mm/arena.ts';
import { INODE_WORDS, ICACHE_BUCKET_WORDS, INODE_POOL_WORDS, INODE_LRU_WORDS } from '../src/vfs/inode.ts';
import { MOUNT_WORDS, MOUNT_TABLE_WORDS } from '../src/vfs/mount.ts';
import { PAGE_BUCKET_WORDS } from '../src/vfs/pagecache.ts';
import { Worker } from 'node:worker_threads';
import { CTR } from '../src/fs/erofs/counters.ts';
import { LOCK_CLASS, PROT, SITE } from '../src/fs/erofs/locks.ts';
import { POINT } from '../src/fs/erofs/points.ts';
import { numbering, type Numbering } from './helpers/numbering.ts';

const mmSource = (name: string): string =>
  readFileSync(fileURLToPath(new URL(`../src/mm/${name}`, import.meta.url)), 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/\/\/.*$/gm, '');
// What a module of mm/ must not name: the structures of the layers above it.
const UPPER =
  /inode|mount|bucket|pcluster|erofs|policy|inject|debug|ishare|i_lock|icache|dedup|backing|processing|unmount|fadvise|readahead|superblock|igrab|iget|zdata|page.?index/gi;

test('mm/arena.ts names no inode, mount, page index or filesystem structure (comments aside)', (t) => {
  const found = mmSource('arena.ts').match(/inode|mount|bucket|pcluster|erofs|policy|inject|debug/gi) ?? [];
  t.deepEqual(found, []);
});

test('mm/counters.ts, lockstat.ts, lockdep.ts and points.ts name no structure above mm (each layer declares its own)', (t) => {
  for (const f of ['counters.ts', 'lockstat.ts', 'lockdep.ts', 'points.ts'])
    t.deepEqual(mmSource(f).match(UPPER) ?? [], [], f);
  // What the layers above declared is there, under the names the reports have always printed.
  const n = numbering();
  for (const c of ['FILE_PAGES', 'UNMOUNT_SWEEP_BUSY', 'ISHARE_FILLED', 'Z_PCLUSTER_WAITS', 'LOCK_WAITS'])
    t.true(n.counters.includes(c), c);
  t.deepEqual(Object.keys(n.windows).sort(), [
    'fadvisePageBusy',
    'igetWaitFreeing',
    'igrabRefusedFreeing',
    'pageLockWait',
    'pageLookupSeqRetry',
    'pageNextFrameMiss',
    'pageRefRefusedAtZero',
    'pclusterAttach',
    'pclusterWait',
    'processingRejoin',
    'realInodeRetry',
    'reclaimPageBusy',
    'staleMappingNoInode',
    'staleMappingRead',
    'unmountBusyInodes',
  ]);
  t.is(n.lockClasses[LOCK_CLASS.INODE], 'i_lock');
  t.is(n.lockClasses[LOCK_CLASS.ISHARE], 'ishare');
  t.is(n.counters[CTR.UNMOUNT_SWEEP_BUSY], 'UNMOUNT_SWEEP_BUSY');
  t.regex(n.protectedStructures[PROT.BACKING_LIST], /backing list/);
  t.is(n.sites[SITE.REAL_INODE], 'realInode');
  t.is(n.points[POINT.BEFORE_IGRAB], 'BEFORE_IGRAB');
  t.is(n.points[POINT.NONE], 'NONE');
  // Every number handed out once: no two declarations share a counter word, a class, a structure, a site.
  for (const [what, names] of Object.entries({
    counters: n.counters,
    lockClasses: n.lockClasses,
    sites: n.sites,
    points: n.points,
  }))
    t.is(new Set(names).size, names.length, what);
});

test('a thread that loads the layers from another entry numbers their declarations alike', async (t) => {
  const theirs = await new Promise<Numbering>((resolve, reject) => {
    const w = new Worker(new URL('./helpers/numbering-worker.mjs', import.meta.url));
    w.once('message', resolve);
    w.once('error', reject);
  });
  const ours = numbering();
  t.deepEqual(theirs.counters, ours.counters);
  t.deepEqual(theirs.windows, ours.windows);
  t.deepEqual(theirs.lockClasses, ours.lockClasses);
  t.deepEqual(theirs.protectedStructures, ours.protectedStructures);
  t.deepEqual(theirs.sites, ours.sites);
  t.deepEqual(theirs.points, ours.points);
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
