// A Node reader thread for the kernel-side figures: told (paths, shared counter) per run, it reads the
// files it claims and answers with what it read.
import { parentPort } from 'node:worker_threads';
import { readClaimed, sharedClaim } from './read-loop.ts';
import type { KernelRunMessage, KernelRunReply } from './kernel-pool.ts';

let buf = Buffer.allocUnsafe(0);

parentPort!.on('message', (m: KernelRunMessage) => {
  let reply: KernelRunReply;
  try {
    if (buf.length !== m.chunk) buf = Buffer.allocUnsafe(m.chunk);
    const r = readClaimed(m.paths, buf, sharedClaim(new Int32Array(m.counter)));
    reply = { run: m.run, files: r.files, bytes: r.bytes };
  } catch (e) {
    reply = { run: m.run, files: 0, bytes: 0, error: (e as Error).message };
  }
  parentPort!.postMessage(reply);
});
