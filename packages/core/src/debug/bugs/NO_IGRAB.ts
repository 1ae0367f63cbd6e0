// NO_IGRAB: realInode uses the candidate backing inode without igrab — a use-after-evict when the inode
// is evicted under the read.
import { ishareSteps } from '../../fs/erofs/ishare.ts';
import type { PlantedBug } from './types.ts';

export const NO_IGRAB: PlantedBug = {
  category: 'logic',
  description: 'use a backing inode without igrab (use-after-evict)',
  install(): void {
    ishareSteps.grab = (_a, _vi, out) => {
      out.grabbed = false;
      return true;
    };
  },
};
