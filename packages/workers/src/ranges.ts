// The files of one ReaderPool.readClaimed run, dealt out as one contiguous range per worker (one
// SharedArrayBuffer, owned by this module). A worker claims its own range from the front; once it is
// empty it takes files one at a time from the back of the others' (work stealing), so the run still
// ends together. Handing every worker the next file of one shared list put the two workers of a pass on
// neighbouring files — neighbouring memory, since a fill lays files out in list order — and two threads
// copying adjacent memory at once cost more than two copying apart (a bare copy of 512 MiB by two
// threads: 11.9–12.1 ms a pass from two halves, 13.1–13.6 from interleaved stripes). A 2-worker warm
// pass over the bench's data took 4–7% less CPU with ranges than with one list (bench/warm-iso.ts
// CLAIM=1: 4 runs, the two ways alternating in one process).
//
// A range is two words, next and end, and a lock: the owner claims with an atomic add on `next` and a
// check against `end`, a thief with a subtract on `end` and a check against `next` (Cilk's THE
// protocol). When both went for the last file, the lock decides: thieves always take it (stealing is
// rare, at the end of a run), the owner only when its check failed, so a worker claiming its own files
// writes one word per file and allocates nothing. A worker gives up only when every other range is
// empty as seen under its lock: a failing thief lowers `end` for a moment, which must not make another
// worker believe the run is over while the owner is about to claim (claim.ts relies on it to keep
// waiting for that file's stripes). Each slot sits on a cache line of its own; the line before them
// holds the count of slots handed out.

const LINE_WORDS = 16; // Int32 words in 64 bytes
const W_SLOTS = 0; // next slot to hand out
/** A slot's words: the range [NEXT, END) left to claim, and its lock (0 free, 1 held, 2 held with a sleeper). */
export const RANGE = { NEXT: 0, END: 1, LOCK: 2 } as const;
const R_NEXT = RANGE.NEXT;
const R_END = RANGE.END;
const R_LOCK = RANGE.LOCK;
/** Tries on a held lock before sleeping on it (its holder may have been preempted). */
const LOCK_SPINS = 100;

/** The Int32 index of word `w` (RANGE) of slot `slot` in a ranges buffer. */
export function rangeWord(slot: number, w: number): number {
  return (1 + slot) * LINE_WORDS + w;
}

export function fileRangesBytes(slots: number): number {
  return LINE_WORDS * 4 * (1 + slots);
}

/** A fresh buffer with `files` split into `slots` ranges of (nearly) equal counts, in list order. */
export function fileRangesBuffer(files: number, slots: number): SharedArrayBuffer {
  if (!(Number.isSafeInteger(files) && files >= 0 && files < 2 ** 30)) throw new RangeError(`files: ${files}`);
  if (!(Number.isSafeInteger(slots) && slots >= 1)) throw new RangeError(`slots: ${slots}`);
  const buf = new SharedArrayBuffer(fileRangesBytes(slots));
  const i32 = new Int32Array(buf);
  for (let s = 0; s < slots; s++) {
    i32[(1 + s) * LINE_WORDS + R_NEXT] = Math.floor((s * files) / slots);
    i32[(1 + s) * LINE_WORDS + R_END] = Math.floor(((s + 1) * files) / slots);
  }
  return buf;
}

export class FileRanges {
  private readonly i32: Int32Array;
  readonly slots: number;

  constructor(buf: SharedArrayBuffer, slots: number) {
    if (buf.byteLength < fileRangesBytes(slots)) throw new RangeError('file ranges buffer too small');
    this.slots = slots;
    this.i32 = new Int32Array(buf);
  }

  /** This task's slot (its range). */
  takeSlot(): number {
    const s = Atomics.add(this.i32, W_SLOTS, 1);
    if (s >= this.slots) throw new Error(`readClaimed: more tasks than slots (${this.slots})`);
    return s;
  }

  /** The next file for the worker of `slot`: its own range's first, else another's last; -1 when none is left. */
  claim(slot: number): number {
    const own = this.takeFront(slot);
    if (own >= 0) return own;
    // Steal from the slot with the most files left, so that thieves stay far from its owner's front.
    for (;;) {
      let best = -1;
      let most = 0;
      for (let s = 0; s < this.slots; s++) {
        if (s === slot) continue;
        const r = (1 + s) * LINE_WORDS;
        const left = Atomics.load(this.i32, r + R_END) - Atomics.load(this.i32, r + R_NEXT);
        if (left > most) {
          most = left;
          best = s;
        }
      }
      if (best < 0) {
        if (this.othersEmpty(slot)) return -1;
        continue;
      }
      const f = this.takeBack(best);
      if (f >= 0) return f;
    }
  }

  /** Every range but `slot`'s is empty, each seen under its lock (no thief mid-steal). */
  private othersEmpty(slot: number): boolean {
    const i32 = this.i32;
    for (let s = 0; s < this.slots; s++) {
      if (s === slot) continue;
      const r = (1 + s) * LINE_WORDS;
      this.lock(r);
      const left = Atomics.load(i32, r + R_END) - Atomics.load(i32, r + R_NEXT);
      this.unlock(r);
      if (left > 0) return false;
    }
    return true;
  }

  private takeFront(s: number): number {
    const i32 = this.i32;
    const r = (1 + s) * LINE_WORDS;
    const h = Atomics.add(i32, r + R_NEXT, 1);
    if (h < Atomics.load(i32, r + R_END)) return h;
    // Empty, or a thief went for the same file: settle it under the lock (no thief is mid-steal then).
    this.lock(r);
    try {
      const next = Atomics.sub(i32, r + R_NEXT, 1) - 1;
      if (next < Atomics.load(i32, r + R_END)) {
        Atomics.store(i32, r + R_NEXT, next + 1);
        return next;
      }
      return -1;
    } finally {
      this.unlock(r);
    }
  }

  private takeBack(s: number): number {
    const i32 = this.i32;
    const r = (1 + s) * LINE_WORDS;
    this.lock(r);
    try {
      const t = Atomics.sub(i32, r + R_END, 1) - 1;
      if (t >= Atomics.load(i32, r + R_NEXT)) return t;
      Atomics.add(i32, r + R_END, 1); // the owner has it (or the range was empty)
      return -1;
    } finally {
      this.unlock(r);
    }
  }

  // The lock is mm/spinlock.ts's futex-style mutex (0 free, 1 held, 2 held with a sleeper), written again
  // here because that one keeps lock statistics in the arena's own words and this buffer is not the
  // arena. Held for a few atomic operations: spin first; a holder preempted on a busy machine is slept on.
  private lock(r: number): void {
    const i32 = this.i32;
    const w = r + R_LOCK;
    for (let n = 0; n < LOCK_SPINS; n++) if (Atomics.compareExchange(i32, w, 0, 1) === 0) return;
    while (Atomics.exchange(i32, w, 2) !== 0) Atomics.wait(i32, w, 2, 50);
  }

  private unlock(r: number): void {
    const w = r + R_LOCK;
    if (Atomics.sub(this.i32, w, 1) !== 1) {
      Atomics.store(this.i32, w, 0);
      Atomics.notify(this.i32, w, 1);
    }
  }
}
