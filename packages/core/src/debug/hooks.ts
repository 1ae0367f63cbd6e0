// Stress hooks: named race-window points where a thread may pause or yield (`--jitter`), the record of
// each thread's last point (for hang reports), and planted bugs (`--inject`). All of it sits behind one
// module-level boolean so that, when not stressing, each point costs a single predictable branch.
import { CHECK_LOCKS, CHECK_RACES, type Arena } from '../mm/arena.ts';
import { THREADS_BASE, MAX_THREADS, THREAD_WORDS } from '../mm/regions.ts';
import { CheckFailure } from '../mm/checkfail.ts';
import { lockdepConfigure, SITE_NAMES, PROTECTED } from '../mm/lockdep.ts';
import { kcsanConfigure } from '../mm/kcsan.ts';

/** Named points in the core where interleavings matter. */
export const POINT = {
  NONE: 0,
  BEFORE_IGRAB: 1, // realInode: about to igrab a candidate backing inode
  AFTER_REALINODE: 2, // a real inode was picked, mapping not yet done
  READ_BEGIN_LOCKED: 3, // readBegin: holding the shared lock, before list insertion
  BEFORE_DEVICE_READ: 4,
  BEFORE_PAGE_UNLOCK: 5, // page filled, not yet unlocked
  AFTER_FIND_PAGE: 6, // filemapRead found a page, before checking uptodate
  EVICT_BACKING: 7, // eviction: detaching from the backing list
  READ_END_LOCKED: 8,
  ISHARE_FILL: 9, // fill: joining a shared inode
  UNMOUNT: 10,
  IOMAP_END: 11,
  PAGE_UNINDEX: 12, // a page leaving the page index: its bucket's sequence is odd (lockless lookups retry)
  EVICT_FREEING: 13, // eviction begun (I_FREEING), inode still hashed: iget waits, igrab refuses
} as const;
export const POINT_NAMES = Object.keys(POINT);

/** Planted bugs (bit mask). Each breaks one rule of the design on purpose. */
export const BUG = {
  NO_IGRAB: 1 << 0, // use a backing inode without igrab (use-after-evict)
  PROC_COUNT_NOLOCK: 1 << 1, // update processingCount / processing list without the shared lock
  REALINODE_UNSET: 1 << 2, // seed: no backing inode grabbable (all being evicted) — realinode left unset
  NO_IPUT: 1 << 3, // drop the iput after mapping (reference leak)
  EARLY_UPTODATE: 1 << 4, // publish a page (uptodate + unlock) before its data is read
  BACKING_DEL_NOLOCK: 1 << 5, // remove from the backing list without the shared inode's lock
  CROSS_DOMAIN: 1 << 6, // share across domain ids
  SKIP_SIZE_CHECK: 1 << 7, // share files whose fingerprint matches but size differs
  REALINODE_EVICTING: 1 << 8, // mainline erofs_real_inode: state test and reference not atomic under i_lock
  UNMOUNT_BUSY: 1 << 9, // unmount skips inodes still referenced (igrab pins the inode, not the superblock)
  PROC_COUNT_UNDERFLOW: 1 << 10, // read_begin does not count a read of an inode already listed; read_end still does
  FADVISE_INUSE: 1 << 11, // fadvise(DONTNEED) drops pages without checking that nobody holds them
  ISHARE_EVICT_MAPPED: 1 << 12, // the last backing inode's free evicts the shared inode whatever else references it
} as const;
export type BugName = keyof typeof BUG;
export const BUG_DESCRIPTIONS: Record<BugName, string> = {
  NO_IGRAB: 'use a backing inode without igrab (use-after-evict)',
  PROC_COUNT_NOLOCK: 'update processingCount and the processing list without the shared inode lock',
  REALINODE_UNSET:
    "the seed's uninitialised realinode: when every backing inode of a shared inode is being evicted at once (a mapping that outlived its file reads through it), no igrab succeeds and the previous mapping's, already released, inode is used",
  NO_IPUT: 'drop the iput of the real inode after mapping (reference leak)',
  EARLY_UPTODATE: 'mark a page uptodate and unlock it before its data is read',
  BACKING_DEL_NOLOCK: "remove an evicted inode from the backing list without the shared inode's lock",
  CROSS_DOMAIN: 'share inodes across different domain ids',
  SKIP_SIZE_CHECK: 'skip the size check when joining a shared inode (same fingerprint, different size)',
  REALINODE_EVICTING:
    "mainline's erofs_real_inode picking an inode that is being evicted: the candidate's state is tested, then a reference taken, without i_lock across both — an eviction deciding in between is missed",
  UNMOUNT_BUSY:
    "unmount an image while another image's reader maps a shared page through one of its inodes: busy inodes are skipped (igrab pins the inode, not the superblock) and the device is closed under the read",
  PROC_COUNT_UNDERFLOW:
    "processing_count going negative: read_begin does not add a read of an inode another thread's read already keeps on the processing list (it trusts that read to keep it there), read_end still takes one off — the other read ends first and the count drops below zero",
  FADVISE_INUSE:
    "one container's fadvise(DONTNEED) dropping another's pages: invalidate_mapping_pages on the shared inode drops a page without trylocking it or testing its references, so a page another image's reader is still filling (locked) or copying (referenced) leaves the cache and loses the cache's reference under it",
  ISHARE_EVICT_MAPPED:
    'eviction of the shared inode during readahead: when its last backing inode is freed, the shared inode is evicted with it, as if the backing inodes held its only references — a mapping that outlived its file (it pins only the shared inode) may be reading ahead through it, adding pages to an inode being torn down',
};

/**
 * race: needs two threads — with lock checks off, one worker with no chaos and no jitter runs clean;
 * logic: a single-thread mistake, caught by one thread alone.
 */
export type BugCategory = 'race' | 'logic';
export const BUG_CATEGORY: Record<BugName, BugCategory> = {
  NO_IGRAB: 'logic',
  PROC_COUNT_NOLOCK: 'race',
  REALINODE_UNSET: 'race',
  NO_IPUT: 'logic',
  EARLY_UPTODATE: 'race',
  BACKING_DEL_NOLOCK: 'race',
  CROSS_DOMAIN: 'logic',
  SKIP_SIZE_CHECK: 'logic',
  REALINODE_EVICTING: 'race',
  UNMOUNT_BUSY: 'race',
  PROC_COUNT_UNDERFLOW: 'race',
  FADVISE_INUSE: 'race',
  ISHARE_EVICT_MAPPED: 'race',
};

/**
 * A debug assertion failed: a reference rule of the design was broken (DBG_BUGON in the kernel). Only
 * raised while stress hooks are live. (Locking rules are lockdep.ts's, data races kcsan.ts's.)
 */
export class InvariantViolation extends CheckFailure {
  constructor(message: string) {
    super('invariant', message);
    this.name = 'InvariantViolation';
  }
}

/** True while stress hooks are live in this thread. */
export let hooksOn = false;
let bugs = 0;
let jitterP = 0; // probability per point in 1/65536
let rng = 0x12345678;
let threadSlot = -1;
let hookArena: Arena | undefined;
const sab = new Int32Array(new SharedArrayBuffer(4));

/** Enable hooks in this thread from the arena's settings (called at attach/create). */
export function hooksAttach(a: Arena, threadId: number): void {
  bugs = a.injectMask;
  jitterP = a.jitter;
  rng = (a.seed ^ Math.imul(threadId + 1, 0x9e3779b1)) | 1;
  threadSlot = threadId < MAX_THREADS ? threadId : -1;
  hookArena = a;
  myThreadId = threadId;
  configureChecks(a);
  hooksOn = bugs !== 0 || jitterP !== 0 || a.checks !== 0;
}

let myThreadId = 0;
function configureChecks(a: Arena): void {
  const c = a.checks;
  lockdepConfigure((c & CHECK_LOCKS) !== 0, c !== 0);
  kcsanConfigure((c & CHECK_RACES) !== 0, myThreadId, a.raceSample || 200, (a.raceStallUs || 200) / 1000, a.seed, {
    sites: SITE_NAMES,
    prots: PROTECTED.map((p) => p.name),
  });
}

/** Re-read the arena settings (the stress controller may change them at run time). */
export function hooksRefresh(a: Arena): void {
  bugs = a.injectMask;
  jitterP = a.jitter;
  configureChecks(a);
  hooksOn = bugs !== 0 || jitterP !== 0 || threadSlot >= 0 || a.checks !== 0;
}

export function bugOn(bit: number): boolean {
  return (bugs & bit) !== 0;
}

function nextRand(): number {
  rng ^= rng << 13;
  rng ^= rng >>> 17;
  rng ^= rng << 5;
  return rng >>> 0;
}

/**
 * A named point: record it, and with jitter on, sometimes sleep briefly or spin to widen the window.
 * `borrowed`: the thread holds a reference it borrowed through a shared inode (an inode it did not open,
 * maybe another image's) and no spinlock. A kernel thread there can be preempted for a scheduler slice,
 * so there the jitter is always a sleep of 1-8 ms — long enough for another thread to evict or unmount
 * what the reference points into — where elsewhere it sleeps 0.05-0.8 ms or spins.
 */
export function point(p: number, borrowed = false): void {
  if (threadSlot >= 0 && hookArena) Atomics.store(hookArena.i32, THREADS_BASE + threadSlot * THREAD_WORDS, p);
  if (jitterP === 0) return;
  const r = nextRand();
  if ((r & 0xffff) >= jitterP) return;
  if (borrowed) {
    Atomics.wait(sab, 0, 0, 1 + ((r >>> 17) & 7)); // preempted
  } else if (r & 0x10000) {
    Atomics.wait(sab, 0, 0, ((r >>> 17) & 3) * 0.25 + 0.05); // a short sleep: the OS schedules others
  } else {
    let x = 0;
    for (let i = (r >>> 17) & 0x3ff; i > 0; i--) x += i;
    if (x < 0) sab[0] = x;
  }
}

/** Every thread's last named point (for hang reports). */
export function lastPoints(a: Arena, nthreads: number): string[] {
  const out: string[] = [];
  for (let t = 0; t < Math.min(nthreads, MAX_THREADS); t++)
    out.push(POINT_NAMES[Atomics.load(a.i32, THREADS_BASE + t * THREAD_WORDS)] ?? '?');
  return out;
}
