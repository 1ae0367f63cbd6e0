// A Node reader thread for the kernel-side figures: told (paths, file ranges) per run, it reads the
// files it claims and answers with what it read. Or, for the bare per-page copy figure, copies stripes
// of a shared buffer instead.
import { parentPort } from 'node:worker_threads';
import { readClaimed, copyClaimed } from './read-loop.ts';
import { FileRanges } from '../packages/workers/src/ranges.ts';
import type { KernelRunMessage, KernelRunReply } from './kernel-pool.ts';

let buf = Buffer.allocUnsafe(0);

parentPort!.on('message', (m: KernelRunMessage) => {
  let reply: KernelRunReply;
  try {
    if (buf.length !== m.chunk) buf = Buffer.allocUnsafe(m.chunk);
    const ranges = new FileRanges(m.ranges, m.slots);
    const slot = ranges.takeSlot();
    // Past every index once nothing is left (both loops stop at their end).
    const claim = (): number => {
      const i = ranges.claim(slot);
      return i < 0 ? Number.MAX_SAFE_INTEGER : i;
    };
    if (m.copyFrom) {
      reply = { run: m.run, files: 0, bytes: copyClaimed(Buffer.from(m.copyFrom), buf, claim) };
    } else {
      const r = readClaimed(m.paths, buf, claim);
      reply = { run: m.run, files: r.files, bytes: r.bytes };
    }
  } catch (e) {
    reply = { run: m.run, files: 0, bytes: 0, error: (e as Error).message };
  }
  parentPort!.postMessage(reply);
});
