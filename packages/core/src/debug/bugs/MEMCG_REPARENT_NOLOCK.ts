// MEMCG_REPARENT_NOLOCK: reparenting moves a page's charge without the page's index bucket lock, so an
// uncharge (reclaim evicting the page) can run between the move's check and the move itself.
import { F_MAPPING, F_MEMCG, FRAME_WORDS } from '../../mm/pagepool.ts';
import { NIL } from '../../mm/list.ts';
import { memcgSteps, memcgMovePage } from '../../mm/memcontrol.ts';
import { pointsOn, point, POINT } from '../../mm/points.ts';
import type { Arena } from '../../mm/arena.ts';
import type { PlantedBug } from './types.ts';

function reparentFrameNolock(a: Arena, f: number, from: number, to: number): void {
  const r = a.frames + f * FRAME_WORDS;
  if (a.i32[r + F_MAPPING] === NIL || a.i32[r + F_MEMCG] !== from) return;
  if (pointsOn) point(POINT.MEMCG_MOVE);
  memcgMovePage(a, f, from, to, -1);
}

export const MEMCG_REPARENT_NOLOCK: PlantedBug = {
  category: 'race',
  description:
    "uncharge racing with reparenting: a removed cgroup's pages move to its parent without the page's index bucket lock, so a page reclaim evicts meanwhile is uncharged from the child and then moved — charged twice off the child, once onto the parent, for a page no longer cached",
  install(): void {
    memcgSteps.reparentFrame = reparentFrameNolock;
  },
};
