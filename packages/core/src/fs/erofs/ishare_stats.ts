// Sharing accounting. Per mount: of the pages read from an image's device, how many filled a shared
// inode's mapping (the figure `ishare read` and the experiments report per image), one word per mount
// slot in an arena region this module declares ('erofs.sharedPages'). System-wide: the pages in shared
// inodes' mappings ('erofs.sharedFilePages'), kept through the page cache's mapping-pages hook.
// vfs/ counts device reads and cached pages without knowing about sharing.
import { declareRegion, type Arena } from '../../mm/arena.ts';
import { isAnonInode } from '../../vfs/inode.ts';
import { setMappingPagesHook } from '../../vfs/pagecache.ts';
import { threadId } from 'node:worker_threads';

// Shared inodes live on the anonymous superblock (ishare.ts allocates them on ANON_MOUNT).
setMappingPagesHook((a, mapping, delta) => {
  if (!isAnonInode(a, mapping)) return;
  region(a);
  Atomics.add(a.i32, mineFile, delta);
});

// One block of mount words per thread slot (a thread's worker_threads id modulo SLOTS), each block padded
// to a cache line, summed when read — as the kernel keeps such statistics per CPU. A single word per
// mount was written by every reader at every device read of a shared file, so two workers filling
// different files of one image (or of images whose words share a line) bounced that line between their
// cores; the unshared path has nothing like it.
const SLOTS = 16;
const stride = (nmounts: number): number => (nmounts + 15) & ~15;
declareRegion('erofs.sharedPages', (c) => SLOTS * stride(c.nmounts));
// The pages in shared inodes' mappings, the same way: one word per thread slot, each on a cache line of
// its own (NR_FILE_PAGES's companion, a per-CPU vmstat in the kernel). As a shared gauge it was a second
// word every reader wrote at each readahead run of a shared file, on a line of its own beside the page
// cache's. A slot goes below zero when another thread's pages are removed; only the sum means anything.
const LINE = 16;
declareRegion('erofs.sharedFilePages', () => SLOTS * LINE);

// The region's base in the last arena asked about (resolved once per arena, not per read), and this
// thread's block in it.
let baseArena: Arena | undefined;
let base = 0;
let mine = 0;
let fileBase = 0;
let mineFile = 0;
function region(a: Arena): number {
  if (a !== baseArena) {
    base = a.region('erofs.sharedPages');
    mine = base + (threadId % SLOTS) * stride(a.counts.nmounts);
    fileBase = a.region('erofs.sharedFilePages');
    mineFile = fileBase + (threadId % SLOTS) * LINE;
    baseArena = a;
  }
  return base;
}

/**
 * Pages indexed in shared inodes' mappings: the sum of the thread slots. Exact whenever no page is
 * joining or leaving one (the invariants compare it at quiesce); while some are, a sum read across
 * slots may be off by the pages in motion, as the shared gauge's reader could be.
 */
export function ishareSharedFilePages(a: Arena): number {
  region(a);
  // Summed modulo 2^32, as the slots wrap: one thread's slot only grows (it fills) while another's
  // only shrinks (it drops or reclaims), so a slot may wrap long before the total would.
  let n = 0;
  for (let s = 0; s < SLOTS; s++) n = (n + Atomics.load(a.i32, fileBase + s * LINE)) | 0;
  return n;
}

/** Count `pages` read from mount `m`'s device into a shared inode's mapping (in this thread's slot). */
export function ishareCountDevicePages(a: Arena, m: number, pages: number): void {
  region(a);
  Atomics.add(a.i32, mine + m, pages);
}

/** Pages mount `m`'s device filled into shared inodes' mappings since mount or the last reset. */
export function ishareMountSharedPages(a: Arena, m: number): number {
  const b = region(a) + m;
  const st = stride(a.counts.nmounts);
  let n = 0;
  for (let s = 0; s < SLOTS; s++) n += Atomics.load(a.i32, b + s * st) >>> 0;
  return n;
}

/** Zero mount `m`'s figure (at mount, and when the statistics are reset). */
export function ishareResetMount(a: Arena, m: number): void {
  const b = region(a) + m;
  const st = stride(a.counts.nmounts);
  for (let s = 0; s < SLOTS; s++) Atomics.store(a.i32, b + s * st, 0);
}
