// REALINODE_EVICTING: mainline's erofs_real_inode taking a candidate that is being evicted — its state is
// tested, then a reference taken, with nothing holding eviction off in between.
import { ishareSteps } from '../../fs/erofs/ishare.ts';
import { inodeState, __iget, I_FREEING } from '../../vfs/inode.ts';
import { pointsOn, point } from '../../mm/points.ts';
import { POINT } from '../../fs/erofs/points.ts';
import type { PlantedBug } from './types.ts';

export const REALINODE_EVICTING: PlantedBug = {
  category: 'race',
  description:
    "mainline's erofs_real_inode picking an inode that is being evicted: the candidate's state is tested, then a reference taken, without i_lock across both — an eviction deciding in between is missed",
  install(): void {
    ishareSteps.grab = (a, vi) => {
      if (inodeState(a, vi) & I_FREEING) return false;
      if (pointsOn) point(POINT.BEFORE_IGRAB);
      __iget(a, vi);
      return true;
    };
  },
};
