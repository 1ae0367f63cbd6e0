// vfs's lock classes, lock-protected structures and their use sites, declared with mm's lockdep
// (mm/lockstat.ts declareLockClasses, mm/lockdep.ts declareProtected / declareSites): the page index,
// the inode cache, the mount table. `LOCK_CLASS`, `PROT` and `SITE` here are mm's and vfs's;
// fs/erofs/locks.ts adds the filesystem's.
import { LOCK_CLASS as MM_LOCK_CLASS, declareLockClasses } from '../mm/lockstat.ts';
import { PROT as MM_PROT, SITE as MM_SITE, declareProtected, declareSites } from '../mm/lockdep.ts';

export const LOCK_CLASS = {
  ...MM_LOCK_CLASS,
  ...declareLockClasses({
    PAGE_INDEX: 'page-index', // page-cache hash bucket (i_pages)
    ICACHE: 'icache', // inode hash bucket
    INODE: 'i_lock',
    MOUNT: 'mount', // mount table
    INODE_LRU: 'inode-lru', // unused-inode LRU
    SLOTS: 'slots', // slot pools
  }),
} as const;

export const PROT = {
  ...MM_PROT,
  ...declareProtected({
    PAGE_BUCKET: { name: 'page-index hash bucket chain', lockClass: LOCK_CLASS.PAGE_INDEX, lock: 'the bucket lock' },
    MAPPING_PAGES: {
      name: "mapping's page list and nrpages",
      lockClass: LOCK_CLASS.PAGE_INDEX,
      lock: "the mapping's page-list lock",
    },
    ICACHE_BUCKET: { name: 'inode hash bucket chain', lockClass: LOCK_CLASS.ICACHE, lock: 'the icache bucket lock' },
    INODE_SLOTS: { name: 'free inode-slot list', lockClass: LOCK_CLASS.SLOTS, lock: 'the slot-pool lock' },
    INODE_LRU: { name: 'unused-inode LRU', lockClass: LOCK_CLASS.INODE_LRU, lock: 'the inode LRU lock' },
    INODE_REF: {
      name: 'i_count of an inode that may be unused (igrab, iput, eviction)',
      lockClass: LOCK_CLASS.INODE,
      lock: "the inode's i_lock",
    },
    // Fields of one record, each watched on its own word.
    PAGE_INDEX_FIELDS: {
      name: "page's index fields (mapping, index, hash link)",
      lockClass: LOCK_CLASS.PAGE_INDEX,
      lock: 'the page-index bucket lock',
    },
    PAGE_MAP_LINK: {
      name: "page's link in its mapping's page list",
      lockClass: LOCK_CLASS.PAGE_INDEX,
      lock: "the mapping's page-list lock",
    },
    MAPPING_NRPAGES: {
      name: "mapping's nrpages",
      lockClass: LOCK_CLASS.PAGE_INDEX,
      lock: "the mapping's page-list lock",
    },
    INODE_LRU_LINK: {
      name: 'inode LRU links of an inode',
      lockClass: LOCK_CLASS.INODE_LRU,
      lock: 'the inode LRU lock',
    },
    INODE_LRU_COUNT: {
      name: 'length of the unused-inode LRU',
      lockClass: LOCK_CLASS.INODE_LRU,
      lock: 'the inode LRU lock',
    },
    INODE_HASH_LINK: {
      name: 'inode hash link of an inode',
      lockClass: LOCK_CLASS.ICACHE,
      lock: 'the icache bucket lock',
    },
  }),
} as const;

export const SITE = {
  ...MM_SITE,
  ...declareSites({
    PAGE_LOOKUP: 'page lookup',
    PAGE_ADD: 'addToPageCache',
    PAGE_UNINDEX: 'page unindex',
    TRUNCATE: 'truncateInodePages',
    ICACHE_LOOKUP: 'iget lookup',
    ICACHE_INSERT: 'iget insert',
    ICACHE_UNHASH: 'unhash',
    SLOT_ALLOC: 'slotAlloc',
    SLOT_FREE: 'slotFree',
    SLOT_REWIND: 'inodeSlotsRewind',
    INODE_LRU_ADD: 'inodeLruAdd',
    INODE_LRU_DEL: 'inodeLruDel',
    INODE_LRU_PRUNE: 'pruneIcache',
    IGET_REF: '__iget',
    IPUT: 'iput',
    TRY_EVICT: 'tryEvict',
  }),
} as const;
