// A test-only thread for packages/core/test/race-detector.test.ts: attached to the test's kernel, it
// either uses a page's LRU state the correct way (lruAdd/lruDel, under the LRU lock) or carries a fresh
// missing-lock access planted here — not through --inject — instrumented the way every use site is
// (lockdepAccess at the access), as KCSAN sees the accesses the compiler instrumented:
// - `plant-flag`: a non-atomic page-flag update (load, OR, store — __SetPageReferenced on a page others
//   can see) that writes the whole flags word back, stale PG_LRU included, without the LRU lock;
// - `plant-link`: a lockless "is it on the LRU?" look at the page's LRU links (list_empty without
//   lru_lock) while another thread relinks them.
import { parentPort, workerData } from 'node:worker_threads';
import { System } from '../../src/system.ts';
import { lockdepOn, lockdepAccess, PROT, SITE } from '../../src/mm/lockdep.ts';
import { frameWord, F_FLAGS, F_LRU_PREV, LRU_LOCK, PG_REFERENCED, lruAdd, lruDel } from '../../src/mm/pagepool.ts';
import { takeCheckFailure } from '../../src/mm/checkfail.ts';
import type { ArenaHandle } from '../../src/mm/arena.ts';

export type PlantMode = 'locked' | 'plant-flag' | 'plant-link';
export interface PlantData {
  handle: ArenaHandle;
  frame: number;
  mode: PlantMode;
  ms: number;
  stop: Int32Array; // set to 1 by the first thread that reports
}
export interface PlantResult {
  detector: string | null;
  message: string | null;
  iterations: number;
}

const d = workerData as PlantData;
const sys = System.attach(d.handle);
const a = sys.arena;
const i32 = a.i32;
const lock = a.lru + LRU_LOCK;
const flags = frameWord(a, d.frame, F_FLAGS);
const link = frameWord(a, d.frame, F_LRU_PREV);
const deadline = Date.now() + d.ms;
let iterations = 0;
let found: ReturnType<typeof takeCheckFailure>;
let sink = 0;
while (Atomics.load(d.stop, 0) === 0 && Date.now() < deadline) {
  for (let n = 0; n < 64; n++, iterations++) {
    if (d.mode === 'locked') {
      lruAdd(a, d.frame);
      lruDel(a, d.frame);
    } else if (d.mode === 'plant-flag') {
      if (lockdepOn) lockdepAccess(i32, lock, flags, PROT.PAGE_LRU_FLAG, SITE.LRU_ADD, d.frame, true);
      const v = i32[flags];
      i32[flags] = v | PG_REFERENCED;
    } else {
      if (lockdepOn) lockdepAccess(i32, lock, link, PROT.PAGE_LRU_LINK, SITE.LRU_DEL, d.frame, false);
      sink ^= i32[link];
    }
  }
  found = takeCheckFailure();
  if (found) {
    Atomics.store(d.stop, 0, 1);
    break;
  }
}
sys.detach();
const result: PlantResult = {
  detector: found?.detector ?? null,
  message: found?.message ?? null,
  iterations: iterations + (sink & 0),
};
parentPort?.postMessage(result);
