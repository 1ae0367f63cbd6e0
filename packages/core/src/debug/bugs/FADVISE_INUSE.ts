// FADVISE_INUSE: invalidate_mapping_pages drops a page whoever holds it — a reader filling (locked) or
// copying (referenced) it.
import { pagecacheSteps } from '../../vfs/pagecache.ts';
import type { PlantedBug } from './types.ts';

export const FADVISE_INUSE: PlantedBug = {
  category: 'race',
  description:
    "one container's fadvise(DONTNEED) dropping another's pages: invalidate_mapping_pages on the shared inode drops a page without trylocking it or testing its references, so a page another image's reader is still filling (locked) or copying (referenced) leaves the cache and loses the cache's reference under it",
  install(): void {
    pagecacheSteps.pageInUse = () => false;
  },
};
