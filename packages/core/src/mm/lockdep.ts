// Lock checking (lockdep_assert_held), independent of any planted bug. Every lock-protected structure is
// declared with the lock class that guards it; every function that mutates such a structure, or
// reads it in a way that needs the lock, calls lockdepAccess at that use site — on every path, buggy or
// not — and, while stressing, it fails unless *this thread* holds the declared lock word. Ownership is
// tracked per thread (a small held-locks stack filled by spinLock/spinUnlock), as lockdep's held_locks.
// The same call feeds the data-race detector (kcsan.ts), which needs no lock knowledge at all.
// When not stressing, each use site costs one branch on `lockdepOn`.
//
// mm names no structure above it: each layer declares its own protected structures and use sites
// (declareProtected, declareSites) — mm's below, vfs's in vfs/locks.ts, the filesystem's in
// fs/erofs/locks.ts, each importing the one below it, so every thread numbers them alike (module
// evaluation runs a module's imports first) and a report written by one thread reads right in another.
import { CheckFailure, reportCheckFailure } from './checkfail.ts';
import { LOCK_CLASS_NAMES, LOCK_CLASS } from './lockstat.ts';
import { kcsanAccess, kcsanOn } from './kcsan.ts';

/**
 * A lock-protected structure and its declared lock: `lockClass` the class of that lock (reports name it),
 * or -1 where the lock is one the caller holds and declares (`lock` says which).
 */
export interface ProtectedStructure {
  readonly name: string;
  readonly lockClass: number;
  readonly lock: string;
}
const protectedList: ProtectedStructure[] = [];
/** Every declared protected structure, by number (what lockdepAccess's `prot` indexes). */
export const PROTECTED: readonly ProtectedStructure[] = protectedList;

/** Declare lock-protected structures (key → structure); returns key → number. */
export function declareProtected<const T extends Readonly<Record<string, ProtectedStructure>>>(
  decl: T,
): { readonly [K in keyof T]: number } {
  const out: Record<string, number> = {};
  for (const [key, p] of Object.entries(decl)) {
    out[key] = protectedList.length;
    protectedList.push(p);
  }
  return Object.freeze(out) as { readonly [K in keyof T]: number };
}

const siteNames: string[] = [];
/** Every declared use site's name, by number (named in reports). */
export const SITE_NAMES: readonly string[] = siteNames;

/** Declare use sites (key → the function name reports print); returns key → number. */
export function declareSites<const T extends Readonly<Record<string, string>>>(
  decl: T,
): { readonly [K in keyof T]: number } {
  const out: Record<string, number> = {};
  for (const [key, name] of Object.entries(decl)) {
    out[key] = siteNames.length;
    siteNames.push(name);
  }
  return Object.freeze(out) as { readonly [K in keyof T]: number };
}

/** mm's lock-protected structures: the page LRU, the free frames, the memory cgroups. */
export const PROT = declareProtected({
  LRU: { name: 'page LRU', lockClass: LOCK_CLASS.LRU, lock: 'the LRU lock' },
  FREE_LIST: { name: 'free-frame list', lockClass: LOCK_CLASS.FREE, lock: 'the free-list lock' },
  // Fields of one record, each watched on its own word (a race on a field is invisible on the list head).
  PAGE_LRU_FLAG: { name: "PG_LRU bit of a page's flags", lockClass: LOCK_CLASS.LRU, lock: 'the LRU lock' },
  PAGE_LRU_LINK: { name: 'LRU links of a page', lockClass: LOCK_CLASS.LRU, lock: 'the LRU lock' },
  LRU_COUNT: { name: 'length of the page LRU', lockClass: LOCK_CLASS.LRU, lock: 'the LRU lock' },
  FREE_MAP: { name: 'free-frame bitmap word', lockClass: LOCK_CLASS.FREE, lock: 'the free-list lock' },
  // Memory cgroups (mm/memcontrol.ts).
  MEMCG_TABLE: {
    name: 'memory-cgroup table (state, parent, limits of a cgroup)',
    lockClass: LOCK_CLASS.MEMCG,
    lock: 'the memcg table lock',
  },
  PAGE_MEMCG: {
    name: 'memory cgroup a cached page is charged to (folio->memcg_data)',
    lockClass: -1,
    lock: "the lock the caller holds over the page's cache entry",
  },
  PAGE_SHADOW: {
    name: 'shadow entry of an evicted page (workingset)',
    lockClass: -1,
    lock: "the lock the caller holds over the page's cache entry",
  },
});

/** mm's use sites (the functions that touch a protected structure). */
export const SITE = declareSites({
  LRU_ADD: 'lruAdd',
  LRU_DEL: 'lruDel',
  LRU_ISOLATE: 'lruIsolate',
  FRAME_ALLOC: 'frameAlloc',
  FRAME_FREE: 'frameFree',
  LRU_ADD_BATCH: 'lruAddBatch',
  LRU_MOVE: 'lruvecMove',
  MEMCG_COMMIT: 'commitCharge',
  MEMCG_UNCHARGE: 'uncharge',
  MEMCG_MOVE: 'moveCharge',
  MEMCG_CREATE: 'memcgCreate',
  MEMCG_OFFLINE: 'memcgOffline',
  MEMCG_REAP: 'memcgReap',
});

/** True while stressing with lock checks or the race detector: use sites call lockdepAccess. */
export let lockdepOn = false;
let assertsOn = false;

// This thread's held locks: (array, word) pairs, innermost last.
const MAX_HELD = 16;
const heldArr: (Int32Array | undefined)[] = new Array<Int32Array | undefined>(MAX_HELD).fill(undefined);
const heldWord = new Int32Array(MAX_HELD);
let depth = 0;

/** Configure this thread: `asserts` = lock checks, `tracking` = record held locks (for either detector). */
export function lockdepConfigure(asserts: boolean, tracking: boolean): void {
  assertsOn = asserts;
  lockdepOn = tracking;
  if (!tracking) depth = 0;
}

/** spinLock calls this (only while lockdepOn) once the word is ours. */
export function lockdepAcquired(i32: Int32Array, idx: number): void {
  if (depth < MAX_HELD) {
    heldArr[depth] = i32;
    heldWord[depth] = idx;
  }
  depth++;
}

/** spinUnlock calls this (only while lockdepOn). A lock taken before tracking began is simply absent. */
export function lockdepReleased(i32: Int32Array, idx: number): void {
  const n = Math.min(depth, MAX_HELD);
  for (let d = n - 1; d >= 0; d--) {
    if (heldWord[d] === idx && heldArr[d] === i32) {
      for (let e = d; e < n - 1; e++) {
        heldArr[e] = heldArr[e + 1];
        heldWord[e] = heldWord[e + 1];
      }
      heldArr[n - 1] = undefined;
      depth--;
      return;
    }
  }
}

/** Does this thread hold lock word `idx`? */
export function lockdepHeld(i32: Int32Array, idx: number): boolean {
  for (let d = Math.min(depth, MAX_HELD) - 1; d >= 0; d--) if (heldWord[d] === idx && heldArr[d] === i32) return true;
  return false;
}

export function lockClassName(cls: number): string {
  return cls < 0 ? "the caller's lock" : (LOCK_CLASS_NAMES[cls] ?? `class ${cls}`);
}

/**
 * A use site of structure `prot` guarded by lock word `lock`: `word` is the structure's representative
 * word (its list head, count or chain head), `obj` the slot it belongs to (for the message).
 * Call as `if (lockdepOn) lockdepAccess(...)`.
 */
export function lockdepAccess(
  i32: Int32Array,
  lock: number,
  word: number,
  prot: number,
  site: number,
  obj: number,
  write: boolean,
): void {
  const held = lockdepHeld(i32, lock);
  if (assertsOn && !held) {
    const p = PROTECTED[prot];
    reportCheckFailure(
      new CheckFailure(
        'lock-check',
        `${SITE_NAMES[site]} ${write ? 'changed' : 'read'} the ${p.name} (${obj}) without holding ${p.lock} (${lockClassName(p.lockClass)} lock word ${lock})`,
      ),
    );
  }
  if (kcsanOn) kcsanAccess(i32, word, write, prot, site, obj, held);
}
