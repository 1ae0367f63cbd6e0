// A data-race detector in the spirit of the kernel's KCSAN, independent of locks. While stressing, every
// use site of a protected structure (lockdep.ts lockdepAccess) passes through here. Now and then (one
// access in about `sampleEvery`, randomly) the access sets a watchpoint on the structure's word in
// shared memory and stalls briefly; any access by another thread to a watched word during that window —
// where at least one of the two writes — is a data race: correct locking makes the two accesses
// impossible at once, whatever the lock. The thread that walks into the watchpoint reports it, with
// both threads' use sites and stacks (the watcher writes its stack into the report area when woken).
// This module owns the KCSAN region of the arena's control words (regions.ts).
import { KCSAN_BASE, KCSAN_WORDS } from './regions.ts';
import { CheckFailure, reportCheckFailure } from './checkfail.ts';
import { ctrInc, CTR } from './counters.ts';

const NSLOTS = 64;
const SLOT_WORDS = 8;
const W_WORD = 0; // watched word + 1; 0 free; -1 being set up or torn down
const W_TID = 1;
const W_SITE = 2;
const W_WRITE = 3;
const W_HIT = 4; // 0, or the hitting thread's id + 1
const W_HELD = 5; // the watcher held the structure's lock
const W_PROT = 6;
const W_OBJ = 7;
const REPORT = KCSAN_BASE + NSLOTS * SLOT_WORDS;
const R_STATE = 0; // 0 free, 2 being written, 1 ready
const R_TID = 1;
const R_WORD = 2;
const R_LEN = 3;
const R_TEXT = REPORT + 16;
const TEXT_BYTES = 4096;
if (R_TEXT + TEXT_BYTES / 4 > KCSAN_BASE + KCSAN_WORDS) throw new Error('kcsan region too small');

/** Set by lockdep's configuration: true while the detector runs in this thread. */
export let kcsanOn = false;
let me = 0;
let every = 0;
let stallMs = 0;
let countdown = 1;
let rng = 0x2545f491;
let siteNames: readonly string[] = [];
let protNames: readonly string[] = [];

/** Per thread: turn the detector on (thread id, mean accesses between watchpoints, stall length). */
export function kcsanConfigure(
  on: boolean,
  threadId: number,
  sampleEvery: number,
  stall: number,
  seed: number,
  names: { sites: readonly string[]; prots: readonly string[] },
): void {
  kcsanOn = on;
  me = threadId;
  every = Math.max(1, sampleEvery | 0);
  stallMs = stall;
  rng = (seed ^ Math.imul(threadId + 7, 0x9e3779b1)) | 1;
  countdown = 1 + ((rng >>> 0) % every);
  siteNames = names.sites;
  protNames = names.prots;
}

function nextRand(): number {
  rng ^= rng << 13;
  rng ^= rng >>> 17;
  rng ^= rng << 5;
  return rng >>> 0;
}

function slotOf(word: number): number {
  const h = Math.imul(word, 0x9e3779b1);
  return KCSAN_BASE + ((h >>> 26) & (NSLOTS - 1)) * SLOT_WORDS;
}

function shortStack(skip: number): string {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 24;
  const stack = new Error().stack ?? '';
  Error.stackTraceLimit = limit;
  const lines = stack.split('\n').slice(1 + skip, 1 + skip + 12);
  return lines.map((l) => l.trim()).join('\n      ');
}

const stallWord = new Int32Array(new SharedArrayBuffer(4));

export function kcsanAccess(
  i32: Int32Array,
  word: number,
  write: boolean,
  prot: number,
  site: number,
  obj: number,
  held: boolean,
): void {
  const s = slotOf(word);
  const cur = Atomics.load(i32, s + W_WORD);
  if (cur === word + 1) {
    const tid = Atomics.load(i32, s + W_TID);
    if (tid !== me && (write || Atomics.load(i32, s + W_WRITE) !== 0))
      raceFound(i32, s, word, write, prot, site, obj, held);
    return;
  }
  if (--countdown > 0) return;
  countdown = 1 + (nextRand() % (2 * every));
  if (cur !== 0 || Atomics.compareExchange(i32, s + W_WORD, 0, -1) !== 0) return;
  Atomics.store(i32, s + W_TID, me);
  Atomics.store(i32, s + W_SITE, site);
  Atomics.store(i32, s + W_WRITE, write ? 1 : 0);
  Atomics.store(i32, s + W_HELD, held ? 1 : 0);
  Atomics.store(i32, s + W_PROT, prot);
  Atomics.store(i32, s + W_OBJ, obj);
  Atomics.store(i32, s + W_HIT, 0);
  Atomics.store(i32, s + W_WORD, word + 1);
  ctrInc(i32, CTR.RACE_WATCHPOINTS);
  // The stall: another thread touching the word now walks into the watchpoint (and wakes us).
  Atomics.wait(i32, s + W_HIT, 0, stallMs);
  Atomics.store(i32, s + W_WORD, -1);
  const hit = Atomics.load(i32, s + W_HIT);
  Atomics.store(i32, s + W_HIT, 0);
  Atomics.store(i32, s + W_WORD, 0);
  if (hit !== 0) publishWatcherStack(i32, word);
}

/** The watcher, woken by a hit: leave its stack for the reporter (first race only). */
function publishWatcherStack(i32: Int32Array, word: number): void {
  if (Atomics.compareExchange(i32, REPORT + R_STATE, 0, 2) !== 0) return;
  const text = new TextEncoder().encode(shortStack(4)).subarray(0, TEXT_BYTES);
  new Uint8Array(i32.buffer, R_TEXT * 4, TEXT_BYTES).set(text);
  Atomics.store(i32, REPORT + R_TID, me);
  Atomics.store(i32, REPORT + R_WORD, word);
  Atomics.store(i32, REPORT + R_LEN, text.length);
  Atomics.store(i32, REPORT + R_STATE, 1);
  Atomics.notify(i32, REPORT + R_STATE);
}

function raceFound(
  i32: Int32Array,
  s: number,
  word: number,
  write: boolean,
  prot: number,
  site: number,
  obj: number,
  held: boolean,
): void {
  const myStack = shortStack(4);
  const wTid = Atomics.load(i32, s + W_TID);
  const wSite = Atomics.load(i32, s + W_SITE);
  const wWrite = Atomics.load(i32, s + W_WRITE) !== 0;
  const wHeld = Atomics.load(i32, s + W_HELD) !== 0;
  const wProt = Atomics.load(i32, s + W_PROT);
  const wObj = Atomics.load(i32, s + W_OBJ);
  // The watch may have closed (and the slot been reused) while its fields were read: then they are not
  // the racing thread's. The overlap itself was real — the watched word was ours when we looked.
  const same = Atomics.load(i32, s + W_WORD) === word + 1;
  let watcherStack = '(not captured: the watchpoint closed first)';
  if (same && Atomics.compareExchange(i32, s + W_HIT, 0, me + 1) === 0) {
    Atomics.notify(i32, s + W_HIT);
    const deadline = Date.now() + 200;
    while (Date.now() < deadline) {
      const st = Atomics.load(i32, REPORT + R_STATE);
      if (st === 1) {
        if (Atomics.load(i32, REPORT + R_TID) === wTid && Atomics.load(i32, REPORT + R_WORD) === word) {
          const len = Atomics.load(i32, REPORT + R_LEN);
          watcherStack = new TextDecoder().decode(new Uint8Array(i32.buffer, R_TEXT * 4, len).slice());
        }
        break;
      }
      Atomics.wait(stallWord, 0, 0, 1);
    }
  }
  const rw = (w: boolean): string => (w ? 'write' : 'read');
  const lk = (h: boolean): string => (h ? 'holding its lock' : 'WITHOUT its lock');
  const other = same
    ? `thread ${wTid} ${rw(wWrite)} in ${siteNames[wSite] ?? wSite} (${lk(wHeld)}; its watchpoint: ${protNames[wProt] ?? wProt} ${wObj})`
    : 'another thread watched it (its watchpoint closed before it could be described)';
  reportCheckFailure(
    new CheckFailure(
      'race-detector',
      `data race on the ${protNames[prot] ?? prot} (${obj}), word ${word}: ` +
        `thread ${me} ${rw(write)} in ${siteNames[site] ?? site} (${lk(held)}) while ${other}\n` +
        `    thread ${me} (found it):\n      ${myStack}\n    thread ${wTid} (watchpoint):\n      ${watcherStack}`,
    ),
  );
}

/** Forget every watchpoint and report (a new run on the same arena). */
export function kcsanReset(i32: Int32Array): void {
  for (let w = KCSAN_BASE; w < KCSAN_BASE + KCSAN_WORDS; w++) Atomics.store(i32, w, 0);
}
