// Sharing accounting. Per mount: of the pages read from an image's device, how many filled a shared
// inode's mapping (the figure `ishare read` and the experiments report per image), one word per mount
// slot in an arena region this module declares ('erofs.sharedPages'). System-wide: the pages in shared
// inodes' mappings (the SHARED_FILE_PAGES gauge), kept through the page cache's mapping-pages hook.
// vfs/ counts device reads and cached pages without knowing about sharing.
import { declareRegion, type Arena } from '../../mm/arena.ts';
import { ctrAdd, CTR } from './counters.ts';
import { isAnonInode } from '../../vfs/inode.ts';
import { setMappingPagesHook } from '../../vfs/pagecache.ts';

// Shared inodes live on the anonymous superblock (ishare.ts allocates them on ANON_MOUNT).
setMappingPagesHook((a, mapping, delta) => {
  if (!isAnonInode(a, mapping)) return;
  ctrAdd(a.i32, CTR.SHARED_FILE_PAGES, delta);
});

declareRegion('erofs.sharedPages', (c) => c.nmounts);

// The region's base in the last arena asked about (resolved once per arena, not per read).
let baseArena: Arena | undefined;
let base = 0;
function word(a: Arena, m: number): number {
  if (a !== baseArena) {
    base = a.region('erofs.sharedPages');
    baseArena = a;
  }
  return base + m;
}

/** Count `pages` read from mount `m`'s device into a shared inode's mapping. */
export function ishareCountDevicePages(a: Arena, m: number, pages: number): void {
  Atomics.add(a.i32, word(a, m), pages);
}

/** Pages mount `m`'s device filled into shared inodes' mappings since mount or the last reset. */
export function ishareMountSharedPages(a: Arena, m: number): number {
  return Atomics.load(a.i32, word(a, m)) >>> 0;
}

/** Zero mount `m`'s figure (at mount, and when the statistics are reset). */
export function ishareResetMount(a: Arena, m: number): void {
  Atomics.store(a.i32, word(a, m), 0);
}
