// IPUT_FAST_RACY: iput's lock-free drop tests "not the last reference" and takes the reference off as two
// separate steps (a load, then a subtraction) instead of one compare-and-swap. Two threads dropping the
// last two references both read 2, both subtract, and the count reaches 0 with nobody doing the last
// reference's work (the LRU or eviction): the inode leaks, unused and unevictable by its last put.
// Not in the stress harness's `--inject` list: its window is the IPUT_FAST point, which
// test/icache-fastpath.test.ts widens on every pass; the test's threads install it through the step table.
import { inodeSteps } from '../../vfs/inode.ts';
import { pointsOn, point } from '../../mm/points.ts';
import { POINT } from '../../vfs/points.ts';
import type { PlantedBug } from './types.ts';

export const IPUT_FAST_RACY: PlantedBug = {
  category: 'race',
  description: "iput's lock-free drop: load i_count, then subtract (not one compare-and-swap)",
  install(): void {
    inodeSteps.putUnlessLast = (i32: Int32Array, w: number): boolean => {
      if (Atomics.load(i32, w) <= 1) return false;
      if (pointsOn) point(POINT.IPUT_FAST);
      Atomics.sub(i32, w, 1);
      return true;
    };
  },
};
