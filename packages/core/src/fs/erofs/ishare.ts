// Inode page-cache sharing (fs/erofs/ishare.c of the v7 seed, plus mainline's simpler real-inode pick).
//
// Each regular file with a fingerprint joins one shared ("dedup") inode per (domain, fingerprint, proved:
// whether it joined on a verify mount), found or created with iget5 on the anonymous mount. The shared inode owns the page cache every such file
// reads through; to fill a page it maps blocks through a live *backing* inode from one of the images.
// The shared inode's spinlock (vi->lock) guards its backing list and processing list; a backing inode's
// processingCount says how many reads of it are in flight (erofs_read_begin/end).
//
// Fields (in the fs-private part of the inode record, I_FS-relative; this module owns them):
import { declareHeaderWord, type Arena } from '../../mm/arena.ts';
import { spinLock, spinUnlock } from '../../mm/spinlock.ts';
import {
  listSpec,
  listAdd,
  listDel,
  listInitHead,
  linkInit,
  isLinked,
  listFirst,
  listNext,
  listCount,
  NIL,
  type ListSpec,
} from '../../mm/list.ts';
import { ctrInc, CTR } from './counters.ts';
import {
  I_FS,
  INODE_WORDS,
  ANON_MOUNT,
  iget,
  igrab,
  ihold,
  iput,
  inodeSize,
  setInodeSize,
  type InodeOps,
  inodeSlots,
  inodeTableBase,
} from '../../vfs/inode.ts';
import { pointsOn, point } from '../../mm/points.ts';
import { POINT } from './points.ts';
import { reportCheckFailure, invariantsOn, InvariantViolation } from '../../mm/checkfail.ts';
import { lockdepOn, lockdepAccess } from '../../mm/lockdep.ts';
import { LOCK_CLASS, PROT, SITE } from './locks.ts';
import { createHash } from 'node:crypto';
import { genericFadvise } from '../../vfs/fadvise.ts';
import type { OpenFile, OpenFlags, FadviseAdvice } from '../../vfs/file.ts';
import type { Kernel } from '../../vfs/kernel.ts';
import { ErofsError } from '../../erofs/errors.ts';

// Backing-inode side.
const X_ISHARE = 0; // slot of the shared inode this file reads through, or NIL
const X_BACK_PREV = 1; // backing_link
const X_BACK_NEXT = 2;
const X_PROC_PREV = 3; // processing_link
const X_PROC_NEXT = 4;
const X_PROC_COUNT = 5; // processing_count
// Shared-inode side.
const X_LOCK = 6; // vi->lock
const X_BACK_HEAD = 7; // backing_head (2 words)
const X_PROC_HEAD = 9; // processing_head (2 words)
const X_NBACKING = 11; // length of the backing list
const X_KEY = 12; // 8 words: sha256(domain \0 fingerprint proof), proof = 1 on a verify mount, else 0
const X_DATAPATH = 20; // DATAPATH_*: how the shared inode's pages are filled (mainline: same a_ops)
const X_WORDS = 21;
if (X_WORDS > 32) throw new Error('ishare fields exceed the inode fs-private area');

export const POLICY_PROCESSING = 0; // v7 seed: an inode whose reader is active first, then any
export const POLICY_ANY = 1; // mainline erofs_real_inode: the first igrab-able backing inode
export type RealInodePolicy = 'processing' | 'any';
export function policyCode(p: RealInodePolicy): number {
  return p === 'any' ? POLICY_ANY : POLICY_PROCESSING;
}

// The realInode policy every thread follows: a header word of the arena this module owns.
declareHeaderWord('erofs.policy');
let policyArena: Arena | undefined;
let policyIndex = 0;
function policyWord(a: Arena): number {
  if (a !== policyArena) {
    policyIndex = a.headerWord('erofs.policy');
    policyArena = a;
  }
  return policyIndex;
}
/** The realInode policy of arena `a` (POLICY_*). */
export function realInodePolicy(a: Arena): number {
  return Atomics.load(a.i32, policyWord(a));
}
export function setRealInodePolicy(a: Arena, p: RealInodePolicy): void {
  Atomics.store(a.i32, policyWord(a), policyCode(p));
}

interface IshareSpecs {
  readonly backing: ListSpec;
  readonly processing: ListSpec;
  /** Word index of the fs-private area of inode slot 0 (inodeTableBase + I_FS). */
  readonly base: number;
}
// Resolved once per arena and kept for the last arena asked about (every thread has one arena): the
// share path asks at every join, read_begin/end and real-inode pick, where a WeakMap lookup per call
// (and per field word) was measurable beside the unshared path, which has none.
const specCache = new WeakMap<Arena, IshareSpecs>();
let lastArena: Arena | undefined;
let lastSpecs: IshareSpecs = { backing: listSpec(0, 1, 0, 0), processing: listSpec(0, 1, 0, 0), base: 0 };
function specs(a: Arena): IshareSpecs {
  if (a === lastArena) return lastSpecs;
  let s = specCache.get(a);
  if (!s) {
    s = {
      backing: listSpec(inodeTableBase(a) + I_FS, INODE_WORDS, X_BACK_PREV, X_BACK_NEXT),
      processing: listSpec(inodeTableBase(a) + I_FS, INODE_WORDS, X_PROC_PREV, X_PROC_NEXT),
      base: inodeTableBase(a) + I_FS,
    };
    specCache.set(a, s);
  }
  lastArena = a;
  lastSpecs = s;
  return s;
}
function xw(a: Arena, slot: number, w: number): number {
  return specs(a).base + slot * INODE_WORDS + w;
}

/**
 * The lookup key of a shared inode: the domain scopes the fingerprint (never shared across domains), and
 * the key records whether the file proved its content (`verified`: it joined on a verify mount, after
 * verify.ts hashed it). Proved and unproved files of one domain therefore never meet on one shared inode:
 * a verifying mount neither takes pages filled through an inode that joined on the fingerprint's word
 * alone, nor gives its pages to one — whichever mount reads first. Unverified mounts share among
 * themselves as before, verified ones among themselves.
 */
export interface IshareKey {
  readonly words: Int32Array; // ISHARE_KEY_WORDS words; the first is the shared inode's icache hash
}
/** Words in a shared-inode key (a sha256). */
export const ISHARE_KEY_WORDS = 8;
export function ishareKey(domainId: string, fingerprintHex: string, verified: boolean): IshareKey {
  return ishareSteps.key(domainId, fingerprintHex, verified);
}

/** sha256(scope \0 fingerprint verified) as the key's words. */
export function ishareKeyOf(scope: string, fingerprintHex: string, verified: boolean): IshareKey {
  const h = createHash('sha256');
  h.update(scope, 'utf8');
  h.update(Buffer.from([0]));
  h.update(Buffer.from(fingerprintHex, 'hex'));
  // Last and of fixed length: the two kinds of key hash distinct inputs whatever the domain and value.
  h.update(Buffer.from([verified ? 1 : 0]));
  const d = h.digest();
  const words = new Int32Array(ISHARE_KEY_WORDS);
  for (let i = 0; i < ISHARE_KEY_WORDS; i++) words[i] = d.readInt32LE(i * 4);
  return { words };
}

/** A regular inode starts detached from any shared inode. */
export function ishareInitInode(a: Arena, slot: number): void {
  const i32 = a.i32;
  i32[xw(a, slot, X_ISHARE)] = NIL;
  linkInit(i32, specs(a).backing, slot);
  linkInit(i32, specs(a).processing, slot);
  Atomics.store(i32, xw(a, slot, X_PROC_COUNT), 0);
}

export function ishareOf(a: Arena, slot: number): number {
  return a.i32[xw(a, slot, X_ISHARE)];
}

/** The key stored in shared inode `slot` is the ISHARE_KEY_WORDS words of `kw` from `ko`. */
function keyMatches(a: Arena, slot: number, kw: Int32Array, ko: number): boolean {
  const i32 = a.i32;
  const base = xw(a, slot, X_KEY);
  for (let i = 0; i < ISHARE_KEY_WORDS; i++) if (i32[base + i] !== kw[ko + i]) return false;
  return true;
}

export type FillResult = 'shared' | 'size-mismatch' | 'datapath-mismatch';

// iget5's test and set for the join under way in this thread: two functions made once, reading the join's
// arguments from here, instead of two closures allocated per file opened (iget calls both synchronously,
// under the icache bucket lock, before it returns; nothing in between joins another file).
// The key is words of an array (`kw` from `ko`): a mount's key table (ishare_keys.ts) holds them there.
const join: { a: Arena | undefined; kw: Int32Array | undefined; ko: number; size: number; dataPath: number } = {
  a: undefined,
  kw: undefined,
  ko: 0,
  size: 0,
  dataPath: 0,
};
function joinTest(s: number): boolean {
  const { a, kw } = join;
  if (a === undefined || kw === undefined) throw new Error('ishare: iget test outside a join');
  return keyMatches(a, s, kw, join.ko);
}
function joinInit(s: number): void {
  const { a, kw, ko } = join;
  if (a === undefined || kw === undefined) throw new Error('ishare: iget set outside a join');
  const i32 = a.i32;
  const base = xw(a, s, X_KEY);
  for (let i = 0; i < ISHARE_KEY_WORDS; i++) i32[base + i] = kw[ko + i];
  i32[xw(a, s, X_LOCK)] = 0;
  listInitHead(i32, xw(a, s, X_BACK_HEAD));
  listInitHead(i32, xw(a, s, X_PROC_HEAD));
  i32[xw(a, s, X_NBACKING)] = 0;
  i32[xw(a, s, X_ISHARE)] = NIL;
  setInodeSize(a, s, join.size);
  i32[xw(a, s, X_DATAPATH)] = join.dataPath;
  ctrInc(i32, CTR.ISHARE_CREATED);
}
/** Data paths (the kernel's address_space_operations): plain blocks, or compressed pclusters. */
export const DATAPATH_FLAT = 0;
export const DATAPATH_COMPRESSED = 1;

/**
 * erofs_ishare_fill_inode: attach backing inode `slot` (of size `size`) to the shared inode whose key is
 * the ISHARE_KEY_WORDS words of `keyWords` from `keyOff` (an IshareKey's `words` from 0, or a mount's key table),
 * creating it if needed. The shared inode keeps one reference per backing inode.
 */
export function ishareFillInode(
  a: Arena,
  slot: number,
  keyWords: Int32Array,
  keyOff: number,
  size: number,
  dedupOps: InodeOps,
  dataPath = DATAPATH_FLAT,
): FillResult {
  const i32 = a.i32;
  join.a = a;
  join.kw = keyWords;
  join.ko = keyOff;
  join.size = size;
  join.dataPath = dataPath;
  let dedup: number;
  try {
    // The key's first word is its hash (ishareKeyOf).
    dedup = iget(a, ANON_MOUNT, keyWords[keyOff], dedupOps, joinTest, joinInit);
  } finally {
    join.a = undefined;
    join.kw = undefined;
  }
  if (!ishareSteps.sameSize(a, dedup, size)) {
    iput(a, dedup, dedupOps);
    ctrInc(i32, CTR.ISHARE_SIZE_MISMATCH);
    return 'size-mismatch';
  }
  // Mainline refuses to mix address_space_operations: a compressed file's pages are filled pcluster by
  // pcluster, a plain file's block by block — one shared page cache cannot be filled both ways.
  if (i32[xw(a, dedup, X_DATAPATH)] !== dataPath) {
    iput(a, dedup, dedupOps);
    ctrInc(i32, CTR.ISHARE_DATAPATH_MISMATCH);
    return 'datapath-mismatch';
  }
  if (pointsOn) point(POINT.ISHARE_FILL);
  i32[xw(a, slot, X_ISHARE)] = dedup;
  spinLock(i32, xw(a, dedup, X_LOCK), LOCK_CLASS.ISHARE);
  if (lockdepOn) backingAccess(a, slot, dedup, SITE.ISHARE_FILL);
  listAdd(i32, specs(a).backing, xw(a, dedup, X_BACK_HEAD), slot);
  i32[xw(a, dedup, X_NBACKING)]++;
  spinUnlock(i32, xw(a, dedup, X_LOCK));
  ctrInc(i32, CTR.ISHARE_FILLED);
  return 'shared';
}

/**
 * erofs_ishare_free_inode: a backing inode is being evicted — leave the backing list and drop its
 * reference on the shared inode (the last one frees the shared inode and its pages).
 */
export function ishareFreeInode(a: Arena, slot: number, dedupOps: InodeOps): void {
  const i32 = a.i32;
  const dedup = i32[xw(a, slot, X_ISHARE)];
  if (dedup === NIL) return;
  if (pointsOn) point(POINT.EVICT_BACKING);
  const lock = xw(a, dedup, X_LOCK);
  ishareSteps.freeLock(i32, lock);
  const s = specs(a);
  if (lockdepOn) {
    backingAccess(a, slot, dedup, SITE.ISHARE_FREE);
    const onProc = isLinked(i32, s.processing, slot);
    lockdepAccess(i32, lock, xw(a, dedup, X_PROC_HEAD), PROT.PROCESSING_LIST, SITE.ISHARE_FREE, dedup, onProc);
    lockdepAccess(i32, lock, xw(a, slot, X_PROC_PREV), PROT.PROCESSING_LINK, SITE.ISHARE_FREE, slot, onProc);
  }
  if (isLinked(i32, s.backing, slot)) {
    listDel(i32, s.backing, xw(a, dedup, X_BACK_HEAD), slot);
    i32[xw(a, dedup, X_NBACKING)]--;
  }
  // An evicted inode has no reader in flight; stay safe if a bug left it on the processing list.
  if (isLinked(i32, s.processing, slot)) listDel(i32, s.processing, xw(a, dedup, X_PROC_HEAD), slot);
  const last = i32[xw(a, dedup, X_NBACKING)] === 0;
  ishareSteps.freeUnlock(i32, lock);
  i32[xw(a, slot, X_ISHARE)] = NIL;
  ishareSteps.putShared(a, dedup, last, dedupOps);
}

/** drop_inode for shared inodes: free at the last put once no backing inode is left. */
export function ishareShouldDrop(a: Arena, dedup: number): boolean {
  return a.i32[xw(a, dedup, X_NBACKING)] === 0;
}

/** Both readBegin and readEnd touch the processing list of `dedup` and the processingCount of `vi`. */
function processingAccess(a: Arena, vi: number, dedup: number, site: number): void {
  const i32 = a.i32;
  const lock = xw(a, dedup, X_LOCK);
  lockdepAccess(i32, lock, xw(a, vi, X_PROC_COUNT), PROT.PROCESSING_COUNT, site, vi, true);
  lockdepAccess(i32, lock, xw(a, dedup, X_PROC_HEAD), PROT.PROCESSING_LIST, site, dedup, true);
  lockdepAccess(i32, lock, xw(a, vi, X_PROC_PREV), PROT.PROCESSING_LINK, site, vi, true);
}

/** Joining or leaving the backing list: its head, its length and the backing inode's own link. */
function backingAccess(a: Arena, slot: number, dedup: number, site: number): void {
  const i32 = a.i32;
  const lock = xw(a, dedup, X_LOCK);
  lockdepAccess(i32, lock, xw(a, dedup, X_BACK_HEAD), PROT.BACKING_LIST, site, dedup, true);
  lockdepAccess(i32, lock, xw(a, dedup, X_NBACKING), PROT.BACKING_COUNT, site, dedup, true);
  lockdepAccess(i32, lock, xw(a, slot, X_BACK_PREV), PROT.BACKING_LINK, site, slot, true);
}

/**
 * erofs_read_begin: the reading (backing) inode `vi` joins the processing list of `dedup`. The count is
 * read, changed and written back as separate steps: the shared inode's lock makes that safe.
 */
export function readBegin(a: Arena, vi: number, dedup: number): void {
  const i32 = a.i32;
  const lock = xw(a, dedup, X_LOCK);
  const cnt = xw(a, vi, X_PROC_COUNT);
  ishareSteps.processingLock(i32, lock);
  if (lockdepOn) processingAccess(a, vi, dedup, SITE.READ_BEGIN);
  // A plain read (atomic_read): every write of the count holds this lock, so it cannot change meanwhile.
  const c = i32[cnt];
  if (pointsOn) point(POINT.READ_BEGIN_LOCKED);
  if (isLinked(i32, specs(a).processing, vi)) {
    ctrInc(i32, CTR.PROC_REJOIN);
    ishareSteps.countAgain(i32, cnt, c);
  } else {
    listAdd(i32, specs(a).processing, xw(a, dedup, X_PROC_HEAD), vi);
    Atomics.store(i32, cnt, 1);
  }
  ishareSteps.processingUnlock(i32, lock);
}

/** erofs_read_end: leave the processing list when the last read in flight ends. */
export function readEnd(a: Arena, vi: number, dedup: number): void {
  const i32 = a.i32;
  const lock = xw(a, dedup, X_LOCK);
  const cnt = xw(a, vi, X_PROC_COUNT);
  ishareSteps.processingLock(i32, lock);
  if (lockdepOn) processingAccess(a, vi, dedup, SITE.READ_END);
  const c = i32[cnt] - 1;
  if (pointsOn) point(POINT.READ_END_LOCKED);
  Atomics.store(i32, cnt, c);
  // DBG_BUGON(count < 0): a read_end without its read_begin. Under the lock: reported, raised at the end
  // of the call; the allocation happens only on the failure.
  if (invariantsOn && c < 0)
    reportCheckFailure(
      new InvariantViolation(
        `processingCount of inode ${vi} went negative (${c}) in readEnd: a read ended that readBegin did not count`,
      ),
    );
  // list_del_init: harmless on an entry that is already off the list.
  if (c === 0 && isLinked(i32, specs(a).processing, vi))
    listDel(i32, specs(a).processing, xw(a, dedup, X_PROC_HEAD), vi);
  ishareSteps.processingUnlock(i32, lock);
}

/**
 * erofs_ishare_iget (v7, policy processing) / erofs_real_inode (mainline, policy any): pick a live
 * backing inode of `dedup` and take a reference on it. NIL when the backing list is empty or every igrab
 * failed (all candidates are being freed) — the caller retries or reports an I/O error; the seed left
 * realinode uninitialised / NULL there. `out.grabbed` says whether the inode returned is referenced.
 *
 * `own` is the reader's own backing inode (NIL for none), which its open file references for the whole
 * read: the pick is the seed's, candidate by candidate, but when it lands on `own` no reference is
 * taken (`out.grabbed` false) — igrab could not fail on it, and the file's reference already keeps it
 * alive until the read ends. That spares the igrab/iput pair on the one inode two threads reading
 * stripes of one file both pick, a cache line both cores would otherwise write at every readahead.
 *
 * When the walk's first candidate is `own` the answer is known without the lock, and is taken so: the head
 * word of the list walked first (the processing list for policy processing, where the reader's own
 * read_begin put its inode at the front; the backing list for policy any) is read once, and if it names
 * `own`, that is what the locked walk would have returned at that moment (list_add and list_del change the
 * head in one store, under the lock). Whatever the lists hold, returning `own` is safe: the reader's open
 * file pins it. Any other head takes the lock and walks as the seed does. A reader alone on a shared
 * inode — every read of a file no other image holds — so takes the lock for read_begin and read_end only,
 * not once more per extent mapped. The load is a deliberate lockless read of a word the lock guards (the
 * kernel's READ_ONCE): it is not reported to lockdep or the race detector, which would rightly count it
 * as unlocked.
 */
export function realInode(
  a: Arena,
  dedup: number,
  policy: number,
  out: { grabbed: boolean; candidates: number },
  own = NIL,
): number {
  const i32 = a.i32;
  if (
    own !== NIL &&
    Atomics.load(i32, xw(a, dedup, policy === POLICY_PROCESSING ? X_PROC_HEAD : X_BACK_HEAD)) === own
  ) {
    out.grabbed = false;
    out.candidates = 1;
    ctrInc(i32, CTR.REALINODE_OWN);
    ctrInc(i32, policy === POLICY_PROCESSING ? CTR.REALINODE_PROCESSING : CTR.REALINODE_BACKING);
    return own;
  }
  const s = specs(a);
  const lock = xw(a, dedup, X_LOCK);
  const grab = ishareSteps.grab;
  out.grabbed = true;
  out.candidates = 0;
  spinLock(i32, lock, LOCK_CLASS.ISHARE);
  if (lockdepOn) {
    lockdepAccess(i32, lock, xw(a, dedup, X_PROC_HEAD), PROT.PROCESSING_LIST, SITE.REAL_INODE, dedup, false);
    lockdepAccess(i32, lock, xw(a, dedup, X_BACK_HEAD), PROT.BACKING_LIST, SITE.REAL_INODE, dedup, false);
  }
  const limit = inodeSlots(a);
  if (policy === POLICY_PROCESSING) {
    let n = 0;
    for (
      let vi = listFirst(i32, xw(a, dedup, X_PROC_HEAD));
      vi !== NIL && n++ < limit;
      vi = listNext(i32, s.processing, vi)
    ) {
      out.candidates++;
      if (takeCandidate(a, vi, own, out, grab)) {
        spinUnlock(i32, lock);
        ctrInc(i32, CTR.REALINODE_PROCESSING);
        return vi;
      }
    }
  }
  let n = 0;
  for (
    let vi = listFirst(i32, xw(a, dedup, X_BACK_HEAD));
    vi !== NIL && n++ < limit;
    vi = listNext(i32, s.backing, vi)
  ) {
    out.candidates++;
    if (takeCandidate(a, vi, own, out, grab)) {
      spinUnlock(i32, lock);
      ctrInc(i32, CTR.REALINODE_BACKING);
      return vi;
    }
  }
  spinUnlock(i32, lock);
  return NIL;
}

/**
 * One candidate of realInode's walk, under the shared inode's lock: the reader's own inode as it is (its
 * open file's reference keeps it), any other through the igrab step. True if the pick is `vi`.
 */
function takeCandidate(
  a: Arena,
  vi: number,
  own: number,
  out: { grabbed: boolean },
  grab: IshareSteps['grab'],
): boolean {
  if (vi === own) {
    out.grabbed = false;
    ctrInc(a.i32, CTR.REALINODE_OWN);
    return true;
  }
  if (pointsOn) point(POINT.BEFORE_IGRAB);
  return grab(a, vi, out);
}

function lockShared(i32: Int32Array, lock: number): void {
  spinLock(i32, lock, LOCK_CLASS.ISHARE);
}

/**
 * The steps of sharing, one function each, that production code calls through. Entries are the correct
 * implementations; the stress harness's planted bugs (debug/bugs/) install their own version of one of
 * them in their thread, so a user runs the very code a clean stress run tests.
 */
export interface IshareSteps {
  /** The shared-inode key of a fingerprint in a domain (ishareKey). */
  key: (domainId: string, fingerprintHex: string, verified: boolean) => IshareKey;
  /** iget5's test at join: the shared inode has the joining file's size. */
  sameSize: (a: Arena, dedup: number, size: number) => boolean;
  /** vi->lock around leaving the backing list (erofs_ishare_free_inode). */
  freeLock: (i32: Int32Array, lock: number) => void;
  freeUnlock: (i32: Int32Array, lock: number) => void;
  /** A freed backing inode drops its reference on the shared inode (`last`: no backing inode left). */
  putShared: (a: Arena, dedup: number, last: boolean, dedupOps: InodeOps) => void;
  /** vi->lock around the processing list and count (erofs_read_begin/end). */
  processingLock: (i32: Int32Array, lock: number) => void;
  processingUnlock: (i32: Int32Array, lock: number) => void;
  /** read_begin of an inode another read keeps listed already: count this read too (`c`: the count). */
  countAgain: (i32: Int32Array, cnt: number, c: number) => void;
  /** realInode, under vi->lock: take a reference on candidate `vi`; false when it is being freed. */
  grab: (a: Arena, vi: number, out: { grabbed: boolean }) => boolean;
}
export const ISHARE_STEPS: Readonly<IshareSteps> = Object.freeze({
  key: (domainId: string, fingerprintHex: string, verified: boolean) => ishareKeyOf(domainId, fingerprintHex, verified),
  sameSize: (a: Arena, dedup: number, size: number) => inodeSize(a, dedup) === size,
  freeLock: lockShared,
  freeUnlock: spinUnlock,
  putShared: (a: Arena, dedup: number, _last: boolean, dedupOps: InodeOps) => {
    iput(a, dedup, dedupOps);
  },
  processingLock: lockShared,
  processingUnlock: spinUnlock,
  countAgain: (i32: Int32Array, cnt: number, c: number) => {
    Atomics.store(i32, cnt, c + 1);
  },
  grab: (a: Arena, vi: number) => igrab(a, vi),
});
/** This thread's steps (the correct ones unless the stress harness planted a bug). */
export const ishareSteps: IshareSteps = { ...ISHARE_STEPS };

/** Introspection for reports and invariant checks (takes the shared inode's lock). */
export interface SharedInodeView {
  readonly backing: number[];
  readonly processing: number[];
  readonly nbacking: number;
}
export function sharedInodeView(a: Arena, dedup: number): SharedInodeView {
  const i32 = a.i32;
  const s = specs(a);
  const lock = xw(a, dedup, X_LOCK);
  spinLock(i32, lock, LOCK_CLASS.ISHARE);
  if (lockdepOn) {
    lockdepAccess(i32, lock, xw(a, dedup, X_PROC_HEAD), PROT.PROCESSING_LIST, SITE.SHARED_VIEW, dedup, false);
    lockdepAccess(i32, lock, xw(a, dedup, X_BACK_HEAD), PROT.BACKING_LIST, SITE.SHARED_VIEW, dedup, false);
    lockdepAccess(i32, lock, xw(a, dedup, X_NBACKING), PROT.BACKING_COUNT, SITE.SHARED_VIEW, dedup, false);
  }
  const backing: number[] = [];
  const processing: number[] = [];
  const limit = inodeSlots(a) + 1;
  for (
    let vi = listFirst(i32, xw(a, dedup, X_BACK_HEAD));
    vi !== NIL && backing.length < limit;
    vi = listNext(i32, s.backing, vi)
  )
    backing.push(vi);
  for (
    let vi = listFirst(i32, xw(a, dedup, X_PROC_HEAD));
    vi !== NIL && processing.length < limit;
    vi = listNext(i32, s.processing, vi)
  )
    processing.push(vi);
  const nbacking = i32[xw(a, dedup, X_NBACKING)];
  spinUnlock(i32, lock);
  return { backing, processing, nbacking };
}
export function processingCount(a: Arena, vi: number): number {
  return Atomics.load(a.i32, xw(a, vi, X_PROC_COUNT));
}
export function backingListLength(a: Arena, dedup: number): number {
  return listCount(a.i32, specs(a).backing, xw(a, dedup, X_BACK_HEAD), inodeSlots(a));
}

/**
 * erofs_ishare_file_open: a shared file reads through its shared inode, which the file pins; it
 * refuses O_DIRECT — direct I/O would bypass the one page cache every image's copy of this content
 * reads through (mainline returns EINVAL). A file that is not shared reads through its own inode.
 */
export function ishareFileOpen(k: Kernel, slot: number, flags: OpenFlags, path: string): number {
  const dedup = ishareOf(k.a, slot);
  if (dedup < 0) return slot;
  ishareCheckOpen(flags.direct === true, path);
  ihold(k.a, dedup);
  return dedup;
}

export function ishareCheckOpen(direct: boolean, path: string): void {
  if (direct) throw new ErofsError('EINVAL', `${path}: O_DIRECT is not supported on a shared (inode_share) file`);
}

/**
 * erofs_ishare_fadvise: advice on a shared file goes to the shared inode, whose mapping holds the
 * pages — so POSIX_FADV_DONTNEED from one image drops them for every image sharing that content. The
 * file's mapping already is the shared inode's (ishareFileOpen), so generic advice on it does that.
 */
export function ishareFadvise(k: Kernel, file: OpenFile, offset: number, len: number, advice: FadviseAdvice): number {
  return genericFadvise(k, file, offset, len, advice);
}
