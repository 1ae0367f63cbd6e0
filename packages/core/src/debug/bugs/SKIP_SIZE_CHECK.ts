// SKIP_SIZE_CHECK: joining a shared inode does not compare sizes (same fingerprint, different size).
import { ishareSteps } from '../../fs/erofs/ishare.ts';
import type { PlantedBug } from './types.ts';

export const SKIP_SIZE_CHECK: PlantedBug = {
  category: 'logic',
  description: 'skip the size check when joining a shared inode (same fingerprint, different size)',
  install(): void {
    ishareSteps.sameSize = () => true;
  },
};
