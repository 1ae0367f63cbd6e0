// Global event counters (atomic_t's in the arena). Counted in events or pages, never bytes, so an
// Int32 (read as unsigned) cannot overflow in any realistic run.
import { COUNTERS_BASE, COUNTERS_WORDS } from './regions.ts';

export const CTR = {
  FILE_PAGES: 0, // pages currently indexed in some mapping (NR_FILE_PAGES)
  SHARED_FILE_PAGES: 1, // of which in a shared (dedup) inode's mapping
  HITS: 2, // page found uptodate in the cache
  MISSES: 3, // page not in the cache when asked
  DEVICE_READS: 4, // device read calls (one per contiguous run)
  DEVICE_PAGES: 5, // pages filled from the device
  RA_INFLIGHT: 6, // frames allocated by readahead whose read has not completed (gauge)
  LOCK_WAITS: 7, // waits on a page locked by another thread
  RECLAIMED: 8, // pages reclaimed under memory pressure
  INODES_EVICTED: 9,
  READAHEAD_CALLS: 10,
  READFOLIO_CALLS: 11,
  ISHARE_FILLED: 12, // inodes attached to a shared inode
  ISHARE_SIZE_MISMATCH: 13, // fingerprint matched but sizes differed: not shared
  ISHARE_CREATED: 14, // shared inodes created
  REALINODE_PROCESSING: 15, // real inode picked from the processing list
  REALINODE_BACKING: 16, // real inode picked from the backing list
  REALINODE_RETRY: 17, // every igrab failed / list empty: retried
  REALINODE_EIO: 18, // gave up: I/O error
  ENOMEM: 19,
  HOLE_PAGES: 20, // pages zero-filled for holes
  INODES_ALLOCATED: 21,
  SHARED_INODES_EVICTED: 22,
  READ_ERRORS: 23,
  ISHARE_VERIFIED: 24, // verify mounts: content proven to match the fingerprint before joining
  ISHARE_VERIFY_REFUSED: 25, // verify mounts: content does not match its fingerprint: not shared
  ISHARE_DATAPATH_MISMATCH: 26, // fingerprint matched but one file is compressed and the other not: not shared
  Z_PCLUSTERS: 27, // compressed pclusters read and decompressed
  Z_PCLUSTER_WAITS: 28, // a reader found the pcluster it needed being decompressed by another thread and waited
  Z_PCLUSTER_SKIPPED: 29, // attached (pclusterAttach): after waiting, every page it needed had been filled by that decode: not decoded again
  ISHARE_BAD_FINGERPRINT: 30, // fingerprint xattr of the wrong length or prefix: not shared
  RACE_WATCHPOINTS: 31, // watchpoints the data-race detector set (stress)
  UNMOUNT_SWEEP_BUSY: 32, // unmount's sweeps that found inodes still referenced (a reader mapping through them)
  // Race windows (see WINDOWS): each counts the times a lockless path or a retry met the race it exists for.
  PAGE_SEQ_RETRY: 33, // lockless page lookup: bucket sequence odd or moved under the walk → locked lookup
  PAGE_REF_REFUSED: 34, // tryGetPage's compare-and-swap refused a frame whose count is zero (being freed)
  PAGE_HINT_MISS: 35, // next-frame guess: referenced a frame that was not (or no longer) the page, put it back
  IGRAB_REFUSED: 36, // igrab refused an inode being freed (I_FREEING)
  IGET_FREEING: 37, // iget found its inode being freed and waited for the eviction to finish
  FADVISE_BUSY: 38, // invalidate_mapping_pages kept a page a reader holds or is filling
  RECLAIM_BUSY: 39, // reclaim kept an isolated page a reader holds or is filling
  PROC_REJOIN: 40, // read_begin found its inode already on the processing list (another read in flight)
  STALE_MAP_READ: 41, // a read through a mapping that outlived its file (it pins only the shared inode)
  Z_DECODED_SECTORS: 42, // decoder output of the pclusters decoded, in 512-byte units (each extent rounded up)
} as const;
export type CounterName = keyof typeof CTR;
const NCOUNTERS = Object.keys(CTR).length;
if (NCOUNTERS > COUNTERS_WORDS) throw new Error('counters region too small');

/**
 * The race windows `stress --json` reports (name → counter): every lockless path and every retry, each
 * counted where the race it guards against actually happened. A window the workload does not open is one
 * no detector can judge.
 */
export const WINDOWS = {
  pageLookupSeqRetry: CTR.PAGE_SEQ_RETRY,
  pageRefRefusedAtZero: CTR.PAGE_REF_REFUSED,
  pageNextFrameMiss: CTR.PAGE_HINT_MISS,
  pageLockWait: CTR.LOCK_WAITS,
  igrabRefusedFreeing: CTR.IGRAB_REFUSED,
  igetWaitFreeing: CTR.IGET_FREEING,
  realInodeRetry: CTR.REALINODE_RETRY,
  unmountBusyInodes: CTR.UNMOUNT_SWEEP_BUSY,
  staleMappingRead: CTR.STALE_MAP_READ,
  staleMappingNoInode: CTR.REALINODE_EIO,
  processingRejoin: CTR.PROC_REJOIN,
  fadvisePageBusy: CTR.FADVISE_BUSY,
  reclaimPageBusy: CTR.RECLAIM_BUSY,
  pclusterWait: CTR.Z_PCLUSTER_WAITS,
  pclusterAttach: CTR.Z_PCLUSTER_SKIPPED,
} as const;
export type WindowName = keyof typeof WINDOWS;
export function readWindows(counters: Readonly<Record<string, number>>): Record<WindowName, number> {
  const out = {} as Record<WindowName, number>;
  for (const [k, c] of Object.entries(WINDOWS)) {
    const name = (Object.keys(CTR) as CounterName[]).find((n) => CTR[n] === c);
    out[k as WindowName] = name === undefined ? 0 : (counters[name] ?? 0);
  }
  return out;
}

export function ctrAdd(i32: Int32Array, c: number, n: number): void {
  Atomics.add(i32, COUNTERS_BASE + c, n);
}
export function ctrInc(i32: Int32Array, c: number): void {
  Atomics.add(i32, COUNTERS_BASE + c, 1);
}
export function ctrDec(i32: Int32Array, c: number): void {
  Atomics.sub(i32, COUNTERS_BASE + c, 1);
}
export function ctrRead(i32: Int32Array, c: number): number {
  return Atomics.load(i32, COUNTERS_BASE + c) >>> 0;
}
/** Gauges (FILE_PAGES…) may dip below zero transiently only by a bug: read them signed. */
export function ctrReadSigned(i32: Int32Array, c: number): number {
  return Atomics.load(i32, COUNTERS_BASE + c);
}
export function readCounters(i32: Int32Array): Record<CounterName, number> {
  const out = {} as Record<CounterName, number>;
  for (const [k, v] of Object.entries(CTR)) out[k as CounterName] = ctrRead(i32, v);
  return out;
}
/** Reset the event counters; gauges (FILE_PAGES, SHARED_FILE_PAGES, RA_INFLIGHT) keep their value. */
export function resetEventCounters(i32: Int32Array): void {
  for (const v of Object.values(CTR)) {
    if (v === CTR.FILE_PAGES || v === CTR.SHARED_FILE_PAGES || v === CTR.RA_INFLIGHT) continue;
    Atomics.store(i32, COUNTERS_BASE + v, 0);
  }
}
