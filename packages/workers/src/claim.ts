// The shared state of one ReaderPool.readClaimed run with `split` (one SharedArrayBuffer, owned by this
// module; the files themselves are claimed from the run's ranges, ranges.ts): one slot per worker in
// which a worker that claimed a big file publishes that file's stripes (the kernel's readahead spread
// over CPUs: a compressed file's pclusters decoded by several threads at once). Idle workers claim
// stripes from any published slot before they claim another file; the publishing worker claims them
// too. Each stripe is read by exactly one thread.
//
// A slot's claim word packs a generation (bits 20..29; odd = being rewritten) with the next stripe
// (bits 0..19): a stripe is claimed by compare-and-swap on that word, so a claim can only take a
// stripe of the publication it read the count of. The owner rewrites its slot only after every stripe
// of the previous publication was read to the end (`done`), so a claimer reads the cut points after
// its claim without a lock.
//
// The words every worker writes per file are kept apart (each on a line of its own, as the kernel keeps
// per-CPU data and hot atomics on their own cache lines): each slot (its owner's "file claimed, not yet
// settled" flag — per slot, not one shared count — and its stripes' claim and done words); and the
// wake-up sequence, bumped and notified only while a worker waits on it (only idle workers at the end
// of a run do: a waiter count, as the page lock's PG_WAITERS bit spares unlock_page the wake-up).
// A worker reading a plain pass of cached files (nothing to publish) writes its own slot and its range.

import type { FileRanges } from './ranges.ts';

// Header, Int32 words; LINE words apart (two 64-byte cache lines: the buffer's start need not be aligned).
const LINE = 32;
const W_SEQ = LINE; // bumped (and notified) when a file settles while anyone waits: idle workers wait on it
const W_WAITERS = LINE + 1; // workers waiting on W_SEQ (or about to)
const W_SLOTS = LINE + 2; // next slot index (one per task)
const HEADER = 2 * LINE;
// Per slot (2 LINEs: the claim words other workers read per file, then the flag its owner writes per file):
const S_CLAIM = 0;
const S_FILE = 1;
const S_PARTS = 2;
const S_DONE = 3;
const S_PENDING = LINE; // the slot's owner claimed a file it has not yet published or chosen to read whole
const SLOT_WORDS = 2 * LINE;
const GEN_SHIFT = 20;
const NEXT_MASK = (1 << GEN_SHIFT) - 1;
const GEN_MASK = 0x3ff;

/** Most stripes one file is cut into (the cut points of one slot). */
export const MAX_PARTS = 1024;

export function claimBufferBytes(slots: number): number {
  const i32 = (HEADER + slots * SLOT_WORDS) * 4;
  const pad = (8 - (i32 % 8)) % 8;
  return i32 + pad + slots * (MAX_PARTS + 1) * 8;
}

/** A stripe claimed from a slot: read [start, end) of file `file`, then call `finish`. */
export interface Stripe {
  readonly file: number;
  readonly start: number;
  readonly end: number;
  readonly slot: number;
}

export class ClaimState {
  private readonly i32: Int32Array;
  private readonly cuts: Float64Array;
  private readonly slots: number;

  private readonly files: number;
  private readonly ranges: FileRanges;

  constructor(buf: SharedArrayBuffer, slots: number, files: number, ranges: FileRanges) {
    if (ranges.slots !== slots) throw new Error('readClaimed: one file range per slot');
    this.slots = slots;
    this.files = files;
    this.ranges = ranges;
    const words = HEADER + slots * SLOT_WORDS;
    this.i32 = new Int32Array(buf, 0, words);
    const off = Math.ceil((words * 4) / 8) * 8;
    this.cuts = new Float64Array(buf, off, slots * (MAX_PARTS + 1));
  }

  /**
   * The next file index for the worker of `slot` (past the end when every file is claimed). A valid index
   * is pending until `settle`: workers with no file left keep waiting for its stripes meanwhile.
   */
  nextFile(slot: number): number {
    // Pending before the claim: a worker that finds every range empty (under each range's lock, ranges.ts)
    // did so after our claim's add, so it sees the flag and waits for this file's stripes.
    Atomics.store(this.i32, this.w(slot, S_PENDING), 1);
    const i = this.ranges.claim(slot);
    if (i >= 0) return i;
    this.settle(slot);
    return this.files;
  }

  /** The file `slot` claimed was published (or will be read whole): waiters, if any, may look again. */
  settle(slot: number): void {
    Atomics.store(this.i32, this.w(slot, S_PENDING), 0);
    // A waiter counts itself before it looks at the slots: either it sees the store above, or this sees it.
    if (Atomics.load(this.i32, W_WAITERS) > 0) {
      Atomics.add(this.i32, W_SEQ, 1);
      Atomics.notify(this.i32, W_SEQ);
    }
  }

  /** True while some slot's owner holds a claimed file not yet settled. */
  private pending(): boolean {
    for (let s = 0; s < this.slots; s++) if (Atomics.load(this.i32, this.w(s, S_PENDING)) !== 0) return true;
    return false;
  }

  /**
   * Every file is claimed: the next stripe anyone publishes, or null once no claimed file can publish any
   * more (then the run is over for this worker).
   */
  claimLate(from: number): Stripe | null {
    const s = this.claimAny(from);
    if (s || !this.pending()) return s ?? this.claimAny(from);
    Atomics.add(this.i32, W_WAITERS, 1);
    try {
      for (;;) {
        const seq = Atomics.load(this.i32, W_SEQ);
        const s = this.claimAny(from);
        if (s) return s;
        if (!this.pending()) return this.claimAny(from);
        Atomics.wait(this.i32, W_SEQ, seq, 50);
      }
    } finally {
      Atomics.sub(this.i32, W_WAITERS, 1);
    }
  }

  /** This task's slot. */
  takeSlot(): number {
    const s = Atomics.add(this.i32, W_SLOTS, 1);
    if (s >= this.slots) throw new Error(`readClaimed: more tasks than slots (${this.slots})`);
    return s;
  }

  private w(slot: number, word: number): number {
    return HEADER + slot * SLOT_WORDS + word;
  }

  /**
   * Publish file `file`'s cut points `cuts` ([0, ..., size]) in `slot`, first waiting until every stripe
   * of the slot's previous file was read.
   */
  publish(slot: number, file: number, cuts: readonly number[]): void {
    const i32 = this.i32;
    const claim = this.w(slot, S_CLAIM);
    const done = this.w(slot, S_DONE);
    const parts = Atomics.load(i32, this.w(slot, S_PARTS));
    for (let d = Atomics.load(i32, done); d < parts; d = Atomics.load(i32, done)) Atomics.wait(i32, done, d, 100);
    const gen = (Atomics.load(i32, claim) >>> GEN_SHIFT) & GEN_MASK;
    // Odd generation: nobody claims while the cut points change.
    Atomics.store(i32, claim, ((gen + 1) & GEN_MASK) << GEN_SHIFT);
    const n = Math.min(cuts.length - 1, MAX_PARTS);
    const base = slot * (MAX_PARTS + 1);
    for (let i = 0; i < n; i++) this.cuts[base + i] = cuts[i];
    this.cuts[base + n] = cuts[cuts.length - 1];
    Atomics.store(i32, this.w(slot, S_FILE), file);
    Atomics.store(i32, this.w(slot, S_PARTS), n);
    Atomics.store(i32, done, 0);
    Atomics.store(i32, claim, ((gen + 2) & GEN_MASK) << GEN_SHIFT);
  }

  /** Claim the next stripe of `slot`, or null when it has none left (or is being rewritten). */
  claimIn(slot: number): Stripe | null {
    const i32 = this.i32;
    const claim = this.w(slot, S_CLAIM);
    for (;;) {
      const w = Atomics.load(i32, claim);
      if (((w >>> GEN_SHIFT) & 1) === 1) return null;
      const parts = Atomics.load(i32, this.w(slot, S_PARTS));
      const next = w & NEXT_MASK;
      if (next >= parts) return null;
      if (Atomics.compareExchange(i32, claim, w, w + 1) !== w) continue;
      // The generation wraps after 512 publications: a claimer stalled that long between its load and
      // its swap could have read another publication's count. Its stripe must exist in this one.
      if (next >= Atomics.load(i32, this.w(slot, S_PARTS))) return null;
      const file = Atomics.load(i32, this.w(slot, S_FILE));
      const base = slot * (MAX_PARTS + 1);
      return { file, start: this.cuts[base + next], end: this.cuts[base + next + 1], slot };
    }
  }

  /** Claim a stripe from any slot, starting at `from`. */
  claimAny(from: number): Stripe | null {
    for (let i = 0; i < this.slots; i++) {
      const s = this.claimIn((from + i) % this.slots);
      if (s) return s;
    }
    return null;
  }

  /** The stripe was read (or failed): its slot may be rewritten once all of them are. */
  finish(s: Stripe): void {
    const done = this.w(s.slot, S_DONE);
    Atomics.add(this.i32, done, 1);
    Atomics.notify(this.i32, done);
  }
}
