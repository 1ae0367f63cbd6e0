// NO_IPUT: iomapEnd forgets the iput of the real inode (a reference leak).
import { dataSteps } from '../../fs/erofs/data.ts';
import type { PlantedBug } from './types.ts';

export const NO_IPUT: PlantedBug = {
  category: 'logic',
  description: 'drop the iput of the real inode after mapping (reference leak)',
  install(): void {
    dataSteps.putReal = (): void => undefined;
  },
};
