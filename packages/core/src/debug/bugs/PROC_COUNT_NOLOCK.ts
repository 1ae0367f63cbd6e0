// PROC_COUNT_NOLOCK: erofs_read_begin/end change processingCount and the processing list without the
// shared inode's lock.
import { ishareSteps } from '../../fs/erofs/ishare.ts';
import type { PlantedBug } from './types.ts';

const nothing = (): void => undefined;

export const PROC_COUNT_NOLOCK: PlantedBug = {
  category: 'race',
  description: 'update processingCount and the processing list without the shared inode lock',
  install(): void {
    ishareSteps.processingLock = nothing;
    ishareSteps.processingUnlock = nothing;
  },
};
