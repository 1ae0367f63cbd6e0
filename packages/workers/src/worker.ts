// A reader worker: attaches to the shared kernel once (handle from workerData) and runs read tasks
// against it. It keeps only private, immutable things of its own (parsed images, fds): all page-cache
// and inode state it touches is the arena's.
import { workerData } from 'node:worker_threads';
import { createHash } from 'node:crypto';
import { System, type ArenaHandle, type OpenFile } from '@ishare/core';
import type { ReaderTask, ReaderResult, ReadFilesTask, ReadClaimedTask, RangesTask } from './tasks.ts';
import { ClaimState, MAX_PARTS } from './claim.ts';
import { FileRanges } from './ranges.ts';
import { decodeFileList, type FileList } from './filelist.ts';

const sys = System.attach((workerData as { handle: ArenaHandle }).handle);
let buf = Buffer.allocUnsafe(128 * 1024);

function ensure(n: number): Buffer {
  if (buf.length < n) buf = Buffer.allocUnsafe(n);
  return buf;
}

function readFiles(t: ReadFilesTask): ReaderResult {
  const chunk = t.chunk ?? 128 * 1024;
  const b = ensure(chunk);
  const hashes: string[] | undefined = t.hash ? [] : undefined;
  const errors: string[] = [];
  let bytes = 0;
  let files = 0;
  for (const path of t.paths) {
    let file: OpenFile | undefined;
    try {
      file = t.layers ? sys.openOverlay(t.layers, path) : sys.open(t.mount, path);
      const h = hashes ? createHash('sha256') : undefined;
      for (let pos = 0; pos < file.size;) {
        const n = sys.read(file, pos, chunk, b, 0);
        if (n === 0) break;
        if (h) h.update(b.subarray(0, n));
        pos += n;
        bytes += n;
      }
      if (h && hashes) hashes.push(h.digest('hex'));
      files++;
    } catch (e) {
      errors.push(`${path}: ${(e as Error).message}`);
      if (hashes) hashes.push('');
    } finally {
      if (file) sys.close(file);
    }
  }
  return { files, bytes, hashes, errors, threadId: sys.kernel.threadId };
}

/** Read [from, to) of `file` in `chunk`-byte reads (or pinned views); returns bytes read. */
function readSpan(t: ReadClaimedTask, file: OpenFile, from: number, to: number, chunk: number, b: Buffer): number {
  let bytes = 0;
  for (let pos = from; pos < to;) {
    const len = Math.min(chunk, to - pos);
    let n: number;
    if (t.view) {
      const v = sys.view(file, pos, len);
      n = v.bytes;
      v.release();
    } else n = sys.read(file, pos, len, b, 0);
    if (n === 0) break;
    pos += n;
    bytes += n;
  }
  return bytes;
}

function readClaimed(t: ReadClaimedTask): ReaderResult {
  const list = decodeFileList(t.files);
  if (t.split) return readClaimedSplit(t, list, t.split);
  const { mounts, paths } = list;
  const chunk = t.chunk ?? 128 * 1024;
  const b = ensure(chunk);
  const ranges = new FileRanges(t.ranges, t.slots);
  const slot = ranges.takeSlot();
  const errors: string[] = [];
  let bytes = 0;
  let files = 0;
  for (let i = ranges.claim(slot); i >= 0; i = ranges.claim(slot)) {
    let file: OpenFile | undefined;
    try {
      file = sys.open(mounts[i], paths[i]);
      bytes += readSpan(t, file, 0, file.size, chunk, b);
      files++;
    } catch (e) {
      errors.push(`${paths[i]}: ${(e as Error).message}`);
    } finally {
      if (file) sys.close(file);
    }
  }
  return { files, bytes, errors, threadId: sys.kernel.threadId };
}

/**
 * readClaimed with big files cut into stripes (claim.ts): first help with any published file's stripes,
 * then claim the next file; a file bigger than one stripe is published in this task's slot and its
 * stripes claimed by this worker and by idle ones alike. Each stripe is counted by the one who read it;
 * each file once, by the worker that claimed it.
 */
function readClaimedSplit(
  t: ReadClaimedTask,
  list: FileList,
  split: NonNullable<ReadClaimedTask['split']>,
): ReaderResult {
  const { mounts, paths } = list;
  const chunk = t.chunk ?? 128 * 1024;
  const b = ensure(chunk);
  const st = new ClaimState(split.claim, split.slots, paths.length, new FileRanges(t.ranges, t.slots));
  const slot = st.takeSlot();
  const errors: string[] = [];
  let bytes = 0;
  let files = 0;
  // The file of the last stripe read, kept open for the next stripe of the same file.
  let held: { index: number; file: OpenFile } | undefined;
  const release = (): void => {
    if (held) sys.close(held.file);
    held = undefined;
  };
  const stripe = (from: number, late = false): boolean => {
    const s = late ? st.claimLate(from) : st.claimAny(from);
    if (!s) return false;
    try {
      if (held?.index !== s.file) {
        release();
        held = { index: s.file, file: sys.open(mounts[s.file], paths[s.file]) };
      }
      bytes += readSpan(t, held.file, s.start, s.end, chunk, b);
    } catch (e) {
      errors.push(`${paths[s.file]}: ${(e as Error).message}`);
    } finally {
      st.finish(s);
    }
    return true;
  };
  try {
    for (;;) {
      while (stripe(slot));
      const i = st.nextFile(slot);
      if (i >= paths.length) {
        // No file left: help with the stripes of files others still read, until none can come.
        while (stripe(slot, true));
        break;
      }
      release();
      let file: OpenFile | undefined;
      let settled = false;
      try {
        file = sys.open(mounts[i], paths[i]);
        const cuts = file.size > split.bytes ? sys.readSplits(file, split.bytes, MAX_PARTS) : [0, file.size];
        if (cuts.length <= 2) {
          settled = true;
          st.settle(slot);
          bytes += readSpan(t, file, 0, file.size, chunk, b);
        } else {
          st.publish(slot, i, cuts);
          settled = true;
          st.settle(slot);
          held = { index: i, file };
          file = undefined;
          // Its own stripes first (this slot), then anyone's.
          while (stripe(slot));
        }
        files++;
      } catch (e) {
        errors.push(`${paths[i]}: ${(e as Error).message}`);
      } finally {
        if (!settled) st.settle(slot);
        if (file) sys.close(file);
      }
    }
  } finally {
    release();
  }
  return { files, bytes, errors, threadId: sys.kernel.threadId };
}

function ranges(t: RangesTask): ReaderResult {
  const errors: string[] = [];
  const hashes: string[] | undefined = t.hash ? [] : undefined;
  let bytes = 0;
  const open = new Map<string, OpenFile>();
  try {
    for (const [path, offset, length] of t.ranges) {
      try {
        let file = open.get(path);
        if (!file) {
          file = t.layers ? sys.openOverlay(t.layers, path) : sys.open(t.mount, path);
          open.set(path, file);
        }
        if (t.readahead) {
          sys.readahead(file, offset, length);
        } else {
          const b = ensure(length);
          const n = sys.read(file, offset, length, b, 0);
          if (hashes) hashes.push(createHash('sha256').update(b.subarray(0, n)).digest('hex'));
          bytes += n;
        }
      } catch (e) {
        errors.push(`${path}: ${(e as Error).message}`);
        if (hashes) hashes.push('');
      }
    }
  } finally {
    for (const f of open.values()) sys.close(f);
  }
  return { files: open.size, bytes, hashes, errors, threadId: sys.kernel.threadId };
}

export default function run(task: ReaderTask): ReaderResult {
  // The task's reads run in its memory cgroup (charged there), as a task in a cgroup; then back to the root.
  if (task.memcg !== undefined) sys.setMemcg(task.memcg);
  try {
    switch (task.kind) {
      case 'readFiles':
        return readFiles(task);
      case 'readClaimed':
        return readClaimed(task);
      case 'ranges':
        return ranges(task);
      default:
        throw new Error(`unknown reader task ${(task as { kind: string }).kind}`);
    }
  } finally {
    if (task.memcg !== undefined) sys.setMemcg(0);
  }
}
