// Global event counters (atomic_t's in the arena). Counted in events or pages, never bytes, so an
// Int32 (read as unsigned) cannot overflow in any realistic run.
//
// mm names no structure above it: each layer declares its own counters (declareCounters) and race
// windows (declareWindow), in one module per layer — mm's here, then vfs/counters.ts, then
// fs/erofs/counters.ts, each importing the one below it. Indexes are handed out in declaration order,
// and module evaluation runs a module's imports first, so every thread (main or worker, whatever it
// loaded first) numbers the counters alike.
import { COUNTERS_BASE, COUNTERS_WORDS } from './regions.ts';

/** An event counter (reset between phases) or a gauge (a level: kept by resetEventCounters). */
export type CounterKind = 'event' | 'gauge';

const names: string[] = [];
const gauges: boolean[] = [];
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
/** Gauges may dip below zero transiently only by a bug: read them signed. */
export function ctrReadSigned(i32: Int32Array, c: number): number {
  return Atomics.load(i32, COUNTERS_BASE + c);
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
    if (!gauges[c]) Atomics.store(i32, COUNTERS_BASE + c, 0);
  });
}
