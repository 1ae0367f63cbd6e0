// ISHARE_EVICT_MAPPED: the last backing inode's free tears the shared inode down with it, as if the
// backing inodes held its only references.
import { ishareSteps } from '../../fs/erofs/ishare.ts';
import { iput, iputEvictAll } from '../../vfs/inode.ts';
import type { PlantedBug } from './types.ts';

export const ISHARE_EVICT_MAPPED: PlantedBug = {
  category: 'race',
  description:
    'eviction of the shared inode during readahead: when its last backing inode is freed, the shared inode is evicted with it, as if the backing inodes held its only references — a mapping that outlived its file (it pins only the shared inode) may be reading ahead through it, adding pages to an inode being torn down',
  install(): void {
    ishareSteps.putShared = (a, dedup, last, dedupOps) => {
      if (last) iputEvictAll(a, dedup, dedupOps);
      else iput(a, dedup, dedupOps);
    };
  },
};
