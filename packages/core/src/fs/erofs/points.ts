// The filesystem's named race-window points, declared after vfs's (this module imports vfs/points.ts, so
// every thread numbers them alike): the real-inode pick, the shared inode's lists, the data path.
// `POINT` here is every layer's.
import { declarePoints } from '../../mm/points.ts';
import { POINT as VFS_POINT } from '../../vfs/points.ts';

export const POINT = {
  ...VFS_POINT,
  ...declarePoints([
    'BEFORE_IGRAB', // realInode: about to igrab a candidate backing inode
    'AFTER_REALINODE', // a real inode was picked, mapping not yet done
    'READ_BEGIN_LOCKED', // readBegin: holding the shared lock, before list insertion
    'BEFORE_DEVICE_READ',
    'BEFORE_PAGE_UNLOCK', // page filled, not yet unlocked
    'EVICT_BACKING', // eviction: detaching from the backing list
    'READ_END_LOCKED',
    'ISHARE_FILL', // fill: joining a shared inode
    'IOMAP_END',
  ]),
} as const;
