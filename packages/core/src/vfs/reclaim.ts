// Memory pressure (mm/vmscan.c's shrink_page_list, reduced): take cold pages off the LRU and drop the
// clean, unpinned ones from the page cache; when that frees nothing, evict unused inodes (their pages go
// with them). A page allocation fails only when every frame is pinned.
import type { Arena } from '../mm/arena.ts';
import { NIL } from '../mm/list.ts';
import { ctrAdd, ctrInc, CTR } from './counters.ts';
import { frameAlloc, lruIsolate, lruPutback, putPage, lruCount, lruvecCount } from '../mm/pagepool.ts';
import { removeIfUnused, lockIndexedFrame, unlockIndexedFrame, syncPageIndex } from './pagecache.ts';
import { memcgScanned, memcgSubtree, setMemcgPageOps, NR_MEMCG } from '../mm/memcontrol.ts';
import { pruneIcache, type InodeOps } from './inode.ts';
import { VfsError } from './errno.ts';

const BATCH = 32;
// One scratch batch per thread (module instances are per isolate); reclaim never re-enters itself.
const batch = new Int32Array(BATCH);

// The cgroups of one memcg reclaim's subtree (per thread; reclaim never re-enters itself).
const subtree = new Int32Array(NR_MEMCG);

/**
 * Reclaim up to `nr` page-cache frames (whole folios: a few more when the last one is large): from every
 * cgroup's LRU (global reclaim, `memcg` < 0) or from the LRUs of cgroup `memcg`'s subtree
 * (try_to_free_mem_cgroup_pages). Returns the number freed.
 * `drop`: drop_caches, not reclaim — as the kernel's invalidate_mapping_pages, it leaves no shadow entry
 * (a later read is no refault) and counts no pgscan/pgsteal.
 */
export function shrinkPageLru(a: Arena, nr: number, memcg = -1, drop = false): number {
  let freed = 0;
  const nvec = memcg < 0 ? 0 : memcgSubtree(a, memcg, subtree);
  let pages = 0;
  if (memcg < 0) pages = lruCount(a);
  else for (let i = 0; i < nvec; i++) pages += lruvecCount(a, subtree[i]);
  let rounds = Math.ceil(pages / BATCH) + 2 + nvec;
  let vi = 0;
  while (freed < nr && rounds-- > 0) {
    let n: number;
    if (memcg < 0) n = lruIsolate(a, batch, Math.min(BATCH, nr - freed));
    else {
      n = 0;
      for (let k = 0; k < nvec && n === 0; k++, vi++)
        n = lruIsolate(a, batch, Math.min(BATCH, nr - freed), subtree[vi % nvec]);
    }
    if (n === 0) break;
    for (let i = 0; i < n; i++) {
      const f = batch[i]; // a folio's head
      if (!drop) memcgScanned(a, f);
      const removed = removeIfUnused(a, f, !drop);
      if (removed > 0) {
        putPage(a, f); // the isolation reference: last one, frees the folio
        freed += removed;
      } else {
        lruPutback(a, f); // in use: back on the LRU (unless it is leaving the cache)
        putPage(a, f);
      }
    }
  }
  if (freed) ctrAdd(a.i32, CTR.RECLAIMED, freed);
  return freed;
}

setMemcgPageOps({
  reclaim: (a, memcg, nr) => shrinkPageLru(a, nr, memcg),
  lockIndexed: lockIndexedFrame,
  unlockIndexed: unlockIndexedFrame,
  syncIndex: syncPageIndex,
});

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
