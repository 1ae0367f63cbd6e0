// The filesystem's counters and race windows, declared in mm's counters region after vfs's (this module
// imports vfs/counters.ts, so every thread numbers them alike): device reads, readahead, inode page-cache
// sharing, the real-inode pick, compressed pclusters. `CTR` here is every layer's.
import { declareCounters, declareWindow } from '../../mm/counters.ts';
import { CTR as VFS_CTR } from '../../vfs/counters.ts';

export { ctrAdd, ctrInc, ctrDec, ctrRead, ctrReadSigned } from '../../mm/counters.ts';

const EROFS_CTR = declareCounters({
  DEVICE_READS: 'event', // device read calls (one per contiguous run)
  DEVICE_PAGES: 'event', // pages filled from the device
  READAHEAD_CALLS: 'event',
  READFOLIO_CALLS: 'event',
  ISHARE_FILLED: 'event', // inodes attached to a shared inode
  ISHARE_SIZE_MISMATCH: 'event', // fingerprint matched but sizes differed: not shared
  ISHARE_CREATED: 'event', // shared inodes created
  REALINODE_PROCESSING: 'event', // real inode picked from the processing list
  REALINODE_BACKING: 'event', // real inode picked from the backing list
  REALINODE_OWN: 'event', // of those picks, the reader's own backing inode (its open file's): no reference taken
  REALINODE_RETRY: 'event', // every igrab failed / list empty: retried
  REALINODE_EIO: 'event', // gave up: I/O error
  HOLE_PAGES: 'event', // pages zero-filled for holes
  SHARED_INODES_EVICTED: 'event',
  READ_ERRORS: 'event',
  ISHARE_VERIFIED: 'event', // verify mounts: content proven to match the fingerprint before joining
  ISHARE_VERIFY_REFUSED: 'event', // verify mounts: content does not match its fingerprint: not shared
  ISHARE_DATAPATH_MISMATCH: 'event', // fingerprint matched but one file is compressed and the other not
  Z_PCLUSTERS: 'event', // compressed pclusters read and decompressed
  Z_PCLUSTER_WAITS: 'event', // a reader found the pcluster it needed being decompressed by another thread
  Z_PCLUSTER_SKIPPED: 'event', // attached (pclusterAttach): after waiting, every page it needed had been filled by that decode: not decoded again
  ISHARE_BAD_FINGERPRINT: 'event', // fingerprint xattr of the wrong length or prefix: not shared
  PROC_REJOIN: 'event', // read_begin found its inode already on the processing list (another read in flight)
  STALE_MAP_READ: 'event', // a read through a mapping that outlived its file (it pins only the shared inode)
  Z_DECODED_SECTORS: 'event', // decoder output of the pclusters decoded, in 512-byte units (extents rounded up)
  Z_TAIL_REUSED: 'event', // a page an extent shares with the next one, filled from the thread's kept tail of that extent's last decode: not decoded again
});
export const CTR = { ...VFS_CTR, ...EROFS_CTR } as const;
export type CounterName = keyof typeof CTR;

declareWindow('realInodeRetry', CTR.REALINODE_RETRY);
declareWindow('staleMappingRead', CTR.STALE_MAP_READ);
declareWindow('staleMappingNoInode', CTR.REALINODE_EIO);
declareWindow('processingRejoin', CTR.PROC_REJOIN);
declareWindow('pclusterWait', CTR.Z_PCLUSTER_WAITS);
declareWindow('pclusterAttach', CTR.Z_PCLUSTER_SKIPPED);
