// ranges.ts: the files of a readClaimed run dealt out as one range per worker, claimed from the front by
// its owner and from the back by idle workers. Every file must be claimed exactly once, whoever wins a
// race, and a worker must read its own range in list order before it takes anyone else's.
import test from 'ava';
import { Worker } from 'node:worker_threads';
import { FileRanges, fileRangesBuffer, rangeWord, RANGE } from '../src/ranges.ts';

function drain(r: FileRanges, slot: number): number[] {
  const out: number[] = [];
  for (let i = r.claim(slot); i >= 0; i = r.claim(slot)) out.push(i);
  return out;
}

test('one worker of two: its own half in order, then the other half from the back', (t) => {
  const r = new FileRanges(fileRangesBuffer(10, 2), 2);
  t.is(r.takeSlot(), 0);
  t.deepEqual(drain(r, 0), [0, 1, 2, 3, 4, 9, 8, 7, 6, 5]);
  t.is(r.claim(1), -1, 'nothing left for the other worker');
});

test('owner and thief meet in the middle of a range: each file once', (t) => {
  const r = new FileRanges(fileRangesBuffer(8, 2), 2);
  const got: number[] = [];
  // Slot 1 empties its own range first; then slot 0's owner and slot 1 (now a thief) alternate.
  for (let i = 0; i < 4; i++) got.push(r.claim(1));
  t.deepEqual(got, [4, 5, 6, 7]);
  const owner: number[] = [];
  const thief: number[] = [];
  for (;;) {
    const a = r.claim(0);
    if (a >= 0) owner.push(a);
    const b = r.claim(1);
    if (b >= 0) thief.push(b);
    if (a < 0 && b < 0) break;
  }
  t.deepEqual(owner, [0, 1]);
  t.deepEqual(thief, [3, 2]);
});

test('a thief takes from the range with the most files left', (t) => {
  const r = new FileRanges(fileRangesBuffer(30, 3), 3); // [0,10) [10,20) [20,30)
  for (let i = 0; i < 10; i++) t.is(r.claim(0), i);
  for (let i = 0; i < 7; i++) r.claim(2); // slot 2 has 3 left, slot 1 has 10
  t.is(r.claim(0), 19, 'from the back of slot 1, the fuller');
});

test('fewer files than workers, and no files at all', (t) => {
  const r = new FileRanges(fileRangesBuffer(1, 4), 4);
  const all = [0, 1, 2, 3].flatMap((s) => drain(r, s));
  t.deepEqual(all, [0]);
  const e = new FileRanges(fileRangesBuffer(0, 2), 2);
  t.is(e.claim(0), -1);
  t.is(e.claim(1), -1);
});

test('more tasks than slots, and bad sizes, are refused', (t) => {
  const r = new FileRanges(fileRangesBuffer(4, 1), 1);
  t.is(r.takeSlot(), 0);
  t.throws(() => r.takeSlot(), { message: /more tasks than slots/ });
  t.throws(() => fileRangesBuffer(-1, 2), { instanceOf: RangeError });
  t.throws(() => fileRangesBuffer(4, 0), { instanceOf: RangeError });
});

test('four threads racing over 200,000 files: every file claimed exactly once', async (t) => {
  const files = 200_000;
  const slots = 4;
  const buf = fileRangesBuffer(files, slots);
  const start = new SharedArrayBuffer(8);
  const go = new Int32Array(start);
  const entry = new URL('./helpers/ranges-worker.mjs', import.meta.url);
  const ws = Array.from({ length: slots }, () => new Worker(entry, { workerData: { buf, slots, start } }));
  const done = ws.map((w) => new Promise<number[]>((res, rej) => (w.once('message', res), w.once('error', rej))));
  while (Atomics.load(go, 1) < slots) await new Promise((r) => setTimeout(r, 5));
  Atomics.store(go, 0, 1);
  const got = await Promise.all(done);
  await Promise.all(ws.map((w) => w.terminate()));
  const seen = new Uint8Array(files);
  for (const g of got) for (const i of g) seen[i]++;
  t.is(
    seen.findIndex((n) => n !== 1),
    -1,
    'a file claimed twice or never',
  );
  t.is(
    got.reduce((n, g) => n + g.length, 0),
    files,
  );
});

test('the owner meets a thief mid-steal on its last file: it waits for the lock and gets the file', async (t) => {
  // Slot 0 holds [0, 1), slot 1 holds [1, 2). A thief of slot 0 is faked mid-steal: it holds slot 0's lock
  // and has lowered `end` for file 0 (and will give it back: the owner's `next` moved past it).
  const buf = fileRangesBuffer(2, 2);
  const i32 = new Int32Array(buf);
  Atomics.store(i32, rangeWord(0, RANGE.LOCK), 1);
  Atomics.store(i32, rangeWord(0, RANGE.END), 0);
  const start = new SharedArrayBuffer(8);
  const entry = new URL('./helpers/ranges-worker.mjs', import.meta.url);
  const w = new Worker(entry, { workerData: { buf, slots: 2, start, once: true } });
  try {
    const got = new Promise<number[]>((res, rej) => (w.once('message', res), w.once('error', rej)));
    // The owner claims (slot 0): its fast path fails against the lowered end, so it waits for the lock.
    while (Atomics.load(new Int32Array(start), 1) < 1) await new Promise((r) => setTimeout(r, 5));
    for (let n = 0; n < 200 && Atomics.load(i32, rangeWord(0, RANGE.NEXT)) === 0; n++)
      await new Promise((r) => setTimeout(r, 5));
    t.is(Atomics.load(i32, rangeWord(0, RANGE.NEXT)), 1, "the owner's add is in");
    await new Promise((r) => setTimeout(r, 50));
    // The thief sees the owner's next past file 0: it restores end and lets go.
    Atomics.store(i32, rangeWord(0, RANGE.END), 1);
    Atomics.store(i32, rangeWord(0, RANGE.LOCK), 0);
    Atomics.notify(i32, rangeWord(0, RANGE.LOCK));
    t.deepEqual(await got, [0], 'the owner got its own file, not a stolen one');
    t.is(
      Atomics.load(i32, rangeWord(1, RANGE.END)) - Atomics.load(i32, rangeWord(1, RANGE.NEXT)),
      1,
      'slot 1 untouched',
    );
  } finally {
    await w.terminate();
  }
});
