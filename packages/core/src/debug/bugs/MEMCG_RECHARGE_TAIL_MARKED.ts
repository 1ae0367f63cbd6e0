// MEMCG_RECHARGE_TAIL_MARKED: a recharge takes over a folio's tail only if the tail already carries the
// recharge mark. memcgOffline marks a folio's pages one by one, so a reader that finds the head marked
// and a tail not yet moves the head alone; the tail stays charged to the removed cgroup, and once the
// head has moved no later reader of the tail can move it either (the head decides): one folio, two
// cgroups, for good.
import { memcgSteps, MEMCG_STEPS, pageRechargePending } from '../../mm/memcontrol.ts';
import type { Arena } from '../../mm/arena.ts';
import type { PlantedBug } from './types.ts';

function rechargeTailIfMarked(a: Arena, t: number, owner: number, to: number): number {
  return pageRechargePending(a, t) ? MEMCG_STEPS.rechargeTail(a, t, owner, to) : 0;
}

export const MEMCG_RECHARGE_TAIL_MARKED: PlantedBug = {
  category: 'race',
  description:
    "recharge racing a cgroup's removal: the reader that moves a folio's head takes only the tails already marked, so a tail memcgOffline has not marked yet stays charged to the removed cgroup while its folio sits on the reader's lruvec",
  install(): void {
    memcgSteps.rechargeTail = rechargeTailIfMarked;
  },
};
