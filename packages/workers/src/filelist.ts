// The file list of a ReaderPool.readClaimed run, in one SharedArrayBuffer (owned by this module): the
// pool encodes a list once and hands every task of every run over the same list the same buffer, and
// a worker decodes it once and keeps the strings. A list of thousands of paths sent as an array was
// copied (structured clone) by the main thread once per worker per run and rebuilt by every worker, and
// every open then hashed a fresh path string: per pass, a cost that grows with the workers.
//
// Layout, Int32 words: [id, count, mounts[count], ends[count]], then the UTF-8 bytes of the paths back
// to back (path i is bytes [ends[i - 1], ends[i]) of that area, ends[-1] = 0).

const L_ID = 0;
const L_COUNT = 1;
const HEADER = 2;

let nextId = 1;

/** A run's files: each mount with its paths. */
export type FileSets = readonly { readonly mount: number; readonly paths: readonly string[] }[];

/** Encode the files of `sets` (mount of each file, its path) into a new buffer with a process-unique id. */
export function encodeFileList(sets: FileSets): SharedArrayBuffer {
  let count = 0;
  for (const s of sets) count += s.paths.length;
  const bytes = sets.map((s) => s.paths.map((p) => Buffer.from(p, 'utf8')));
  let total = 0;
  for (const b of bytes) for (const p of b) total += p.length;
  const words = HEADER + 2 * count;
  const buf = new SharedArrayBuffer(words * 4 + total);
  const i32 = new Int32Array(buf, 0, words);
  const u8 = new Uint8Array(buf, words * 4);
  i32[L_ID] = nextId++;
  i32[L_COUNT] = count;
  let i = 0;
  let at = 0;
  sets.forEach((s, k) => {
    for (const p of bytes[k]) {
      i32[HEADER + i] = s.mount;
      u8.set(p, at);
      at += p.length;
      i32[HEADER + count + i] = at;
      i++;
    }
  });
  return buf;
}

/** A decoded list: mounts[i] is the mount of paths[i]. */
export interface FileList {
  readonly id: number;
  readonly mounts: Int32Array;
  readonly paths: readonly string[];
}

/** The list in `buf`, decoded (one list per worker is kept: a run over the same list decodes nothing). */
export function decodeFileList(buf: SharedArrayBuffer): FileList {
  const head = new Int32Array(buf, 0, HEADER);
  const id = head[L_ID];
  if (last?.id === id) return last;
  const count = head[L_COUNT];
  const words = HEADER + 2 * count;
  const i32 = new Int32Array(buf, 0, words);
  const text = Buffer.from(buf, words * 4);
  const paths: string[] = new Array<string>(count);
  let from = 0;
  for (let i = 0; i < count; i++) {
    const end = i32[HEADER + count + i];
    paths[i] = text.toString('utf8', from, end);
    from = end;
  }
  last = { id, mounts: i32.slice(HEADER, HEADER + count), paths };
  return last;
}
let last: FileList | undefined;

/**
 * A copy of `sets` to compare later runs' against (the caller may change its arrays between runs: the
 * paths are compared one by one, which costs little when they are the same strings).
 */
export function snapshotSets(sets: FileSets): FileSets {
  return sets.map((s) => ({ mount: s.mount, paths: [...s.paths] }));
}

/** True when `a` and `b` list the same files of the same mounts in the same order. */
export function sameSets(a: FileSets, b: FileSets): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i].paths;
    const y = b[i].paths;
    if (a[i].mount !== b[i].mount || x.length !== y.length) return false;
    for (let j = 0; j < x.length; j++) if (x[j] !== y[j]) return false;
  }
  return true;
}
