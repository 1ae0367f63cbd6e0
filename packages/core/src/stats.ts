// What the kernel reports about itself (the /proc/meminfo, fincore, lock_stat and per-device I/O
// figures experiments read): gathered from the shared state so any thread sees the same numbers.
import { PAGE_SIZE, type Arena } from './mm/arena.ts';
import { framesFree, framesUsed, lruCount } from './mm/pagepool.ts';
import { readCounters, resetEventCounters, ctrReadSigned, CTR, type CounterName } from './mm/counters.ts';
import { readLockStats, resetLockStats, type LockClassStats } from './mm/lockstat.ts';
import { inodesInUse, inodeLruCount } from './vfs/inode.ts';
import {
  mountState,
  mountParams,
  mountDeviceStats,
  resetMountDeviceStats,
  MS_ACTIVE,
  type MountDeviceStats,
  mountSlots,
} from './vfs/mount.ts';
import { ishareMountSharedPages, ishareResetMount } from './fs/erofs/ishare_stats.ts';

export interface MountReport extends MountDeviceStats {
  /** Of the device pages, those that filled a shared inode's mapping. */
  readonly sharedPages: number;
  readonly mount: number;
  readonly image: string;
  readonly inodeShare: boolean;
  readonly domainId: string;
  readonly verify: boolean;
}

export interface SystemStats {
  readonly pageSize: number;
  readonly poolBytes: number;
  /** Frames holding file data × page size (what fincore sums over a mounted image's files). */
  readonly pageCacheBytes: number;
  readonly sharedPageCacheBytes: number;
  readonly filePages: number;
  readonly framesFree: number;
  readonly framesUsed: number;
  readonly lruPages: number;
  readonly inodesInUse: number;
  readonly unusedInodes: number;
  readonly counters: Record<CounterName, number>;
  readonly locks: LockClassStats[];
  readonly mounts: MountReport[];
}

export function systemStats(a: Arena): SystemStats {
  const mounts: MountReport[] = [];
  for (let m = 0; m < mountSlots(a); m++) {
    if (mountState(a, m) !== MS_ACTIVE) continue;
    const p = mountParams(a, m);
    mounts.push({
      mount: m,
      image: p.image,
      inodeShare: p.inodeShare,
      domainId: p.domainId,
      verify: p.verify ?? false,
      ...mountDeviceStats(a, m),
      sharedPages: ishareMountSharedPages(a, m),
    });
  }
  const filePages = ctrReadSigned(a.i32, CTR.FILE_PAGES);
  return {
    pageSize: PAGE_SIZE,
    poolBytes: a.poolBytes,
    pageCacheBytes: filePages * PAGE_SIZE,
    sharedPageCacheBytes: ctrReadSigned(a.i32, CTR.SHARED_FILE_PAGES) * PAGE_SIZE,
    filePages,
    framesFree: framesFree(a),
    framesUsed: framesUsed(a),
    lruPages: lruCount(a),
    inodesInUse: inodesInUse(a),
    unusedInodes: inodeLruCount(a),
    counters: readCounters(a.i32),
    locks: readLockStats(a.i32),
    mounts,
  };
}

/** Zero the event counters, lock statistics and per-mount device I/O (levels such as FILE_PAGES stay). */
export function resetStats(a: Arena): void {
  resetEventCounters(a.i32);
  resetLockStats(a.i32);
  for (let m = 0; m < mountSlots(a); m++) {
    resetMountDeviceStats(a, m);
    ishareResetMount(a, m);
  }
}
