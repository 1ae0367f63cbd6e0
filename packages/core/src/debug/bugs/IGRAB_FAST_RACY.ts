// IGRAB_FAST_RACY: igrab's lock-free grab tests "already referenced" and adds the reference as two
// separate steps (a load, then an addition) instead of one compare-and-swap. When the last holder drops
// its reference in between, the eviction decides on i_count 0 and frees the inode, and the grab then
// raises the count of a freed slot and reports success: a reference to an inode that is gone.
// Not in the stress harness's `--inject` list: its window is the IGRAB_FAST point, which
// test/icache-fastpath.test.ts widens on every pass; the test's threads install it through the step table.
import { inodeSteps } from '../../vfs/inode.ts';
import { pointsOn, point } from '../../mm/points.ts';
import { POINT } from '../../vfs/points.ts';
import type { PlantedBug } from './types.ts';

export const IGRAB_FAST_RACY: PlantedBug = {
  category: 'race',
  description: "igrab's lock-free grab: load i_count, then add (not one compare-and-swap)",
  install(): void {
    inodeSteps.grabUnlessZero = (i32: Int32Array, w: number): boolean => {
      if (Atomics.load(i32, w) < 1) return false;
      if (pointsOn) point(POINT.IGRAB_FAST);
      Atomics.add(i32, w, 1);
      return true;
    };
  },
};
