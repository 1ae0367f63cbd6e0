// MEMCG_COMMIT_LATE: a new page is made visible in the page cache before its memory cgroup is set
// (commit_charge after the xarray store, outside the bucket lock) — a removal of that cgroup in between
// misses the page, which then stays charged to the removed cgroup.
import { spinLock, spinUnlock } from '../../mm/spinlock.ts';
import { LOCK_CLASS } from '../../vfs/locks.ts';
import { NIL } from '../../mm/list.ts';
import { memcgCommitCharge } from '../../mm/memcontrol.ts';
import { pointsOn, point, POINT } from '../../mm/points.ts';
import { pagecacheSteps, bucketOf, bucketSlot, lookupLocked, publishPage } from '../../vfs/pagecache.ts';
import { inodeGen } from '../../vfs/inode.ts';
import type { Arena } from '../../mm/arena.ts';
import type { PlantedBug } from './types.ts';

function insertPageCommitLate(a: Arena, f: number, mapping: number, index: number, id: number): boolean {
  const i32 = a.i32;
  const b = bucketOf(a, mapping, index);
  spinLock(i32, b, LOCK_CLASS.PAGE_INDEX);
  if (lookupLocked(a, b, mapping, index) !== NIL) {
    spinUnlock(i32, b);
    return false;
  }
  publishPage(a, b, f, mapping, index);
  spinUnlock(i32, b);
  if (pointsOn) point(POINT.MEMCG_COMMIT);
  memcgCommitCharge(a, f, id, b, bucketSlot(a, b), mapping, index, inodeGen(a, mapping));
  return true;
}

export const MEMCG_COMMIT_LATE: PlantedBug = {
  category: 'race',
  description:
    'a page visible in the cache before its memory cgroup is set: the charge is committed after the page is published and the bucket lock dropped, so removing the cgroup in between (reparent, recharge) misses the page, which stays charged to the removed cgroup',
  install(): void {
    pagecacheSteps.insertPage = insertPageCommitLate;
  },
};
