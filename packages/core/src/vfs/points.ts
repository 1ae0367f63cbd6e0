// vfs's named race-window points (mm/points.ts declarePoints): the page cache and inode eviction.
// `POINT` here is mm's and vfs's; fs/erofs/points.ts adds the filesystem's.
import { POINT as MM_POINT, declarePoints } from '../mm/points.ts';

export const POINT = {
  ...MM_POINT,
  ...declarePoints([
    'AFTER_FIND_PAGE', // filemapRead found a page, before checking uptodate
    'UNMOUNT',
    'PAGE_UNINDEX', // a page leaving the page index: its bucket's sequence is odd (lockless lookups retry)
    'EVICT_FREEING', // eviction begun (I_FREEING), inode still hashed: iget waits, igrab refuses
    'IPUT_FAST', // iput's lock-free drop read i_count > 1 and is about to take one off it
    'IGRAB_FAST', // igrab's lock-free grab read i_count >= 1 and is about to add one to it
  ]),
} as const;
