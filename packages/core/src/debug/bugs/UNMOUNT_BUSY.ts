// UNMOUNT_BUSY: unmount does what evict_inodes does with busy inodes — skips them — and the superblock
// goes away under whoever holds them (igrab pins the inode, not the superblock).
import { superSteps, evictInodesOnce } from '../../vfs/super.ts';
import type { PlantedBug } from './types.ts';

export const UNMOUNT_BUSY: PlantedBug = {
  category: 'race',
  description:
    "unmount an image while another image's reader maps a shared page through one of its inodes: busy inodes are skipped (igrab pins the inode, not the superblock) and the device is closed under the read",
  install(): void {
    superSteps.evictSuperInodes = (k, m) => {
      evictInodesOnce(k, m);
    };
  },
};
