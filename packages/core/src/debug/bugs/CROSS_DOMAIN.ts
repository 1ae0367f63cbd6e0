// CROSS_DOMAIN: the shared-inode key leaves the domain out, so files share across domain ids.
import { ishareSteps, ishareKeyOf } from '../../fs/erofs/ishare.ts';
import type { PlantedBug } from './types.ts';

export const CROSS_DOMAIN: PlantedBug = {
  category: 'logic',
  description: 'share inodes across different domain ids',
  install(): void {
    ishareSteps.key = (_domainId, fingerprintHex, verified) => ishareKeyOf('', fingerprintHex, verified);
  },
};
