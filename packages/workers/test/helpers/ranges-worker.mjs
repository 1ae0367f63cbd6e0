// Worker for ranges.test.ts: claims files from a shared FileRanges as fast as it can until none is left
// and posts what it claimed (loaded from source through tsx, as the bench's raw workers are).
import { register } from 'tsx/esm/api';
import { workerData, parentPort } from 'node:worker_threads';

register();
const { FileRanges } = await import('../../src/ranges.ts');
const { buf, slots, start, once } = workerData;
const r = new FileRanges(buf, slots);
const slot = r.takeSlot();
if (once) {
  // One claim, posted as soon as it returns (the test holds a lock meanwhile).
  Atomics.add(new Int32Array(start), 1, 1);
  parentPort.postMessage([r.claim(slot)]);
  await new Promise(() => {});
}
// All threads start together, so that owners and thieves really race.
const go = new Int32Array(start);
Atomics.add(go, 1, 1);
while (Atomics.load(go, 0) === 0);
const got = [];
for (let i = r.claim(slot); i >= 0; i = r.claim(slot)) got.push(i);
parentPort.postMessage(got);
