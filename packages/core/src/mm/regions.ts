// Fixed regions at the start of the arena's control words (Int32 indexes). Everything after
// DYNAMIC_BASE is placed by arena.ts from the configured sizes and the regions modules above mm/ declare
// (arena.ts declareRegion). Only the owners named here read them.

export const HEADER_BASE = 0; // arena.ts
export const HEADER_WORDS = 64;
export const LOCKSTAT_BASE = 64; // lockstat.ts
export const LOCKSTAT_CLASSES = 16;
export const COUNTERS_BASE = 128; // counters.ts
export const COUNTERS_WORDS = 128;
export const THREADS_BASE = 256; // points.ts: per-thread last named point (watchdog reports)
export const MAX_THREADS = 64;
export const THREAD_WORDS = 4;
export const KCSAN_BASE = THREADS_BASE + MAX_THREADS * THREAD_WORDS; // kcsan.ts: watchpoints + one race report
export const KCSAN_WORDS = 64 * 8 + 16 + 1024;
/** counters.ts: per thread slot, a copy of the counters region for event counters (summed when read). */
export const COUNTER_SLOTS = 8;
export const COUNTER_SLOTS_BASE = KCSAN_BASE + KCSAN_WORDS;
export const DYNAMIC_BASE = COUNTER_SLOTS_BASE + COUNTER_SLOTS * COUNTERS_WORDS;
