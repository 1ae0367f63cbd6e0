// Cache control from outside the read path (fs/drop_caches.c and friends): dropping, evicting and
// squeezing memory are what experiments and stress use to force refills and reclaim.
import type { Kernel } from './kernel.ts';
import type { Arena } from '../mm/arena.ts';
import { pruneIcache, inodeSlots, inodeSlotsRewind } from './inode.ts';
import { shrinkPageLru } from './reclaim.ts';
import { frameAllocRewind } from '../mm/pagepool.ts';

/**
 * echo 3 > /proc/sys/vm/drop_caches: drop clean unpinned pages, then unused inodes; the next
 * allocations take the freed frames and inode slots lowest first (frameAllocRewind, inodeSlotsRewind).
 */
export function dropCaches(k: Kernel): void {
  const a = k.a;
  for (let round = 0; round < 3; round++) {
    shrinkPageLru(a, a.nframes, -1, true);
    pruneIcache(a, inodeSlots(a), k.ops);
  }
  frameAllocRewind(a);
  inodeSlotsRewind(a);
}

/** Evict up to n unused inodes (and their pages) from the cold end of the inode LRU. */
export function evictInodes(k: Kernel, n: number): number {
  return pruneIcache(k.a, n, k.ops);
}

/** Shrink (or restore) the frames the allocator may use: memory-pressure chaos. */
export function setPoolLimit(a: Arena, frames: number): void {
  a.frameLimit = frames;
}
