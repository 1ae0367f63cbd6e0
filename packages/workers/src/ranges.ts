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
// A range is two words, next and end: the owner claims with an atomic add on `next` and a check
// against `end`, a thief with a subtract on `end` and a check against `next` (Cilk's THE protocol).
// When both went for the last file, the slot's lock decides: thieves always take it (stealing is rare,
// at the end of a run), the owner only when its check failed, so a worker claiming its own files writes
// one word per file and allocates nothing. Each slot sits on a cache line of its own; the line before
// them holds the count of slots handed out.

const LINE_WORDS = 16; // Int32 words in 64 bytes
const W_SLOTS = 0; // next slot to hand out
const R_NEXT = 0;
const R_END = 1;
const R_LOCK = 2;

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
      if (best < 0) return -1;
      const f = this.takeBack(best);
      if (f >= 0) return f;
    }
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
      Atomics.store(i32, r + R_LOCK, 0);
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
      Atomics.store(i32, r + R_LOCK, 0);
    }
  }

  private lock(r: number): void {
    // Held for a few atomic operations: spin.
    while (Atomics.compareExchange(this.i32, r + R_LOCK, 0, 1) !== 0);
  }
}
