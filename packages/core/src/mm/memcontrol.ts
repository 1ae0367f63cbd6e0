// Memory cgroups (mm/memcontrol.c, reduced to page-cache charges): a hierarchy of cgroups in the arena,
// a page charged when it enters the page cache to the cgroup of the thread that adds it
// (filemap_add_folio → mem_cgroup_charge), uncharged when it leaves; memory.max makes a charge reclaim
// from that cgroup's subtree first (try_charge → try_to_free_mem_cgroup_pages); evicted pages leave a
// shadow so reading them again counts a refault (mm/workingset.c). What happens to the charges of a
// removed cgroup is the charge policy: keep (mainline: the dying cgroup keeps them), reparent (the
// LRU-reparenting series: they move to the parent at offline) or recharge (the 2023 proposal: the next
// cgroup that reads the page pays). Beside the kernel's charge, each page records the cgroups that read
// it while resident (a bitmap), from which `split` divides its cost equally — an account only.
//
// Layout (this module's region `mm.memcg`): a small header (table lock), NR_MEMCG cgroup records, one
// reader bitmap word per frame (bit i = cgroup i read it; the sign bit = recharge pending) and one shadow
// entry per page-index bucket. The charge itself is the frame's F_MEMCG word (mm/pagepool.ts), which also
// names the lruvec the page sits on; it changes only under the page's index bucket lock (and the LRU lock
// for the lruvec), so an uncharge — which runs under that bucket lock — never races a move.
//
// mm/ knows no structure above it: the page cache gives this module its page operations (lock the
// bucket of an indexed frame, wait out every bucket-locked section, reclaim a subtree) with
// setMemcgPageOps, as vfs/ installs its other hooks.
//
// Locks: the table lock (class memcg) guards each cgroup's state, parent and limits and is taken only by
// create/offline/limit changes; counters are atomics (page_counter). Lock order: memcg table lock → page-
// index bucket → LRU lock (offline moves pages while holding nothing but the bucket and LRU locks); a
// recharge holds its folio's lock (trylock only) around the bucket locks of the folio's pages.
import { declareRegion, declareHeaderWord, PAGE_SIZE, type Arena } from './arena.ts';
import { spinLock, spinUnlock } from './spinlock.ts';
import { LOCK_CLASS } from './lockstat.ts';
import { lockdepOn, lockdepAccess, PROT, SITE } from './lockdep.ts';
import { reportCheckFailure, invariantsOn, InvariantViolation } from './checkfail.ts';
import { NIL } from './list.ts';
import { pointsOn, point, POINT } from './points.ts';
import {
  FRAME_WORDS,
  F_MEMCG,
  F_MAPPING,
  F_FLAGS,
  PG_REFERENCED,
  NR_LRUVECS,
  lruvecMove,
  lruvecCount,
  folioHead,
  folioNrPages,
  setPageFlag,
  trylockPage,
  unlockPage,
} from './pagepool.ts';

/**
 * Cgroup ids 0..NR_MEMCG-1; 0 is the root. A page's readers word is a bitmap of cgroup ids whose sign bit
 * is PENDING, so ids stop at 30: a 32nd id would share its reader bit with the recharge mark.
 */
export const NR_MEMCG = 31;
export const ROOT_MEMCG = 0;
/** memory.max / memory.high of "max" (no limit), in pages. */
export const MEMCG_UNLIMITED = 0x7fffffff;

// Cgroup states.
export const MEMCG_FREE = 0;
export const MEMCG_ONLINE = 1;
/** Removed (css_offline) but still existing: it holds charges, or its pages are still on its lruvec. */
export const MEMCG_DYING = 2;

// Region header.
const H_LOCK = 0;
/**
 * Shadow slots in use. The kernel finds a shadow entry in the xarray slot the page goes into, for free;
 * ours sit in a table of their own, and looking there cost every page added to the cache a cache miss
 * (~10% of a fill with nothing ever evicted). Changed under the slot's bucket lock, so an insert under
 * that lock that reads 0 knows its slot is empty.
 */
const H_SHADOWS = 1;
const HDR_WORDS = 4;
// A cgroup record.
const M_STATE = 0;
const M_PARENT = 1;
const M_CURRENT = 2; // pages charged to it and its descendants (page_counter usage)
const M_MAX = 3;
const M_HIGH = 4;
const M_LOCAL = 5; // pages charged to it directly
const M_REFAULT = 6; // workingset_refault_file (local)
const M_ACTIVATE = 7; // workingset_activate_file
const M_PGSCAN = 8;
const M_PGSTEAL = 9;
const M_EV_HIGH = 10;
const M_EV_MAX = 11;
const M_EV_OOM = 12;
const M_AGE = 13; // nonresident age: evictions from it so far (workingset refault distance)
const M_GEN = 14; // incarnation: bumped each time the id is handed out
const M_OFFPOLICY = 15; // the charge policy in force when it was removed (what its charges do)
const M_FORCED = 16; // charges moved in without a limit check (reparented to it): memory.max may be passed
const MEMCG_WORDS = 20;
// A shadow entry: mapping, index, mapping generation, (evicting cgroup << AGE_BITS | its age).
const SHADOW_WORDS = 4;
const AGE_BITS = 26;
const AGE_MASK = (1 << AGE_BITS) - 1;
/** Reader bitmap's sign bit: the page is charged to a dying cgroup and the next reader pays (recharge). */
const PENDING = 1 << 31;
if (NR_MEMCG > 31 || NR_MEMCG > NR_LRUVECS)
  throw new Error('mm.memcg: a cgroup id needs a reader bit below PENDING and a lruvec');

declareRegion('mm.memcg', (c) => HDR_WORDS + NR_MEMCG * MEMCG_WORDS + c.nframes + c.npageBuckets * SHADOW_WORDS);
declareHeaderWord('mm.memcg.policy');

export type ChargePolicy = 'keep' | 'reparent' | 'recharge';
export const CHARGE_KEEP = 0;
export const CHARGE_REPARENT = 1;
export const CHARGE_RECHARGE = 2;
const POLICY_NAMES: readonly ChargePolicy[] = ['keep', 'reparent', 'recharge'];

/** What the page cache gives memcg: it owns the page index (and so the lock a charge change needs). */
export interface MemcgPageOps {
  /** try_to_free_mem_cgroup_pages: reclaim up to nr pages from cgroup `memcg`'s subtree; pages freed. */
  reclaim(a: Arena, memcg: number, nr: number): number;
  /** Lock the index bucket of frame f if it is still in the page cache: the lock word, or -1 (not cached). */
  lockIndexed(a: Arena, f: number): number;
  unlockIndexed(a: Arena, lock: number): void;
  /** Take and release every bucket lock: any charge committed under one before this call is visible after. */
  syncIndex(a: Arena): void;
}
let pageOps: MemcgPageOps | null = null;
export function setMemcgPageOps(ops: MemcgPageOps): void {
  pageOps = ops;
}
function ops(): MemcgPageOps {
  if (pageOps === null) throw new Error('memcg: the page cache did not install its page operations');
  return pageOps;
}

// Per-thread: the region's bases for the last arena seen, and the thread's cgroup (current->cgroups).
let baseArena: Arena | null = null;
let tblBase = 0;
let rdBase = 0;
let shBase = 0;
function resolve(a: Arena): void {
  const r = a.region('mm.memcg');
  baseArena = a;
  tblBase = r + HDR_WORDS;
  rdBase = tblBase + NR_MEMCG * MEMCG_WORDS;
  shBase = rdBase + a.nframes;
}
function rec(a: Arena, id: number): number {
  if (a !== baseArena) resolve(a);
  return tblBase + id * MEMCG_WORDS;
}
function readersWord(a: Arena, f: number): number {
  if (a !== baseArena) resolve(a);
  return rdBase + f;
}
function lockWord(a: Arena): number {
  return a.region('mm.memcg') + H_LOCK;
}
function shadowsWord(a: Arena): number {
  if (a !== baseArena) resolve(a);
  return tblBase - HDR_WORDS + H_SHADOWS;
}

let curMemcg = ROOT_MEMCG;
let curBit = 1;

/** Initialise the table: the root online and unlimited, no shadows (main thread, before workers). */
export function memcgInit(a: Arena): void {
  const i32 = a.i32;
  resolve(a);
  i32[lockWord(a)] = 0;
  i32[shadowsWord(a)] = 0;
  for (let id = 0; id < NR_MEMCG; id++) {
    const r = rec(a, id);
    for (let w = 0; w < MEMCG_WORDS; w++) i32[r + w] = 0;
    i32[r + M_MAX] = MEMCG_UNLIMITED;
    i32[r + M_HIGH] = MEMCG_UNLIMITED;
    i32[r + M_PARENT] = -1;
  }
  i32[rec(a, ROOT_MEMCG) + M_STATE] = MEMCG_ONLINE;
  for (let f = 0; f < a.nframes; f++) i32[rdBase + f] = 0;
  for (let s = 0; s < a.counts.npageBuckets; s++) i32[shBase + s * SHADOW_WORDS] = NIL;
  curMemcg = ROOT_MEMCG;
  curBit = 1;
}

export function chargePolicy(a: Arena): number {
  return Atomics.load(a.i32, a.headerWord('mm.memcg.policy'));
}
export function chargePolicyName(a: Arena): ChargePolicy {
  return POLICY_NAMES[chargePolicy(a)] ?? 'keep';
}
export function setChargePolicy(a: Arena, p: ChargePolicy): void {
  const v = POLICY_NAMES.indexOf(p);
  if (v < 0) throw new RangeError(`unknown charge policy ${p as string} (keep, reparent, recharge)`);
  Atomics.store(a.i32, a.headerWord('mm.memcg.policy'), v);
}

export function memcgState(a: Arena, id: number): number {
  return Atomics.load(a.i32, rec(a, id) + M_STATE);
}
export function memcgParent(a: Arena, id: number): number {
  return Atomics.load(a.i32, rec(a, id) + M_PARENT);
}
export function memcgGen(a: Arena, id: number): number {
  return Atomics.load(a.i32, rec(a, id) + M_GEN);
}

/** This thread's cgroup (the cgroup of the task: reads it does charge there). */
export function currentMemcg(): number {
  return curMemcg;
}
/** Move this thread into cgroup `id` (which must be online). */
export function setCurrentMemcg(a: Arena, id: number): void {
  if (!Number.isInteger(id) || id < 0 || id >= NR_MEMCG || memcgState(a, id) !== MEMCG_ONLINE)
    throw new RangeError(`memory cgroup ${id} is not online`);
  curMemcg = id;
  curBit = 1 << id;
}

/** The nearest online cgroup at or above id (a removed cgroup's readers charge its parent). */
function nearestOnline(a: Arena, id: number): number {
  let c = id;
  while (c > 0 && memcgState(a, c) !== MEMCG_ONLINE) c = memcgParent(a, c);
  return c < 0 ? ROOT_MEMCG : c;
}

// --- page_counter -------------------------------------------------------------------------------------

/** Charge n pages to id and its ancestors, no limit applied. */
function chargeCounters(a: Arena, id: number, n: number): void {
  const i32 = a.i32;
  Atomics.add(i32, rec(a, id) + M_LOCAL, n);
  for (let c = id; c >= 0; c = i32[rec(a, c) + M_PARENT]) Atomics.add(i32, rec(a, c) + M_CURRENT, n);
}
function unchargeCounters(a: Arena, id: number, n: number): void {
  const i32 = a.i32;
  const left = Atomics.sub(i32, rec(a, id) + M_LOCAL, n) - n;
  // DBG_BUGON (page_counter_cancel's WARN): a cgroup's charge never goes below zero.
  if (invariantsOn && left < 0)
    reportCheckFailure(new InvariantViolation(`memcg ${id}: charge went negative (${left} pages) at an uncharge`));
  for (let c = id; c >= 0; c = i32[rec(a, c) + M_PARENT]) Atomics.sub(i32, rec(a, c) + M_CURRENT, n);
}

/**
 * page_counter_try_charge: add n to every ancestor's usage, refusing (and undoing) at the first whose
 * memory.max (with `high`, whichever of memory.max and memory.high is lower) it would pass. Returns -1
 * when charged, else the cgroup over its limit.
 */
function pageCounterTryCharge(a: Arena, id: number, n: number, high: boolean): number {
  const i32 = a.i32;
  for (let c = id; c >= 0; c = i32[rec(a, c) + M_PARENT]) {
    const r = rec(a, c);
    const now = Atomics.add(i32, r + M_CURRENT, n) + n;
    const max = high
      ? Math.min(Atomics.load(i32, r + M_MAX), Atomics.load(i32, r + M_HIGH))
      : Atomics.load(i32, r + M_MAX);
    if (now > max) {
      for (let u = id; ; u = i32[rec(a, u) + M_PARENT]) {
        Atomics.sub(i32, rec(a, u) + M_CURRENT, n);
        if (u === c) break;
      }
      return c;
    }
  }
  Atomics.add(i32, rec(a, id) + M_LOCAL, n);
  return -1;
}

/** Does any cgroup from id up limit memory (max or high)? */
function chainLimited(a: Arena, id: number): boolean {
  const i32 = a.i32;
  for (let c = id; c >= 0; c = i32[rec(a, c) + M_PARENT]) {
    const r = rec(a, c);
    if (i32[r + M_MAX] !== MEMCG_UNLIMITED || i32[r + M_HIGH] !== MEMCG_UNLIMITED) return true;
  }
  return false;
}

/** The most a readahead window should take in this thread's cgroup: a quarter of its tightest limit. */
export function memcgRaLimit(a: Arena): number {
  const i32 = a.i32;
  let lim = MEMCG_UNLIMITED;
  for (let c = curMemcg; c >= 0; c = i32[rec(a, c) + M_PARENT]) lim = Math.min(lim, i32[rec(a, c) + M_MAX]);
  return lim === MEMCG_UNLIMITED ? lim : Math.max(1, lim >>> 2);
}

const ENOMEM_AFTER_MS = 2000;
const nap = new Int32Array(new SharedArrayBuffer(4));

/**
 * try_charge: charge up to n pages to this thread's cgroup (its nearest online ancestor if it was
 * removed), reclaiming from the subtree of any cgroup whose memory.max the charge would pass. Returns
 * the pages charged — fewer than n when reclaim cannot make room for all; 0 only when not even one page
 * fits: at once unless `owed` (the page a reader waits for), which waits for pages in flight to become
 * reclaimable and, failing that, counts an oom event. Above memory.high the charge stands but the
 * cgroup reclaims back to it (reclaim_high). The cgroup charged is chargedMemcg() until the next call.
 */
export function memcgTryCharge(a: Arena, n: number, owed: boolean): number {
  const i32 = a.i32;
  const id = curMemcg === ROOT_MEMCG ? ROOT_MEMCG : nearestOnline(a, curMemcg);
  lastCharged = id;
  if (!chainLimited(a, id)) {
    chargeCounters(a, id, n);
    return n;
  }
  let want = n;
  let deadline = 0;
  for (;;) {
    const over = pageCounterTryCharge(a, id, want, false);
    if (over < 0) break;
    Atomics.add(i32, rec(a, over) + M_EV_MAX, 1);
    const room = Atomics.load(i32, rec(a, over) + M_MAX) - Atomics.load(i32, rec(a, over) + M_CURRENT);
    if (ops().reclaim(a, over, Math.max(want - Math.max(room, 0), 1) + 8) > 0) continue;
    if (want > 1) {
      want = Math.max(1, Math.min(want >> 1, room));
      continue;
    }
    if (!owed) return 0;
    const now = Date.now();
    if (deadline === 0) deadline = now + ENOMEM_AFTER_MS;
    else if (now > deadline) {
      Atomics.add(i32, rec(a, over) + M_EV_OOM, 1);
      return 0;
    }
    Atomics.wait(nap, 0, 0, 1);
  }
  if (invariantsOn) checkUnderMax(a, id);
  for (let c = id; c >= 0; c = i32[rec(a, c) + M_PARENT]) {
    const r = rec(a, c);
    const excess = Atomics.load(i32, r + M_CURRENT) - Atomics.load(i32, r + M_HIGH);
    if (excess > 0) {
      Atomics.add(i32, r + M_EV_HIGH, 1);
      ops().reclaim(a, c, excess);
    }
  }
  return want;
}
let lastCharged = ROOT_MEMCG;

/**
 * A charge the caller can do without (recharge: the kernel would just leave the folio where it is): all n
 * pages to this thread's cgroup (its nearest online ancestor if it was removed), or nothing. It never
 * reclaims and never counts an event: refused when it would pass memory.max or memory.high of any cgroup
 * on the way up — within memory.high, so that it does not make the reader reclaim its own cache either.
 * Returns the cgroup charged, or -1.
 */
function tryChargeOptional(a: Arena, n: number): number {
  const id = curMemcg === ROOT_MEMCG ? ROOT_MEMCG : nearestOnline(a, curMemcg);
  if (!chainLimited(a, id)) {
    chargeCounters(a, id, n);
    return id;
  }
  return pageCounterTryCharge(a, id, n, true) < 0 ? id : -1;
}

/** The cgroup the last memcgTryCharge of this thread charged. */
export function chargedMemcg(): number {
  return lastCharged;
}

/** DBG_BUGON: a charge never leaves a limited cgroup above its memory.max (beyond charges in flight). */
function checkUnderMax(a: Arena, id: number): void {
  const i32 = a.i32;
  for (let c = id; c >= 0; c = i32[rec(a, c) + M_PARENT]) {
    const r = rec(a, c);
    const max = Atomics.load(i32, r + M_MAX);
    // Charges in flight on other threads may overshoot by a readahead batch each before they back off.
    const cur = Atomics.load(i32, r + M_CURRENT);
    if (max !== MEMCG_UNLIMITED && cur > max + 2 * 256 * 8)
      reportCheckFailure(
        new InvariantViolation(`memcg ${c}: memory.current ${cur} pages > memory.max ${max} at a charge`),
      );
  }
}

/** Undo n pages of a charge that found no page to commit (another thread cached the page first). */
export function memcgCancelCharge(a: Arena, id: number, n: number): void {
  if (n > 0) unchargeCounters(a, id, n);
}

// --- commit / uncharge (the page's index bucket lock held) ---------------------------------------------

/**
 * commit_charge: bind a new frame, not yet visible in the page cache, to the cgroup its charge went to
 * (`id`, from memcgTryCharge), and record this thread's cgroup as its first reader. A cgroup removed
 * since the charge: under reparent the charge moves on to its nearest online ancestor; under recharge
 * the page waits for the next reader. A shadow left by the page's eviction makes this a refault,
 * counted in the reading cgroup. `lock` is the page's bucket lock word (held), `slot` its shadow slot.
 */
export function memcgCommitCharge(
  a: Arena,
  f: number,
  id: number,
  lock: number,
  slot: number,
  mapping: number,
  index: number,
  gen: number,
): void {
  const i32 = a.i32;
  const fw = a.frames + f * FRAME_WORDS + F_MEMCG;
  if (lockdepOn) lockdepAccess(i32, lock, fw, PROT.PAGE_MEMCG, SITE.MEMCG_COMMIT, f, true);
  let to = id;
  let pending = 0;
  if (id !== ROOT_MEMCG && memcgState(a, id) !== MEMCG_ONLINE) {
    const policy = Atomics.load(i32, rec(a, id) + M_OFFPOLICY);
    if (policy === CHARGE_REPARENT) {
      to = nearestOnline(a, id);
      unchargeCounters(a, id, 1);
      chargeCounters(a, to, 1);
      Atomics.store(i32, rec(a, to) + M_FORCED, 1);
    } else if (policy === CHARGE_RECHARGE) pending = PENDING;
  }
  i32[fw] = to;
  Atomics.store(i32, readersWord(a, f), curBit | pending);
  if (Atomics.load(i32, shadowsWord(a)) === 0) return;
  const s = shBase + slot * SHADOW_WORDS;
  if (lockdepOn) lockdepAccess(i32, lock, s, PROT.PAGE_SHADOW, SITE.MEMCG_COMMIT, f, false);
  if (i32[s] === mapping && i32[s + 1] === index && i32[s + 2] === gen) workingsetRefault(a, f, lock, s);
}

/** workingset_refault: the page was evicted and is read again. Shadow entry s, its bucket lock held. */
function workingsetRefault(a: Arena, f: number, lock: number, s: number): void {
  const i32 = a.i32;
  if (lockdepOn) lockdepAccess(i32, lock, s, PROT.PAGE_SHADOW, SITE.MEMCG_COMMIT, f, true);
  const v = i32[s + 3];
  i32[s] = NIL;
  Atomics.sub(i32, shadowsWord(a), 1);
  const evictor = v >>> AGE_BITS;
  Atomics.add(i32, rec(a, curMemcg) + M_REFAULT, 1);
  // Refault distance: evictions from the evicting cgroup since this page's. Within its workingset (the
  // pages it holds now), the page would have stayed had it been active: activate it (second chance).
  const distance = (Atomics.load(i32, rec(a, evictor) + M_AGE) - (v & AGE_MASK)) & AGE_MASK;
  if (distance <= Atomics.load(i32, rec(a, evictor) + M_CURRENT)) {
    Atomics.add(i32, rec(a, curMemcg) + M_ACTIVATE, 1);
    setPageFlag(a, f, PG_REFERENCED); // on its folio
  }
}

/**
 * mem_cgroup_uncharge as the page leaves the page cache (its bucket lock held). Reclaim's eviction
 * (`evict`) counts pgsteal and leaves a shadow in the page's slot. F_MEMCG stays: it still names the
 * lruvec the page may sit on until the caller takes it off.
 */
export function memcgUncharge(
  a: Arena,
  f: number,
  lock: number,
  slot: number,
  mapping: number,
  index: number,
  gen: number,
  evict: boolean,
): void {
  const i32 = a.i32;
  const fw = a.frames + f * FRAME_WORDS + F_MEMCG;
  if (lockdepOn) lockdepAccess(i32, lock, fw, PROT.PAGE_MEMCG, SITE.MEMCG_UNCHARGE, f, false);
  const id = i32[fw];
  unchargeCounters(a, id, 1);
  if (!evict) return;
  const r = rec(a, id);
  Atomics.add(i32, r + M_PGSTEAL, 1);
  const age = Atomics.add(i32, r + M_AGE, 1) + 1;
  const s = shBase + slot * SHADOW_WORDS;
  if (lockdepOn) lockdepAccess(i32, lock, s, PROT.PAGE_SHADOW, SITE.MEMCG_UNCHARGE, f, true);
  if (i32[s] === NIL) Atomics.add(i32, shadowsWord(a), 1);
  i32[s] = mapping;
  i32[s + 1] = index;
  i32[s + 2] = gen;
  i32[s + 3] = (id << AGE_BITS) | (age & AGE_MASK);
}

/** Reclaim scanned (isolated) folio f: pgscan (its pages) of the cgroup its head is charged to. */
export function memcgScanned(a: Arena, f: number): void {
  Atomics.add(a.i32, rec(a, a.i32[a.frames + f * FRAME_WORDS + F_MEMCG]) + M_PGSCAN, folioNrPages(a, f));
}

/**
 * Move frame f's charge from `from` to `to` (mem_cgroup_move_account): its bucket lock `lock` held. The
 * counters move first, then the binding and the lruvec.
 */
export function memcgMovePage(a: Arena, f: number, from: number, to: number, lock: number): void {
  const i32 = a.i32;
  if (lockdepOn)
    lockdepAccess(i32, lock, a.frames + f * FRAME_WORDS + F_MEMCG, PROT.PAGE_MEMCG, SITE.MEMCG_MOVE, f, true);
  unchargeCounters(a, from, 1);
  chargeCounters(a, to, 1);
  Atomics.store(i32, rec(a, to) + M_FORCED, 1);
  lruvecMove(a, f, to);
}

// --- readers: the hit path and recharge ----------------------------------------------------------------

/**
 * A read of cached frame f by this thread (the reader holds a reference): record its cgroup among the
 * page's readers. One load and a test when the bit is already set — a hit charges nothing — except
 * that a page charged to a dying cgroup under recharge makes this reader pay for it.
 */
export function memcgMarkRead(a: Arena, f: number): void {
  if (a !== baseArena) resolve(a);
  const v = a.i32[rdBase + f];
  if ((v & curBit) === 0 || v < 0) markReadSlow(a, f, v);
}

function markReadSlow(a: Arena, f: number, v: number): void {
  const i32 = a.i32;
  if ((v & curBit) === 0) Atomics.or(i32, rdBase + f, curBit);
  if (v < 0) memcgSteps.rechargePage(a, f);
}

/** The steps planted bugs replace (debug/bugs/): the correct ones unless the stress harness planted one. */
export interface MemcgSteps {
  /** Move the charge of frame f, bound to dying cgroup `from`, to `to` (reparent at offline). */
  reparentFrame: (a: Arena, f: number, from: number, to: number) => void;
  /** Recharge: this thread's cgroup takes over frame f's charge from the dying cgroup holding it. */
  rechargePage: (a: Arena, f: number) => void;
  /**
   * Recharge, after the head moved: move tail t of the folio from the dying `owner` to `to` (already
   * charged for it); 1 if it moved.
   */
  rechargeTail: (a: Arena, t: number, owner: number, to: number) => number;
}

function reparentFrame(a: Arena, f: number, from: number, to: number): void {
  const b = ops().lockIndexed(a, f);
  if (b < 0) return;
  if (a.i32[a.frames + f * FRAME_WORDS + F_MEMCG] === from) memcgMovePage(a, f, from, to, b);
  ops().unlockIndexed(a, b);
}

function rechargeDue(a: Arena, owner: number): boolean {
  return memcgState(a, owner) === MEMCG_DYING && Atomics.load(a.i32, rec(a, owner) + M_OFFPOLICY) === CHARGE_RECHARGE;
}

/**
 * A mark whose cgroup is not (or no longer) removed under recharge is dropped — under the bucket lock,
 * with the owner read again there: memcgOffline marks under that lock after the cgroup turns dying, so a
 * mark it sets between this reader's first look and the clear is not wiped.
 */
function clearStaleMark(a: Arena, f: number): void {
  const b = ops().lockIndexed(a, f);
  if (b < 0) return;
  if (!rechargeDue(a, a.i32[a.frames + f * FRAME_WORDS + F_MEMCG])) Atomics.and(a.i32, readersWord(a, f), ~PENDING);
  ops().unlockIndexed(a, b);
}

function rechargePage(a: Arena, f: number): void {
  const i32 = a.i32;
  const owner = i32[a.frames + f * FRAME_WORDS + F_MEMCG];
  if (!rechargeDue(a, owner)) {
    clearStaleMark(a, f);
    return;
  }
  // A folio is charged as one (mem_cgroup_move_account moves a folio, and the folio sits on the lruvec of
  // its one cgroup): a reader of any of its pages takes over all of them, or none when they do not fit.
  // The move is optional — the dying cgroup keeps the folio otherwise — so a reader with no room for it
  // neither reclaims nor counts a memory.max event: it reads the page and leaves the charge where it is.
  const h = folioHead(a, f);
  const nr = folioNrPages(a, f);
  // mem_cgroup_move_account moves a locked folio: one mover at a time. A reader that finds the folio
  // locked (read, reclaimed or moved by another thread) leaves it marked for the next one.
  if (!trylockPage(a, h)) return;
  try {
    const to = tryChargeOptional(a, nr);
    if (to < 0) return;
    // The head decides: its binding names the lruvec (lruvecMove moves the folio with it); the tails it
    // takes are every one still charged to `owner`, marked or not: memcgOffline marks a folio's pages one
    // by one, so a reader may find the head marked and a tail not yet.
    let moved = rechargeOne(a, h, owner, to, true);
    if (moved === 1) {
      // The head moved, the tails not yet (stress jitter widens this window for the folio's other readers
      // and for the removal of `to`).
      if (pointsOn) point(POINT.MEMCG_MOVE);
      for (let t = h + 1; t < h + nr; t++) moved += memcgSteps.rechargeTail(a, t, owner, to);
    }
    if (moved < nr) unchargeCounters(a, to, nr - moved);
  } finally {
    unlockPage(a, h);
  }
}

/**
 * Move page t's charge from the dying `owner` to `to`, already charged for it: 1 if it moved. The head
 * moves only if it still carries the recharge mark (without it, another reader took the folio first); a
 * tail whenever it is still charged to `owner`.
 */
function rechargeOne(a: Arena, t: number, owner: number, to: number, head: boolean): number {
  const i32 = a.i32;
  const fw = a.frames + t * FRAME_WORDS + F_MEMCG;
  const rw = readersWord(a, t);
  const b = ops().lockIndexed(a, t);
  if (b < 0) return 0;
  let moved = 0;
  if (i32[fw] === owner && memcgState(a, owner) === MEMCG_DYING && (!head || i32[rw] < 0)) {
    // The new charge is already counted: only the dying cgroup's goes.
    if (lockdepOn) lockdepAccess(i32, b, fw, PROT.PAGE_MEMCG, SITE.MEMCG_MOVE, t, true);
    unchargeCounters(a, owner, 1);
    lruvecMove(a, t, to);
    // This reader's cgroup may have been removed since it was charged (chaos removes a cgroup while its
    // workers read). Checked under the bucket lock, as commit_charge checks: memcgOffline syncs the index
    // after marking the cgroup dying, so either its scan sees the page bound to `to` or this sees `to` dying.
    const toPolicy = memcgState(a, to) === MEMCG_ONLINE ? -1 : Atomics.load(i32, rec(a, to) + M_OFFPOLICY);
    if (toPolicy === CHARGE_REPARENT) memcgMovePage(a, t, to, nearestOnline(a, to), b);
    if (toPolicy === CHARGE_RECHARGE) Atomics.or(i32, rw, PENDING);
    else Atomics.and(i32, rw, ~PENDING);
    moved = 1;
  }
  ops().unlockIndexed(a, b);
  return moved;
}

function rechargeTail(a: Arena, t: number, owner: number, to: number): number {
  return rechargeOne(a, t, owner, to, false);
}

export const MEMCG_STEPS: Readonly<MemcgSteps> = Object.freeze({ reparentFrame, rechargePage, rechargeTail });
/** This thread's steps. */
export const memcgSteps: MemcgSteps = { ...MEMCG_STEPS };

// --- the cgroup table ------------------------------------------------------------------------------------

function tableAccess(a: Arena, id: number, site: number): void {
  lockdepAccess(a.i32, lockWord(a), rec(a, id) + M_STATE, PROT.MEMCG_TABLE, site, id, true);
}

/** Free dying cgroups that hold nothing any more (no charge, nothing on their lruvec). Table lock held. */
function reapLocked(a: Arena): void {
  const i32 = a.i32;
  for (let id = 1; id < NR_MEMCG; id++) {
    const r = rec(a, id);
    if (i32[r + M_STATE] !== MEMCG_DYING) continue;
    if (Atomics.load(i32, r + M_LOCAL) !== 0 || Atomics.load(i32, r + M_CURRENT) !== 0) continue;
    if (lruvecCount(a, id) !== 0) continue;
    let child = false;
    for (let c = 1; c < NR_MEMCG; c++)
      if (c !== id && i32[rec(a, c) + M_STATE] && i32[rec(a, c) + M_PARENT] === id) child = true;
    if (child) continue;
    if (lockdepOn) tableAccess(a, id, SITE.MEMCG_REAP);
    // Its bit in the reader bitmaps goes with it, so the id's next cgroup starts with no reads.
    const keep = ~(1 << id);
    for (let f = 0; f < a.nframes; f++) if (i32[rdBase + f] & ~keep) Atomics.and(i32, rdBase + f, keep);
    Atomics.store(i32, r + M_STATE, MEMCG_FREE);
  }
}

/** Free the dying cgroups that pin nothing any more (css_free); stat and create do it too. */
export function memcgReap(a: Arena): void {
  const i32 = a.i32;
  spinLock(i32, lockWord(a), LOCK_CLASS.MEMCG);
  reapLocked(a);
  spinUnlock(i32, lockWord(a));
}

/**
 * mem_cgroup_css_alloc + online: a new cgroup under `parent` with limits in pages (MEMCG_UNLIMITED for
 * none). Returns its id, or -1 when all NR_MEMCG ids are taken (by live or dying cgroups).
 */
export function memcgCreate(a: Arena, parent: number, max: number, high: number): number {
  const i32 = a.i32;
  spinLock(i32, lockWord(a), LOCK_CLASS.MEMCG);
  try {
    if (i32[rec(a, parent) + M_STATE] !== MEMCG_ONLINE) throw new RangeError(`parent cgroup ${parent} is not online`);
    reapLocked(a);
    let id = -1;
    for (let c = 1; c < NR_MEMCG && id < 0; c++) if (i32[rec(a, c) + M_STATE] === MEMCG_FREE) id = c;
    if (id < 0) return -1;
    if (lockdepOn) tableAccess(a, id, SITE.MEMCG_CREATE);
    const r = rec(a, id);
    const gen = i32[r + M_GEN];
    for (let w = 0; w < MEMCG_WORDS; w++) Atomics.store(i32, r + w, 0);
    Atomics.store(i32, r + M_GEN, gen + 1);
    Atomics.store(i32, r + M_PARENT, parent);
    Atomics.store(i32, r + M_MAX, max);
    Atomics.store(i32, r + M_HIGH, high);
    Atomics.store(i32, r + M_STATE, MEMCG_ONLINE);
    return id;
  } finally {
    spinUnlock(i32, lockWord(a));
  }
}

/** Write memory.max / memory.high (pages); a lower max reclaims down to it, as the kernel's write does. */
export function memcgSetLimits(a: Arena, id: number, max: number, high: number): void {
  const i32 = a.i32;
  spinLock(i32, lockWord(a), LOCK_CLASS.MEMCG);
  if (lockdepOn) tableAccess(a, id, SITE.MEMCG_CREATE);
  const online = i32[rec(a, id) + M_STATE] === MEMCG_ONLINE;
  if (online) {
    Atomics.store(i32, rec(a, id) + M_MAX, max);
    Atomics.store(i32, rec(a, id) + M_HIGH, high);
  }
  spinUnlock(i32, lockWord(a));
  if (!online) throw new RangeError(`memory cgroup ${id} is not online`);
  for (let tries = 0; tries < 16; tries++) {
    const excess = Atomics.load(i32, rec(a, id) + M_CURRENT) - max;
    if (excess <= 0 || ops().reclaim(a, id, excess) === 0) break;
  }
  // Pages it could not reclaim stay charged above the new limit (the kernel would OOM): not a charge's fault.
  if (Atomics.load(i32, rec(a, id) + M_CURRENT) > max) Atomics.store(i32, rec(a, id) + M_FORCED, 1);
}

/**
 * rmdir: take cgroup `id` offline (mem_cgroup_css_offline). Refused (an error) for the root, a cgroup
 * not online, or one with online children. Then its charges follow the policy: keep — they stay
 * (the cgroup is dying until its pages are reclaimed); reparent — every page it holds moves to its
 * parent now; recharge — its pages are marked, and the next other cgroup to read each pays for it.
 */
export function memcgOffline(a: Arena, id: number): void {
  const i32 = a.i32;
  spinLock(i32, lockWord(a), LOCK_CLASS.MEMCG);
  let err = '';
  if (id <= 0 || id >= NR_MEMCG || i32[rec(a, id) + M_STATE] !== MEMCG_ONLINE)
    err = `memory cgroup ${id} is not online`;
  else
    for (let c = 1; c < NR_MEMCG; c++)
      if (i32[rec(a, c) + M_STATE] === MEMCG_ONLINE && i32[rec(a, c) + M_PARENT] === id)
        err = `memory cgroup ${id} has children (EBUSY)`;
  const policy = chargePolicy(a);
  if (!err) {
    if (lockdepOn) tableAccess(a, id, SITE.MEMCG_OFFLINE);
    Atomics.store(i32, rec(a, id) + M_OFFPOLICY, policy);
    Atomics.store(i32, rec(a, id) + M_STATE, MEMCG_DYING);
  }
  spinUnlock(i32, lockWord(a));
  if (err) throw new RangeError(err);
  if (policy === CHARGE_KEEP) return;
  // Charges committed before the state changed are in frames now; later commits see it dying.
  ops().syncIndex(a);
  const to = nearestOnline(a, id);
  for (let f = 0; f < a.nframes; f++) {
    const r = a.frames + f * FRAME_WORDS;
    if (i32[r + F_MEMCG] !== id || i32[r + F_MAPPING] === NIL) continue;
    // Between two pages of a folio, readers run (stress jitter widens it: a reader finds the head done).
    if (pointsOn) point(POINT.MEMCG_MOVE);
    if (policy === CHARGE_REPARENT) memcgSteps.reparentFrame(a, f, id, to);
    else markRecharge(a, f, id);
  }
  if (policy === CHARGE_REPARENT) memcgReap(a);
}

/**
 * Mark frame f, bound to `id` (removed under recharge), for its next reader — under its bucket lock, as
 * a recharge moves it: a page a reader took over before the mark (a tail moved with its head) stays
 * unmarked, so no mark outlives the charge it was for.
 */
function markRecharge(a: Arena, f: number, id: number): void {
  const b = ops().lockIndexed(a, f);
  if (b < 0) return;
  if (a.i32[a.frames + f * FRAME_WORDS + F_MEMCG] === id) Atomics.or(a.i32, readersWord(a, f), PENDING);
  ops().unlockIndexed(a, b);
}

// --- figures -------------------------------------------------------------------------------------------

/** One cgroup's figures, in pages (memory.current, memory.stat, memory.events) and split bytes. */
export interface MemcgRaw {
  readonly id: number;
  readonly parent: number;
  readonly state: number;
  readonly gen: number;
  readonly current: number;
  readonly local: number;
  readonly max: number;
  readonly high: number;
  readonly activeFile: number;
  readonly refault: number;
  readonly activate: number;
  readonly pgscan: number;
  readonly pgsteal: number;
  readonly evHigh: number;
  readonly evMax: number;
  readonly evOom: number;
  /** Of the cached pages: read by it (pages), its share of them (bytes), charged to it and read by others too, read by it but charged to another. */
  readonly readPages: number;
  readonly splitBytes: number;
  readonly paidShared: number;
  readonly freeRead: number;
}

function popcount(x: number): number {
  let v = x - ((x >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}

/**
 * Every cgroup that exists (online or dying), its figures hierarchical as cgroup v2 shows them
 * (memory.stat and memory.events sum the subtree); readPages/split/paidShared/freeRead are its own. One
 * pass over the frames: exact when the kernel is quiet, a snapshot while readers run.
 */
export function memcgStats(a: Arena): MemcgRaw[] {
  const i32 = a.i32;
  memcgReap(a);
  const local = new Float64Array(NR_MEMCG * 6); // active, readPages, split, paidShared, freeRead
  for (let f = 0; f < a.nframes; f++) {
    const r = a.frames + f * FRAME_WORDS;
    if (i32[r + F_MAPPING] === NIL) continue;
    const owner = i32[r + F_MEMCG];
    const readers = Atomics.load(i32, rdBase + f) & ~PENDING;
    if (Atomics.load(i32, a.frames + folioHead(a, f) * FRAME_WORDS + F_FLAGS) & PG_REFERENCED) local[owner * 6]++;
    const n = popcount(readers);
    if (readers & ~(1 << owner)) local[owner * 6 + 3]++;
    for (let x = readers; x !== 0; x &= x - 1) {
      const id = 31 - Math.clz32(x & -x);
      local[id * 6 + 1]++;
      local[id * 6 + 2] += PAGE_SIZE / n;
      if (id !== owner) local[id * 6 + 4]++;
    }
  }
  const exists = (id: number): boolean => i32[rec(a, id) + M_STATE] !== MEMCG_FREE;
  const inSubtree = (c: number, id: number): boolean => {
    for (let x = c; x >= 0; x = i32[rec(a, x) + M_PARENT]) if (x === id) return true;
    return false;
  };
  const out: MemcgRaw[] = [];
  for (let id = 0; id < NR_MEMCG; id++) {
    if (!exists(id)) continue;
    const sum = (w: number): number => {
      let s = 0;
      for (let c = 0; c < NR_MEMCG; c++) if (exists(c) && inSubtree(c, id)) s += Atomics.load(i32, rec(a, c) + w);
      return s;
    };
    let active = 0;
    for (let c = 0; c < NR_MEMCG; c++) if (exists(c) && inSubtree(c, id)) active += local[c * 6];
    const r = rec(a, id);
    out.push({
      id,
      parent: i32[r + M_PARENT],
      state: i32[r + M_STATE],
      gen: i32[r + M_GEN],
      current: Atomics.load(i32, r + M_CURRENT),
      local: Atomics.load(i32, r + M_LOCAL),
      max: i32[r + M_MAX],
      high: i32[r + M_HIGH],
      activeFile: active,
      refault: sum(M_REFAULT),
      activate: sum(M_ACTIVATE),
      pgscan: sum(M_PGSCAN),
      pgsteal: sum(M_PGSTEAL),
      evHigh: sum(M_EV_HIGH),
      evMax: sum(M_EV_MAX),
      evOom: sum(M_EV_OOM),
      readPages: local[id * 6 + 1],
      splitBytes: local[id * 6 + 2],
      paidShared: local[id * 6 + 3],
      freeRead: local[id * 6 + 4],
    });
  }
  return out;
}

/** Zero every cgroup's event counters and memory.stat events (refaults, scans, steals, events). */
export function memcgResetEvents(a: Arena): void {
  for (let id = 0; id < NR_MEMCG; id++) {
    const r = rec(a, id);
    for (const w of [M_REFAULT, M_ACTIVATE, M_PGSCAN, M_PGSTEAL, M_EV_HIGH, M_EV_MAX, M_EV_OOM])
      Atomics.store(a.i32, r + w, 0);
  }
}

/** Does frame f carry the recharge mark (charged to a cgroup removed under recharge: its next reader pays)? */
export function pageRechargePending(a: Arena, f: number): boolean {
  return Atomics.load(a.i32, readersWord(a, f)) < 0;
}

/**
 * For tests replaying an interleaving: set or clear frame f's recharge mark as memcgOffline's scan would
 * have it at some point of its loop (it marks a folio's pages one by one).
 */
export function setPageRechargePending(a: Arena, f: number, on: boolean): void {
  if (on) Atomics.or(a.i32, readersWord(a, f), PENDING);
  else Atomics.and(a.i32, readersWord(a, f), ~PENDING);
}

/** The cgroup frame f's page is charged to (the binding that also names its folio's lruvec). */
export function pageMemcg(a: Arena, f: number): number {
  return a.i32[a.frames + f * FRAME_WORDS + F_MEMCG];
}

/**
 * A folio is charged as one (the kernel's folio has one memcg): every cached page of a folio bound to
 * the cgroup of its head, whose lruvec the folio sits on. Returns the violations.
 */
export function memcgFolioViolations(a: Arena): string[] {
  const i32 = a.i32;
  const v: string[] = [];
  for (let h = 0; h < a.nframes; h++) {
    if (i32[a.frames + h * FRAME_WORDS + F_MAPPING] === NIL || folioHead(a, h) !== h) continue;
    const id = pageMemcg(a, h);
    const nr = folioNrPages(a, h);
    for (let t = h + 1; t < h + nr; t++)
      if (i32[a.frames + t * FRAME_WORDS + F_MAPPING] !== NIL && pageMemcg(a, t) !== id)
        v.push(`folio ${h} (${nr} pages) charged to cgroup ${id}, its page ${t} to cgroup ${pageMemcg(a, t)}`);
  }
  return v;
}

/**
 * The memcg invariants at quiescence (no read in flight): each cgroup's direct charge equals the cached
 * pages bound to it, each usage the sum of its subtree's, their total the pages in the cache; no cached
 * page bound to a freed cgroup; none to a cgroup removed under reparent; a page left with one removed
 * under recharge is marked for its next reader. Returns the violations.
 */
export function memcgCheckQuiescent(a: Arena, filePages: number): string[] {
  const i32 = a.i32;
  const v: string[] = [];
  const bound = new Int32Array(NR_MEMCG);
  for (let f = 0; f < a.nframes; f++) {
    const r = a.frames + f * FRAME_WORDS;
    if (i32[r + F_MAPPING] === NIL) continue;
    const id = i32[r + F_MEMCG];
    if (id < 0 || id >= NR_MEMCG) {
      v.push(`frame ${f} charged to cgroup ${id}, no such id`);
      continue;
    }
    bound[id]++;
    const st = i32[rec(a, id) + M_STATE];
    const policy = i32[rec(a, id) + M_OFFPOLICY];
    if (st === MEMCG_FREE) v.push(`frame ${f} charged to freed cgroup ${id}`);
    else if (st === MEMCG_DYING && policy === CHARGE_REPARENT)
      v.push(`frame ${f} still charged to removed cgroup ${id} under reparent`);
    else if (st === MEMCG_DYING && policy === CHARGE_RECHARGE && i32[rdBase + f] >= 0)
      v.push(`frame ${f} charged to removed cgroup ${id} without a recharge mark`);
  }
  let total = 0;
  for (let id = 0; id < NR_MEMCG; id++) {
    const r = rec(a, id);
    const loc = Atomics.load(i32, r + M_LOCAL);
    total += loc;
    if (loc !== bound[id]) v.push(`cgroup ${id}: charged ${loc} pages directly, ${bound[id]} cached pages bound to it`);
    let sub = 0;
    for (let c = 0; c < NR_MEMCG; c++) {
      if (i32[rec(a, c) + M_STATE] === MEMCG_FREE) continue;
      for (let x = c; x >= 0; x = i32[rec(a, x) + M_PARENT])
        if (x === id) {
          sub += Atomics.load(i32, rec(a, c) + M_LOCAL);
          break;
        }
    }
    const cur = Atomics.load(i32, r + M_CURRENT);
    if (cur !== sub) v.push(`cgroup ${id}: memory.current ${cur} pages != its subtree's charges ${sub}`);
    // Every charge checked its limits; only charges moved in by reparenting (in its subtree) may pass them.
    let forced = false;
    for (let c = 0; c < NR_MEMCG; c++)
      if (i32[rec(a, c) + M_STATE] !== MEMCG_FREE && i32[rec(a, c) + M_FORCED])
        for (let x = c; x >= 0; x = i32[rec(a, x) + M_PARENT]) if (x === id) forced = true;
    const max = i32[r + M_MAX];
    if (i32[r + M_STATE] === MEMCG_ONLINE && !forced && cur > max)
      v.push(`cgroup ${id}: memory.current ${cur} pages > memory.max ${max}`);
  }
  if (total !== filePages) v.push(`charges sum to ${total} pages, the page cache holds ${filePages}`);
  return v;
}

/** The cgroups of id's subtree that exist (online or dying), id first, into out; returns how many. */
export function memcgSubtree(a: Arena, id: number, out: Int32Array): number {
  const i32 = a.i32;
  let n = 0;
  out[n++] = id;
  for (let c = 0; c < NR_MEMCG; c++) {
    if (c === id || i32[rec(a, c) + M_STATE] === MEMCG_FREE) continue;
    for (let x = i32[rec(a, c) + M_PARENT]; x >= 0; x = i32[rec(a, x) + M_PARENT])
      if (x === id) {
        out[n++] = c;
        break;
      }
  }
  return n;
}
