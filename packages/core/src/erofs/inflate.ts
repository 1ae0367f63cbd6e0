// Raw inflate (EROFS's deflate pclusters) through Node's own zlib, one stream per thread kept and reset
// between pclusters, inflating straight into a buffer of ours. `zlib.inflateRawSync` builds a stream
// object, a native handle and zlib's state for every call, inflates into fresh 16 KiB chunks and joins
// them into a new Buffer: for a pcluster of a few KiB that set-up costs about as much as the inflate.
// Node's zlib streams drive the native handle through `writeSync(flush, in, inOff, inLen, out, outOff,
// outLen)` (availOut, availIn after it land in the stream's `_writeState`; an error calls the handle's
// `onerror`); we call it the same way on one handle per thread (the idea of the `fast-zlib` package,
// which returns fresh Buffers, so we do it ourselves to keep the output where it is). These are
// Node's internals, not its documented API: the handle's shape is checked once and, where it differs,
// every request goes through inflateRawSync (inflateStats().handle says which ran).
import { createInflateRaw, constants as zc } from 'node:zlib';

interface ZlibHandle {
  writeSync(
    flush: number,
    input: Uint8Array,
    inOff: number,
    inLen: number,
    out: Uint8Array,
    outOff: number,
    outLen: number,
  ): void;
  reset(): void;
  close(): void;
  onerror: (message: string, errno: number) => void;
}

interface Inflater {
  readonly handle: ZlibHandle;
  /** [availOut, availIn] after the last writeSync. */
  readonly state: Uint32Array;
  /** The last error the handle reported (null: none since the reset). */
  error: string | null;
}

let inflater: Inflater | null | undefined;
let scratch = new Uint8Array(0);

/** Which way inflates run, and how many: for measuring, and for a test that the handle is used. */
const stats = { handle: false, calls: 0 };

function open(): Inflater | null {
  try {
    const s = createInflateRaw() as unknown as { _handle?: unknown; _writeState?: unknown };
    const h = s._handle as Partial<ZlibHandle> | undefined;
    const state = s._writeState;
    if (
      h === undefined ||
      typeof h.writeSync !== 'function' ||
      typeof h.reset !== 'function' ||
      typeof h.close !== 'function' ||
      !(state instanceof Uint32Array) ||
      state.length < 2
    )
      return null;
    const inf: Inflater = { handle: h as ZlibHandle, state, error: null };
    // Ours instead of the stream's (which would destroy the stream): remember the message, go on.
    inf.handle.onerror = (message: string) => {
      inf.error = message;
    };
    return inf;
  } catch {
    return null;
  }
}

function get(): Inflater | null {
  if (inflater === undefined) {
    inflater = open();
    stats.handle = inflater !== null;
  }
  return inflater;
}

/** Whether inflates run on the kept handle (false: the handle's shape was not Node's, inflateRawSync). */
export function inflateStats(): { readonly handle: boolean; readonly calls: number } {
  get();
  return { handle: stats.handle, calls: stats.calls };
}

/**
 * Inflate the raw deflate stream `src` whole into exactly `length` bytes: a view of this thread's
 * scratch (valid until its next inflate), or a string saying why not — the stream is corrupt, ends
 * early, or holds more than `length` bytes (checked by giving it one byte more room) — or null when the
 * kept handle is not available (the caller uses inflateRawSync).
 */
export function inflateWhole(src: Uint8Array, length: number): Uint8Array | string | null {
  const inf = get();
  if (inf === null) return null;
  stats.calls++;
  if (scratch.length < length + 1) scratch = new Uint8Array(Math.max(length + 1, 2 * scratch.length, 65536));
  inf.error = null;
  inf.handle.reset();
  inf.handle.writeSync(zc.Z_FINISH, src, 0, src.length, scratch, 0, length + 1);
  if (inf.error !== null) {
    // Start the next request on a fresh handle whatever state this one was left in.
    const why = inf.error;
    try {
      inf.handle.close();
    } catch {
      // closing a broken handle: nothing more to do
    }
    inflater = undefined;
    return why;
  }
  const produced = length + 1 - inf.state[0];
  if (produced !== length) return `inflated ${produced > length ? 'more than ' : ''}${produced} bytes`;
  return scratch.subarray(0, length);
}
