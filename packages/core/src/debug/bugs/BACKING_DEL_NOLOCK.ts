// BACKING_DEL_NOLOCK: erofs_ishare_free_inode leaves the backing list without the shared inode's lock.
import { ishareSteps } from '../../fs/erofs/ishare.ts';
import type { PlantedBug } from './types.ts';

const nothing = (): void => undefined;

export const BACKING_DEL_NOLOCK: PlantedBug = {
  category: 'race',
  description: "remove an evicted inode from the backing list without the shared inode's lock",
  install(): void {
    ishareSteps.freeLock = nothing;
    ishareSteps.freeUnlock = nothing;
  },
};
