// The filesystem's lock classes, lock-protected structures and use sites, declared after vfs's (this
// module imports vfs/locks.ts, so every thread numbers them alike): inode page-cache sharing's shared
// inode lock and its lists, the pcluster locks. `LOCK_CLASS`, `PROT` and `SITE` here are every layer's.
import { declareLockClasses } from '../../mm/lockstat.ts';
import { declareProtected, declareSites } from '../../mm/lockdep.ts';
import { LOCK_CLASS as VFS_LOCK_CLASS, PROT as VFS_PROT, SITE as VFS_SITE } from '../../vfs/locks.ts';

export const LOCK_CLASS = {
  ...VFS_LOCK_CLASS,
  ...declareLockClasses({
    ISHARE: 'ishare', // shared inode's vi->lock (backing + processing lists)
    PCLUSTER: 'pcluster', // a compressed pcluster being read and decompressed (zpcluster.ts)
  }),
} as const;

const SHARED_LOCK = "the shared inode's vi->lock";
const ITS_SHARED_LOCK = "its shared inode's vi->lock";
export const PROT = {
  ...VFS_PROT,
  ...declareProtected({
    BACKING_LIST: {
      name: 'backing list (and its length) of a shared inode',
      lockClass: LOCK_CLASS.ISHARE,
      lock: SHARED_LOCK,
    },
    PROCESSING_LIST: { name: 'processing list of a shared inode', lockClass: LOCK_CLASS.ISHARE, lock: SHARED_LOCK },
    PROCESSING_COUNT: {
      name: 'processingCount of a backing inode',
      lockClass: LOCK_CLASS.ISHARE,
      lock: ITS_SHARED_LOCK,
    },
    // Fields of one record, each watched on its own word.
    BACKING_COUNT: {
      name: 'backing count (nbacking) of a shared inode',
      lockClass: LOCK_CLASS.ISHARE,
      lock: SHARED_LOCK,
    },
    BACKING_LINK: { name: 'backing_link of a backing inode', lockClass: LOCK_CLASS.ISHARE, lock: ITS_SHARED_LOCK },
    PROCESSING_LINK: {
      name: 'processing_link of a backing inode',
      lockClass: LOCK_CLASS.ISHARE,
      lock: ITS_SHARED_LOCK,
    },
  }),
} as const;

export const SITE = {
  ...VFS_SITE,
  ...declareSites({
    ISHARE_FILL: 'ishareFillInode',
    ISHARE_FREE: 'ishareFreeInode',
    READ_BEGIN: 'readBegin',
    READ_END: 'readEnd',
    REAL_INODE: 'realInode',
    SHARED_VIEW: 'sharedInodeView',
  }),
} as const;
