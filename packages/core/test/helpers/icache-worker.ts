// A test-only thread for packages/core/test/icache-fastpath.test.ts. Two of these, attached to one kernel,
// run rounds in lockstep on one inode of the anonymous superblock each round: both iget it — one creates
// it and fills it, the other finds it I_NEW and sleeps until the fill ends (the filler waits until that
// sleeper has announced itself, then a little longer, so the sleeper is asleep when I_NEW clears) — then
// both iput it at once, the last put evicting it (drop says so). Checked each round:
// - lost wake-up: a sleeper's bounded wait ran out although the filler had cleared I_NEW and returned
//   from unlock_new_inode (so had notified, if it does) before the wait's bound: a wait that ran out only
//   because the filler was held up past the bound (a loaded machine) is not one;
// - leak: after both puts the inode is still in use (the last reference's work was never done).
// Then a second inode: thread 0 creates it and drops its only reference (the last put evicts it) while
// thread 1 igrabs it at the same time, knowing its slot. Checked:
// - revived: the igrab said it took a reference, but the inode was freed (no longer in use, or its slot's
//   generation moved on) — else thread 1 holds the last reference, and its put evicts it.
// The planted variant named by `plant` (debug/bugs/, installed through the step table) is installed in
// this thread only; with none, every round must pass both checks.
import { parentPort, workerData } from 'node:worker_threads';
import { System } from '../../src/system.ts';
import {
  ANON_MOUNT,
  I_INUSE,
  I_WAITERS,
  INODE_STEPS,
  STATE_WAIT_MS,
  iget,
  igrab,
  inodeGen,
  inodeCount,
  inodeState,
  inodeSteps,
  iput,
  type InodeOps,
} from '../../src/vfs/inode.ts';
import { IPUT_FAST_RACY } from '../../src/debug/bugs/IPUT_FAST_RACY.ts';
import { NEW_WAKE_LOST } from '../../src/debug/bugs/NEW_WAKE_LOST.ts';
import { IGRAB_FAST_RACY } from '../../src/debug/bugs/IGRAB_FAST_RACY.ts';
import type { ArenaHandle } from '../../src/mm/arena.ts';

export type IcachePlant = 'none' | 'IPUT_FAST_RACY' | 'NEW_WAKE_LOST' | 'IGRAB_FAST_RACY';
export interface IcacheData {
  handle: ArenaHandle;
  me: number; // 0 or 1
  plant: IcachePlant;
  rounds: number;
  ctl: Int32Array; // [0] barrier arrivals, [1] barrier generation, [2] stop, [3] slot, [4] its generation
  times: Float64Array; // [0] when this round's filler returned from iget (after unlock_new_inode)
}
export interface IcacheResult {
  rounds: number;
  lostWakeups: number;
  leaks: number;
  revived: number;
  grabbed: number; // igrabs of the inode being dropped that succeeded (it was still referenced)
  slept: number; // waits on an I_NEW inode that went to sleep (the wake-up path was exercised)
  fastPuts: number; // lock-free drops in the first race (both threads drop one of two references)
  message: string | null;
}

const d = workerData as IcacheData;
const sys = System.attach(d.handle);
const a = sys.arena;
if (d.plant === 'IPUT_FAST_RACY') IPUT_FAST_RACY.install();
if (d.plant === 'NEW_WAKE_LOST') NEW_WAKE_LOST.install();
if (d.plant === 'IGRAB_FAST_RACY') IGRAB_FAST_RACY.install();
const ctl = d.ctl;
const nap = new Int32Array(new SharedArrayBuffer(4));
const res: IcacheResult = {
  rounds: 0,
  lostWakeups: 0,
  leaks: 0,
  revived: 0,
  grabbed: 0,
  slept: 0,
  fastPuts: 0,
  message: null,
};

/** Both threads meet here (a generation barrier); false once either asked to stop. */
function barrier(): boolean {
  const gen = Atomics.load(ctl, 1);
  if (Atomics.add(ctl, 0, 1) === 1) {
    Atomics.store(ctl, 0, 0);
    Atomics.add(ctl, 1, 1);
    Atomics.notify(ctl, 1);
  } else {
    for (let i = 0; Atomics.load(ctl, 1) === gen; i++) {
      if (Atomics.wait(ctl, 1, gen, 100) === 'timed-out' && i > 300)
        throw new Error('barrier: the other thread is gone');
    }
  }
  return Atomics.load(ctl, 2) === 0;
}

// One clock for both threads: milliseconds since the epoch, sub-millisecond.
const now = (): number => performance.timeOrigin + performance.now();
// Record what the step's wait answered, around the thread's real step (correct or planted): a wait that
// ran out with the word changed is a suspect, judged once the filler has said when it unlocked.
// suspectBefore: the latest moment the wait could have run out (its start + its bound), 0 if none;
// filling: this thread filled the round's inode.
const round = { suspectBefore: 0, filling: false };
const waitStep = inodeSteps.waitState;
inodeSteps.waitState = (i32, w, v) => {
  res.slept++;
  const start = now();
  const r = waitStep(i32, w, v);
  if (r === 'timed-out' && Atomics.load(i32, w) !== v) round.suspectBefore = start + STATE_WAIT_MS;
  return r;
};
let countFast = false;
const putStep = inodeSteps.putUnlessLast;
inodeSteps.putUnlessLast = (i32, w) => {
  const done = putStep(i32, w);
  if (done && countFast) res.fastPuts++;
  return done;
};

const ops: InodeOps = {
  fill(slot) {
    round.filling = true;
    // Hold I_NEW until the other thread sleeps on it (bounded: it may have found the inode late).
    for (let i = 0; i < 200 && !(inodeState(a, slot) & I_WAITERS); i++) Atomics.wait(nap, 0, 0, 0.25);
    Atomics.wait(nap, 0, 0, 2);
  },
  evict() {},
  drop: () => true,
};

// The grab race's inode: filled at once (no second thread looks it up).
const ops0: InodeOps = { fill() {}, evict() {}, drop: () => true };

try {
  for (let r = 0; r < d.rounds; r++) {
    if (!barrier()) break;
    const nid = 1000 + r;
    round.filling = false;
    round.suspectBefore = 0;
    const slot = iget(a, ANON_MOUNT, nid, ops);
    if (round.filling) d.times[0] = now();
    if (!barrier()) break; // both hold a reference: i_count 2
    // Timed out although the filler had unlocked (and notified) before the wait's bound ran out: lost.
    // (The wait started before the unlock, or it would have returned at once: the word had changed.)
    if (round.suspectBefore !== 0 && d.times[0] < round.suspectBefore - 1) res.lostWakeups++;
    countFast = true;
    iput(a, slot, ops);
    countFast = false;
    if (!barrier()) break; // both dropped theirs: the last put evicted it
    const st = inodeState(a, slot);
    if (st & I_INUSE) {
      res.leaks++;
      res.message = `round ${r}: inode ${slot} still in use after both puts (i_count ${inodeCount(a, slot)}, state ${st})`;
    } else if (res.lostWakeups) res.message = `round ${r}: a sleeper on an I_NEW inode was never woken`;
    if (res.message) Atomics.store(ctl, 2, 1);
    if (!barrier()) break;
    // The grab race: thread 0 drops the only reference of a new inode while thread 1 igrabs it.
    if (d.me === 0) {
      const s2 = iget(a, ANON_MOUNT, 1_000_000 + r, ops0);
      Atomics.store(ctl, 3, s2);
      Atomics.store(ctl, 4, inodeGen(a, s2));
    }
    if (!barrier()) break;
    const s2 = Atomics.load(ctl, 3);
    const gen2 = Atomics.load(ctl, 4);
    let held = false;
    if (d.me === 0) iput(a, s2, ops0);
    else held = igrab(a, s2);
    if (!barrier()) break;
    if (held) {
      res.grabbed++;
      const st2 = inodeState(a, s2);
      if (!(st2 & I_INUSE) || inodeGen(a, s2) !== gen2) {
        res.revived++;
        res.message = `round ${r}: igrab took a reference on inode ${s2}, which was freed (state ${st2}, generation ${inodeGen(a, s2)}, was ${gen2})`;
        Atomics.store(ctl, 2, 1);
      } else iput(a, s2, ops0);
    }
    if (!barrier()) break;
    if (!res.message && inodeState(a, s2) & I_INUSE) {
      res.leaks++;
      res.message = `round ${r}: inode ${s2} still in use after the grab race (i_count ${inodeCount(a, s2)})`;
      Atomics.store(ctl, 2, 1);
    }
    res.rounds = r + 1;
  }
} finally {
  Object.assign(inodeSteps, INODE_STEPS);
  Atomics.store(ctl, 2, Atomics.load(ctl, 2) | (res.message ? 1 : 0));
  // Release a partner waiting at a barrier.
  Atomics.add(ctl, 1, 1);
  Atomics.notify(ctl, 1);
  sys.detach();
}
parentPort?.postMessage(res);
