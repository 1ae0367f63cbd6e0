// vfs's counters and race windows, declared in mm's counters region (mm/counters.ts declareCounters):
// the page cache, the inode cache, reclaim and unmount. `CTR` here is mm's and vfs's; fs/erofs/counters.ts
// adds the filesystem's.
import { CTR as MM_CTR, declareCounters, declareWindow } from '../mm/counters.ts';

export { ctrAdd, ctrInc, ctrDec, ctrRead, ctrReadSigned } from '../mm/counters.ts';

const VFS_CTR = declareCounters({
  FILE_PAGES: 'gauge', // pages currently indexed in some mapping (NR_FILE_PAGES)
  HITS: 'event', // page found uptodate in the cache
  MISSES: 'event', // page not in the cache when asked
  RA_INFLIGHT: 'gauge', // frames allocated by readahead whose read has not completed
  RECLAIMED: 'event', // pages reclaimed under memory pressure
  INODES_EVICTED: 'event',
  ENOMEM: 'event',
  INODES_ALLOCATED: 'event',
  UNMOUNT_SWEEP_BUSY: 'event', // unmount's sweeps that found inodes still referenced (a reader mapping through them)
  // Race windows: each counts the times a lockless path or a retry met the race it exists for.
  PAGE_SEQ_RETRY: 'event', // lockless page lookup: bucket sequence odd or moved under the walk → locked lookup
  PAGE_HINT_MISS: 'event', // next-frame guess: referenced a frame that was not (or no longer) the page, put it back
  IGRAB_REFUSED: 'event', // igrab refused an inode being freed (I_FREEING)
  IGET_FREEING: 'event', // iget found its inode being freed and waited for the eviction to finish
  FADVISE_BUSY: 'event', // invalidate_mapping_pages kept a page a reader holds or is filling
  RECLAIM_BUSY: 'event', // reclaim kept an isolated page a reader holds or is filling
});
export const CTR = { ...MM_CTR, ...VFS_CTR } as const;

declareWindow('pageLookupSeqRetry', CTR.PAGE_SEQ_RETRY);
declareWindow('pageNextFrameMiss', CTR.PAGE_HINT_MISS);
declareWindow('igrabRefusedFreeing', CTR.IGRAB_REFUSED);
declareWindow('igetWaitFreeing', CTR.IGET_FREEING);
declareWindow('unmountBusyInodes', CTR.UNMOUNT_SWEEP_BUSY);
declareWindow('fadvisePageBusy', CTR.FADVISE_BUSY);
declareWindow('reclaimPageBusy', CTR.RECLAIM_BUSY);
