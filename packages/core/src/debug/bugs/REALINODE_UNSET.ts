// REALINODE_UNSET: the seed's uninitialised realinode. When no igrab succeeds, whatever the context held
// from the previous mapping (released, maybe another file's inode) is used as if it had been picked.
import { dataSteps } from '../../fs/erofs/data.ts';
import type { PlantedBug } from './types.ts';

export const REALINODE_UNSET: PlantedBug = {
  category: 'race',
  description:
    "the seed's uninitialised realinode: when every backing inode of a shared inode is being evicted at once (a mapping that outlived its file reads through it), no igrab succeeds and the previous mapping's, already released, inode is used",
  install(): void {
    dataSteps.noneGrabbable = (ctx) => {
      ctx.grabbed = false;
      return ctx.real;
    };
  },
};
