// Node reading files through the kernel the way our workers read through ours: open, read sequentially
// into one reused buffer of `chunk` bytes, close. Files are claimed one at a time from a shared counter,
// so that two threads split the work as evenly as the files allow (our pool balances by task too).
import { openSync, readSync, closeSync } from 'node:fs';

export interface ReadCount {
  files: number;
  bytes: number;
}

/** Read every path whose index `claim()` hands out, until it returns an index past the end. */
export function readClaimed(paths: readonly string[], buf: Buffer, claim: () => number): ReadCount {
  let files = 0;
  let bytes = 0;
  for (let i = claim(); i < paths.length; i = claim()) {
    const fd = openSync(paths[i], 'r');
    try {
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, null);
        if (n === 0) break;
        bytes += n;
      }
    } finally {
      closeSync(fd);
    }
    files++;
  }
  return { files, bytes };
}

/** A claim function over an Int32Array word shared by every reader of one run. */
export function sharedClaim(counter: Int32Array): () => number {
  return () => Atomics.add(counter, 0, 1);
}
