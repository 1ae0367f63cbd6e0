// A Node reader thread for the kernel-side figures: told (paths, shared counter) per run, it reads the
// files it claims and answers with what it read. Or, for the bare per-page copy figure, copies stripes
// of a shared buffer instead.
import { parentPort } from 'node:worker_threads';
import { readClaimed, copyClaimed, sharedClaim } from './read-loop.ts';
import type { KernelRunMessage, KernelRunReply } from './kernel-pool.ts';

let buf = Buffer.allocUnsafe(0);

parentPort!.on('message', (m: KernelRunMessage) => {
  let reply: KernelRunReply;
  try {
    if (buf.length !== m.chunk) buf = Buffer.allocUnsafe(m.chunk);
    const claim = sharedClaim(new Int32Array(m.counter));
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
