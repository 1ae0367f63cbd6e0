// Memory pressure (mm/vmscan.c's shrink_page_list, reduced): take cold pages off the LRU and drop the
// clean, unpinned ones from the page cache; when that frees nothing, evict unused inodes (their pages go
// with them). A page allocation fails only when every frame is pinned.
import type { Arena } from '../mm/arena.ts';
import { NIL } from '../mm/list.ts';
import { ctrAdd, ctrInc, CTR } from '../mm/counters.ts';
import { frameAlloc, lruIsolate, lruAdd, putPage, pageMapping, lruCount } from '../mm/pagepool.ts';
import { removeIfUnused } from './pagecache.ts';
import { pruneIcache, type InodeOps } from './inode.ts';
import { VfsError } from './errno.ts';

const BATCH = 32;
// One scratch batch per thread (module instances are per isolate); reclaim never re-enters itself.
const batch = new Int32Array(BATCH);

/** Reclaim up to `nr` page-cache frames. Returns the number freed. */
export function shrinkPageLru(a: Arena, nr: number): number {
  let freed = 0;
  let rounds = Math.ceil(lruCount(a) / BATCH) + 2;
  while (freed < nr && rounds-- > 0) {
    const n = lruIsolate(a, batch, Math.min(BATCH, nr - freed));
    if (n === 0) break;
    for (let i = 0; i < n; i++) {
      const f = batch[i];
      if (removeIfUnused(a, f)) {
        putPage(a, f); // the isolation reference: last one, frees the frame
        freed++;
      } else {
        if (pageMapping(a, f) !== NIL) lruAdd(a, f); // in use: back on the LRU
        putPage(a, f);
      }
    }
  }
  if (freed) ctrAdd(a.i32, CTR.RECLAIMED, freed);
  return freed;
}

/** How long an owed page waits for frames in flight (other readers' locked pages) before ENOMEM. */
const ENOMEM_AFTER_MS = 2000;
const nap = new Int32Array(new SharedArrayBuffer(4));

/**
 * Allocate a frame, reclaiming under pressure. Throws ENOMEM when every frame stays pinned for
 * ENOMEM_AFTER_MS — or, with `opportunistic` (readahead beyond the page asked for), returns NIL at once.
 */
export function allocPage(a: Arena, ops: InodeOps, opportunistic = false): number {
  let deadline = 0;
  for (;;) {
    const f = frameAlloc(a);
    if (f !== NIL) return f;
    let got = shrinkPageLru(a, BATCH);
    if (got === 0) got = pruneIcache(a, 8, ops);
    if (got > 0) continue;
    if (opportunistic) return NIL;
    // Frames locked by other readers' reads in flight come back when those reads end: wait for them,
    // for a while; frames pinned for longer than that mean the pool really is exhausted.
    const now = Date.now();
    if (deadline === 0) deadline = now + ENOMEM_AFTER_MS;
    else if (now > deadline) break;
    Atomics.wait(nap, 0, 0, 1);
  }
  ctrInc(a.i32, CTR.ENOMEM);
  throw new VfsError('ENOMEM', `page pool exhausted: all ${a.frameLimit} frames are pinned`);
}
