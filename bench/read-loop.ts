// Node reading files through the kernel the way our workers read through ours: open, read sequentially
// into one reused buffer of `chunk` bytes, close. Files are claimed one at a time by the caller's claim
// function: the bench's reader threads deal them out as our pool does (a range per thread, idle threads
// taking from the back of the others'), so that both sides split the work alike.
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

/** The unit copyClaimed's claims hand out: a stripe of 1 MiB. */
export const COPY_STRIPE = 1 << 20;

/**
 * The bare copy our page cache does per page, without the cache: copy `src` out in 4 KiB pieces into
 * `buf`, 1 MiB stripes at a time as `claim()` hands them out. Returns bytes copied. Run by one and by
 * two threads, it shows what a second thread gains for that copy on this machine.
 */
export function copyClaimed(src: Buffer, buf: Buffer, claim: () => number): number {
  const stripe = COPY_STRIPE;
  const piece = 4096;
  const slots = Math.max(1, Math.floor(buf.length / piece));
  let bytes = 0;
  for (let s = claim(); s * stripe < src.length; s = claim()) {
    const end = Math.min(src.length, (s + 1) * stripe);
    for (let o = s * stripe; o < end; o += piece) {
      const n = Math.min(piece, end - o, buf.length);
      src.copy(buf, ((o / piece) % slots) * piece, o, o + n);
      bytes += Math.min(piece, end - o);
    }
  }
  return bytes;
}
