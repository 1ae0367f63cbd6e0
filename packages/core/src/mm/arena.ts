// The arena: every piece of mutable state two threads can touch. One control SharedArrayBuffer of
// Int32 words (header, lock stats, counters, record tables, hash buckets) plus page-frame chunks
// (SharedArrayBuffers of at most 256 MiB each, so a pool can pass the ~4 GiB single-SAB limit).
// The main thread creates it; workers attach with the handle (passed once through workerData).
// The arena knows no structure above it: it sizes and places mm's own page pool (frames, LRU, free
// bitmap, sized by pagepool.ts through the caller) and otherwise only what the structures above declare
// (declareCount, declareRegion, declareHeaderWord): the inode table, the mount table, the page index and
// the filesystem's regions are named by their owners alone.
import { readFileSync } from 'node:fs';
import { HEADER_BASE, HEADER_WORDS, DYNAMIC_BASE } from './regions.ts';

export const ARENA_MAGIC = 0x15a4e01;
export const PAGE_SIZE = 4096;
export const PAGE_SHIFT = 12;
const MAX_CHUNK_FRAMES_SHIFT = 16; // 65536 frames = 256 MiB per SAB
/** Hard upper bound of the pool: 16 GiB (the machine has 24 GiB). */
export const MAX_POOL_BYTES = 16 * 1024 * 1024 * 1024;

/** Header word indexes (HEADER_BASE-relative). */
const H = {
  MAGIC: 0,
  NFRAMES: 1,
  CHUNK_SHIFT: 2,
  FRAMES: 7,
  LRU: 9,
  FREE: 10,
  TOTAL_WORDS: 17,
  JITTER: 20, // race-window widening: probability per point, in 1/65536
  THREAD_NEXT: 21, // next thread id to hand out
  SEED: 22, // jitter seed
  ENABLED_LIMIT: 23, // frames usable (shrink-pool chaos lowers it)
  LOCK_ACQUISITIONS: 24, // count every lock acquisition (stress reports); contention is always counted
  CHECKS: 25, // stress checkers: CHECK_LOCKS | CHECK_RACES | CHECK_INVARIANTS
  RACE_SAMPLE: 26, // race detector: mean protected accesses between two watchpoints of one thread
  RACE_STALL_US: 27, // race detector: how long a watchpoint stalls its thread, in microseconds
} as const;
/**
 * Lock checks (lockdep.ts), the data-race detector (kcsan.ts) and the in-core invariants (checkfail.ts),
 * bits of the CHECKS header word.
 */
export const CHECK_LOCKS = 1;
export const CHECK_RACES = 2;
export const CHECK_INVARIANTS = 4;
/** Header words from OWNER_WORDS_BASE on are handed to the modules that declare them (declareHeaderWord). */
const OWNER_WORDS_BASE = 32;
if (Object.keys(H).length > OWNER_WORDS_BASE) throw new Error('arena header too small');

// Counts, regions and header words owned by modules above mm/: each owner declares its own at module
// load, by a name only it uses; Arena.create computes every count and places every region declared so far
// and records the layout in the handle, so a worker attaching gets the same counts and offsets whatever
// modules it loaded, and in what order.
const declaredCounts = new Map<string, (cfg: ArenaConfig, c: ArenaCounts) => number>();
const declaredRegions = new Map<string, (c: ArenaCounts) => number>();
const declaredWords = new Set<string>();

/**
 * Declare a record count of every arena created from now on (a table's slots, its hash buckets), derived
 * from the configuration and the counts declared before it; the owner validates it (throw a RangeError).
 * Regions size themselves by it (`c[name]`), and every thread reads it as `arena.counts[name]`.
 */
export function declareCount(name: string, count: (cfg: ArenaConfig, c: ArenaCounts) => number): void {
  if (name === 'nframes' || declaredCounts.has(name)) throw new Error(`arena count ${name} declared twice`);
  declaredCounts.set(name, count);
}

/** Reserve a region of control words, `words(counts)` long, in every arena created from now on. */
export function declareRegion(name: string, words: (c: ArenaCounts) => number): void {
  if (declaredRegions.has(name)) throw new Error(`arena region ${name} declared twice`);
  declaredRegions.set(name, words);
}

/** Reserve one header word (a setting every thread reads) in every arena created from now on. */
export function declareHeaderWord(name: string): void {
  if (declaredWords.has(name)) throw new Error(`arena header word ${name} declared twice`);
  if (OWNER_WORDS_BASE + declaredWords.size >= HEADER_WORDS) throw new Error('arena header words exhausted');
  declaredWords.add(name);
}

/** Where the declared regions and header words of one arena are (word indexes into i32), and its counts. */
export interface ArenaLayout {
  readonly counts: ArenaCounts;
  readonly regions: Readonly<Record<string, number>>;
  readonly words: Readonly<Record<string, number>>;
}

/**
 * The page pool's size, and the settings the declared counts are derived from (each read by the owner of
 * the count that uses it, e.g. a table's slots).
 */
export interface ArenaConfig {
  /** Page pool size in bytes (rounded down to whole pages; at least 16 pages). */
  readonly poolBytes: number;
  readonly [setting: string]: number;
}

/** Record counts the structures size their regions by: the pool's frames, and every declared count. */
export interface ArenaCounts {
  readonly nframes: number;
  readonly [count: string]: number;
}

/** mm's own sections (the page pool's), in placement order; their sizes (Int32 words) come from pagepool.ts. */
export const SECTIONS = ['frames', 'lru', 'free'] as const;
export type SectionName = (typeof SECTIONS)[number];
export type SectionSizes = Record<SectionName, number>;

/** What a worker needs to attach: plain, structured-clonable, SABs shared by reference. */
export interface ArenaHandle {
  readonly control: SharedArrayBuffer;
  readonly chunks: readonly SharedArrayBuffer[];
  readonly layout: ArenaLayout;
}

const WASM_PAGE = 65536;

/** Whether frame chunks may be WebAssembly memories (null: not decided yet in this thread). */
let wasmFrames: boolean | null = null;

/**
 * V8 reserves ~10 GiB of address space per WebAssembly memory (its guard region). Under an address-space
 * limit (RLIMIT_AS, `ulimit -v`) a few chunks would use it up: the pool would fail where SharedArrayBuffers
 * fit, and the decoders' own WebAssembly memories (lz4, zstd) could no longer be made. So no WebAssembly
 * frames under any such limit, nor after the engine refused one (each refusal costs V8 full collections).
 */
function wasmFramesAllowed(): boolean {
  if (wasmFrames === null) {
    wasmFrames = true;
    try {
      const limit = /^Max address space\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1];
      if (limit !== undefined && limit !== 'unlimited') wasmFrames = false;
    } catch {
      // no /proc: no limit that can be read, none assumed
    }
  }
  return wasmFrames;
}

/**
 * Memory for `bytes` of page frames. A shared WebAssembly memory where allowed: V8 maps it page-aligned and
 * keeps it out of fork() children (MADV_DONTFORK), whereas a `new SharedArrayBuffer` comes from malloc (16
 * bytes past a page boundary) and a fork() write-protects all of it for copy-on-write, so that every frame
 * written afterwards takes a page fault (issue 17: 0.58 s against 0.09 s of CPU for one 88 MiB fill after a
 * `spawnSync`). A plain SharedArrayBuffer otherwise (wasmFramesAllowed) or where the engine refuses it.
 */
function allocFrameChunk(bytes: number): SharedArrayBuffer {
  if (wasmFramesAllowed()) {
    try {
      const pages = Math.ceil(bytes / WASM_PAGE);
      const buf: unknown = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true }).buffer;
      if (buf instanceof SharedArrayBuffer) return buf;
    } catch {
      // refused: below, and no more tries in this thread
    }
    wasmFrames = false;
  }
  return new SharedArrayBuffer(bytes);
}

/** The least power of two >= n (hash tables size their buckets by it). */
export function pow2AtLeast(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

export class Arena {
  readonly handle: ArenaHandle;
  readonly i32: Int32Array;
  /** Frame bytes, one Buffer view per chunk (Buffer so copies need no subarray allocation). */
  readonly chunks: Buffer[];
  readonly nframes: number;
  readonly chunkShift: number;
  readonly chunkMask: number;
  // The page pool's section bases (word indexes into i32).
  readonly frames: number;
  readonly lru: number;
  readonly free: number;
  /** The declared counts (declareCount), by their owners' names. */
  readonly counts: ArenaCounts;
  /** The declared regions' bases (declareRegion), by their owners' names; region() checks the name. */
  readonly regions: Readonly<Record<string, number>>;

  private constructor(handle: ArenaHandle) {
    this.handle = handle;
    this.i32 = new Int32Array(handle.control);
    const h = this.i32;
    if (h[HEADER_BASE + H.MAGIC] !== ARENA_MAGIC) throw new Error('not an ishare arena');
    this.chunks = handle.chunks.map((c) => Buffer.from(c));
    this.nframes = h[H.NFRAMES];
    this.chunkShift = h[H.CHUNK_SHIFT];
    this.chunkMask = (1 << this.chunkShift) - 1;
    this.frames = h[H.FRAMES];
    this.lru = h[H.LRU];
    this.free = h[H.FREE];
    this.counts = handle.layout.counts;
    this.regions = handle.layout.regions;
  }

  /**
   * Allocate a new arena. `sizes` gives the page pool's sections' words (pagepool.ts); the declared counts
   * are derived from `cfg`, the declared regions sized by them. Record tables are zeroed; owners initialise
   * them (System.create).
   */
  static create(cfg: ArenaConfig, sizes: (c: ArenaCounts) => SectionSizes): Arena {
    const nframes = Math.floor(cfg.poolBytes / PAGE_SIZE);
    if (!Number.isFinite(nframes) || nframes < 16) throw new RangeError('page pool must hold at least 16 pages');
    if (cfg.poolBytes > MAX_POOL_BYTES) throw new RangeError(`page pool larger than ${MAX_POOL_BYTES / 2 ** 30} GiB`);
    const counts: Record<string, number> & { nframes: number } = { nframes };
    for (const [name, count] of declaredCounts) {
      const n = count(cfg, counts);
      if (!Number.isInteger(n) || n < 0) throw new RangeError(`arena count ${name}: ${n}`);
      counts[name] = n;
    }
    let at = DYNAMIC_BASE;
    const take = (words: number): number => {
      const b = at;
      at += words;
      return b;
    };
    const words = sizes(counts);
    const bases = {} as Record<SectionName, number>;
    for (const name of SECTIONS) {
      const w = words[name];
      if (!Number.isInteger(w) || w < 0) throw new RangeError(`arena section ${name}: ${w} words`);
      bases[name] = take(w);
    }
    const regions: Record<string, number> = {};
    for (const [name, size] of declaredRegions) {
      const w = size(counts);
      if (!Number.isInteger(w) || w < 0) throw new RangeError(`arena region ${name}: ${w} words`);
      regions[name] = take(w);
    }
    const headerWords: Record<string, number> = {};
    let wi = HEADER_BASE + OWNER_WORDS_BASE;
    for (const name of declaredWords) headerWords[name] = wi++;
    const control = new SharedArrayBuffer(at * 4);
    const chunkShift =
      nframes <= 1 << MAX_CHUNK_FRAMES_SHIFT ? Math.max(0, Math.ceil(Math.log2(nframes))) : MAX_CHUNK_FRAMES_SHIFT;
    const chunks: SharedArrayBuffer[] = [];
    for (let left = nframes; left > 0; left -= 1 << chunkShift) {
      chunks.push(allocFrameChunk(Math.min(left, 1 << chunkShift) * PAGE_SIZE));
    }
    const h = new Int32Array(control);
    h[H.MAGIC] = ARENA_MAGIC;
    h[H.NFRAMES] = nframes;
    h[H.CHUNK_SHIFT] = chunkShift;
    h[H.FRAMES] = bases.frames;
    h[H.LRU] = bases.lru;
    h[H.FREE] = bases.free;
    h[H.TOTAL_WORDS] = at;
    h[H.ENABLED_LIMIT] = nframes;
    return new Arena({ control, chunks, layout: { counts, regions, words: headerWords } });
  }

  static attach(handle: ArenaHandle): Arena {
    return new Arena(handle);
  }

  get poolBytes(): number {
    return this.nframes * PAGE_SIZE;
  }

  /** Chunk Buffer holding frame `f`, and the byte offset of the frame within it. */
  frameChunk(f: number): Buffer {
    return this.chunks[f >>> this.chunkShift];
  }
  frameOffset(f: number): number {
    return (f & this.chunkMask) * PAGE_SIZE;
  }

  /**
   * Base of the region `name` (declareRegion). Owners resolve it once per arena and keep it, not per access.
   * Throws when the owner was not loaded before the arena was created.
   */
  region(name: string): number {
    const b = this.handle.layout.regions[name];
    if (b === undefined) throw new Error(`arena has no region ${name} (its owner was not loaded before create)`);
    return b;
  }

  /** Index of the header word `name` (declareHeaderWord); resolve once per arena, like region(). */
  headerWord(name: string): number {
    const w = this.handle.layout.words[name];
    if (w === undefined) throw new Error(`arena has no header word ${name} (its owner was not loaded before create)`);
    return w;
  }

  // Header settings shared by every thread.
  get jitter(): number {
    return Atomics.load(this.i32, H.JITTER);
  }
  set jitter(j: number) {
    Atomics.store(this.i32, H.JITTER, j);
  }
  get seed(): number {
    return Atomics.load(this.i32, H.SEED);
  }
  set seed(s: number) {
    Atomics.store(this.i32, H.SEED, s);
  }
  /** Frames the allocator may hand out (memory-pressure chaos lowers it). */
  get frameLimit(): number {
    return Atomics.load(this.i32, H.ENABLED_LIMIT);
  }
  set frameLimit(n: number) {
    Atomics.store(this.i32, H.ENABLED_LIMIT, Math.max(16, Math.min(this.nframes, n)));
  }
  get countLockAcquisitions(): boolean {
    return Atomics.load(this.i32, H.LOCK_ACQUISITIONS) !== 0;
  }
  set countLockAcquisitions(on: boolean) {
    Atomics.store(this.i32, H.LOCK_ACQUISITIONS, on ? 1 : 0);
  }
  get checks(): number {
    return Atomics.load(this.i32, H.CHECKS);
  }
  set checks(c: number) {
    Atomics.store(this.i32, H.CHECKS, c);
  }
  get raceSample(): number {
    return Atomics.load(this.i32, H.RACE_SAMPLE);
  }
  set raceSample(n: number) {
    Atomics.store(this.i32, H.RACE_SAMPLE, n);
  }
  get raceStallUs(): number {
    return Atomics.load(this.i32, H.RACE_STALL_US);
  }
  set raceStallUs(n: number) {
    Atomics.store(this.i32, H.RACE_STALL_US, n);
  }
  /** Hand out a small thread id (for per-thread watchdog slots). */
  nextThreadId(): number {
    return Atomics.add(this.i32, H.THREAD_NEXT, 1);
  }
}
