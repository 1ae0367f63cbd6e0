// The inode cache's lock-free paths under two real threads (helpers/icache-worker.ts): iput's drop
// without i_lock above a count of one, igrab's grab without it at a count of one or more, and
// unlock_new_inode's wake-up only when someone sleeps on the inode. Each round both threads take a
// reference on one new inode (one fills it, the other sleeps until the fill ends) and drop theirs at once;
// then one thread drops the only reference of another inode while the other igrabs it. The race-window
// points in the drop and the grab are widened on every pass (jitter 1). Correct code: every sleeper is
// woken, every last put evicts, exactly one of the two drops of the first race goes lock-free (the count
// is 2: only the drop that sees 2 may skip the lock), and an igrab that succeeds holds a live inode. Each
// planted ordering bug (a load then a separate change, debug/bugs/, installed through the step table) is
// caught.
import test from 'ava';
import { Worker } from 'node:worker_threads';
import { System } from '../src/system.ts';
import { inodesInUse } from '../src/vfs/inode.ts';
import type { IcachePlant, IcacheResult } from './helpers/icache-worker.ts';

const BOOT = new URL('./helpers/icache-worker.mjs', import.meta.url);

function runThread(
  sys: System,
  me: number,
  plant: IcachePlant,
  rounds: number,
  ctl: Int32Array,
  times: Float64Array,
): Promise<IcacheResult> {
  return new Promise((resolve, reject) => {
    const w = new Worker(BOOT, { workerData: { handle: sys.handle, me, plant, rounds, ctl, times } });
    w.once('message', (m: IcacheResult) => {
      resolve(m);
    });
    w.once('error', reject);
    w.once('exit', (code) => {
      if (code !== 0) reject(new Error(`worker exited with ${code}`));
    });
  });
}

async function pair(plant: IcachePlant, rounds: number): Promise<{ results: IcacheResult[]; inUse: number }> {
  const sys = System.create({ poolMiB: 1, inodeSlots: 256, jitter: 1 });
  try {
    const ctl = new Int32Array(new SharedArrayBuffer(20));
    const times = new Float64Array(new SharedArrayBuffer(8));
    const results = await Promise.all([0, 1].map((me) => runThread(sys, me, plant, rounds, ctl, times)));
    return { results, inUse: inodesInUse(sys.arena) };
  } finally {
    sys.detach();
  }
}

test.serial(
  'two threads on one new inode: every sleeper woken, the last put evicts, one drop lock-free a round',
  async (t) => {
    const rounds = 150;
    const { results, inUse } = await pair('none', rounds);
    for (const r of results) {
      t.is(r.message, null);
      t.is(r.rounds, rounds);
      t.is(r.lostWakeups, 0);
      t.is(r.leaks, 0);
      t.is(r.revived, 0);
    }
    t.is(
      results.reduce((n, r) => n + r.fastPuts, 0),
      rounds,
      'one of the two drops of each round skips i_lock (the count is 2: only the drop that sees 2 may)',
    );
    t.true(
      results.reduce((n, r) => n + r.slept, 0) > 0,
      'the I_NEW wake-up was exercised (a finder slept on the inode)',
    );
    t.is(inUse, 0, 'every inode evicted by its last put');
    t.log(
      `sleeps on I_NEW: ${results.map((r) => r.slept).join(' + ')}; igrabs that won the race with the last put: ${results[1].grabbed} of ${rounds}`,
    );
  },
);

test.serial('planted: the lock-free drop as a load then a subtraction leaks an inode', async (t) => {
  const { results, inUse } = await pair('IPUT_FAST_RACY', 400);
  const hit = results.find((r) => r.leaks > 0);
  t.truthy(hit, `no leak in ${results.map((r) => r.rounds).join('/')} rounds`);
  t.regex(hit?.message ?? '', /still in use after both puts \(i_count 0/);
  t.true(inUse > 0);
});

test.serial('planted: unlock_new_inode looking for sleepers after clearing I_NEW loses the wake-up', async (t) => {
  const { results } = await pair('NEW_WAKE_LOST', 400);
  const hit = results.find((r) => r.lostWakeups > 0);
  t.truthy(hit, `no lost wake-up in ${results.map((r) => r.rounds).join('/')} rounds`);
  t.regex(hit?.message ?? '', /never woken/);
});

test.serial('planted: the lock-free grab as a load then an addition takes a reference on a freed inode', async (t) => {
  const { results } = await pair('IGRAB_FAST_RACY', 400);
  const hit = results.find((r) => r.revived > 0);
  t.truthy(hit, `no revived inode in ${results.map((r) => r.rounds).join('/')} rounds`);
  t.regex(hit?.message ?? '', /igrab took a reference on inode \d+, which was freed/);
});
