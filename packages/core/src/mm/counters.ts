// Global event counters (atomic_t's in the arena). Counted in events or pages, never bytes, so an
// Int32 (read as unsigned) cannot overflow in any realistic run.
//
// mm names no structure above it: each layer declares its own counters (declareCounters) and race
// windows (declareWindow), in one module per layer — mm's here, then vfs/counters.ts, then
// fs/erofs/counters.ts, each importing the one below it. Indexes are handed out in declaration order,
// and module evaluation runs a module's imports first, so every thread (main or worker, whatever it
// loaded first) numbers the counters alike.
import { COUNTERS_BASE, COUNTERS_WORDS, COUNTER_SLOTS, COUNTER_SLOTS_BASE } from './regions.ts';

/** An event counter (reset between phases) or a gauge (a level: kept by resetEventCounters). */
export type CounterKind = 'event' | 'gauge';

const names: string[] = [];
const gauges: boolean[] = [];
/** 1 for a gauge: kept in the shared word (a level read on hot paths); events go to the thread's slot. */
const isGauge = new Uint8Array(COUNTERS_WORDS);
const windows: Record<string, number> = {};

/**
 * Declare counters in the arena's counters region (every arena: the region is fixed), by name → kind.
 * Returns name → index, for ctrInc and friends. Names are global: the stress report prints them.
 */
export function declareCounters<const T extends Readonly<Record<string, CounterKind>>>(
  decl: T,
): { readonly [K in keyof T]: number } {
  const out: Record<string, number> = {};
  for (const [name, kind] of Object.entries(decl)) {
    if (names.includes(name)) throw new Error(`counter ${name} declared twice`);
    if (names.length >= COUNTERS_WORDS) throw new Error('counters region too small');
    out[name] = names.length;
    names.push(name);
    gauges.push(kind === 'gauge');
    if (kind === 'gauge') isGauge[out[name]] = 1;
  }
  return Object.freeze(out) as { readonly [K in keyof T]: number };
}

/**
 * Declare a race window `stress --json` reports: a counter that counts the times a lockless path or a
 * retry met the race it exists for. A window the workload does not open is one no detector can judge.
 */
export function declareWindow(name: string, counter: number): void {
  if (name in windows) throw new Error(`window ${name} declared twice`);
  if (counter < 0 || counter >= names.length) throw new Error(`window ${name}: no such counter`);
  windows[name] = counter;
}

/** The race windows declared so far (name → counter): every layer's, once its counters module loaded. */
export const WINDOWS: Readonly<Record<string, number>> = windows;
export type WindowName = string;

/** The declared counters' names, by index. */
export function counterNames(): readonly string[] {
  return names;
}

export function readWindows(counters: Readonly<Record<string, number>>): Record<WindowName, number> {
  const out: Record<WindowName, number> = {};
  for (const [w, c] of Object.entries(windows)) out[w] = counters[names[c]] ?? 0;
  return out;
}

/** mm's own counters: the page lock, the page reference, the race detector. */
export const CTR = declareCounters({
  LOCK_WAITS: 'event', // waits on a page locked by another thread
  PAGE_REF_REFUSED: 'event', // tryGetPage's compare-and-swap refused a frame whose count is zero (being freed)
  RACE_WATCHPOINTS: 'event', // watchpoints the data-race detector set (stress)
});
declareWindow('pageRefRefusedAtZero', CTR.PAGE_REF_REFUSED);
declareWindow('pageLockWait', CTR.LOCK_WAITS);

// Event counters are per thread slot, as the kernel's vm_event_states are per CPU: a thread adds to its
// own slot's copy of the region (COUNTER_SLOTS_BASE, one cache-line-aligned block per slot) and a read
// sums the shared word and every slot. A single shared word was written by every reader at every read
// call (page-cache hits), bouncing its cache line — and every counter beside it — between their cores.
// Gauges stay in the shared word: they are levels that hot paths read (RA_INFLIGHT) and that must never
// be seen below zero. A thread's slot is its id modulo COUNTER_SLOTS (set by countersAttach; any slot is
// correct, the sums are the same).
let slotBase = COUNTER_SLOTS_BASE;

/** This thread's counter slot, from its thread id (vfs/kernel.ts, when a thread attaches). */
export function countersAttach(threadId: number): void {
  slotBase = COUNTER_SLOTS_BASE + (threadId % COUNTER_SLOTS) * COUNTERS_WORDS;
}

function word(c: number): number {
  return (isGauge[c] === 1 ? COUNTERS_BASE : slotBase) + c;
}
export function ctrAdd(i32: Int32Array, c: number, n: number): void {
  Atomics.add(i32, word(c), n);
}
export function ctrInc(i32: Int32Array, c: number): void {
  Atomics.add(i32, word(c), 1);
}
export function ctrDec(i32: Int32Array, c: number): void {
  Atomics.sub(i32, word(c), 1);
}
/** A counter's value: a gauge's word, or an event counter's sum over the shared word and every slot. */
export function ctrRead(i32: Int32Array, c: number): number {
  let v = Atomics.load(i32, COUNTERS_BASE + c);
  if (isGauge[c] !== 1)
    for (let s = 0; s < COUNTER_SLOTS; s++) v += Atomics.load(i32, COUNTER_SLOTS_BASE + s * COUNTERS_WORDS + c);
  return v >>> 0;
}
/** Gauges may dip below zero transiently only by a bug: read them signed. */
export function ctrReadSigned(i32: Int32Array, c: number): number {
  if (isGauge[c] === 1) return Atomics.load(i32, COUNTERS_BASE + c);
  return ctrRead(i32, c) | 0;
}
/** Every declared counter by name. */
export function readCounters(i32: Int32Array): Record<string, number> {
  const out: Record<string, number> = {};
  names.forEach((n, c) => (out[n] = ctrRead(i32, c)));
  return out;
}
/** Reset the event counters; gauges keep their value. */
export function resetEventCounters(i32: Int32Array): void {
  names.forEach((_, c) => {
    if (gauges[c]) return;
    Atomics.store(i32, COUNTERS_BASE + c, 0);
    for (let s = 0; s < COUNTER_SLOTS; s++) Atomics.store(i32, COUNTER_SLOTS_BASE + s * COUNTERS_WORDS + c, 0);
  });
}
