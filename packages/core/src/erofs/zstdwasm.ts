// zstd through libzstd's own decoder compiled to WebAssembly — the module `zstddec` 0.3.4 ships
// (ZSTD_decompress, ZSTD_isError, malloc, free; its one import tells of memory growth) — instantiated
// here synchronously, per thread, on first use: zstddec's own wrapper instantiates asynchronously, which
// a worker busy in a synchronous fill never lets finish, and it neither checks ZSTD_isError nor lets the
// output stay where it is. The module's bytes are the base64 constant in zstddec's published file (the
// version is pinned; a test checks this loads). The input and output buffers inside the instance are
// kept and grown, so a decode allocates nothing; the output is read in place until the next decode.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

interface ZstdExports {
  readonly memory: WebAssembly.Memory;
  readonly malloc: (n: number) => number;
  readonly free: (p: number) => void;
  readonly ZSTD_decompress: (dst: number, cap: number, src: number, n: number) => number;
  readonly ZSTD_isError: (code: number) => number;
}

let exp: ZstdExports | null | undefined;
let heap = new Uint8Array(0);
let inPtr = 0;
let inCap = 0;
let outPtr = 0;
let outCap = 0;

function load(): ZstdExports | null {
  if (exp !== undefined) return exp;
  exp = null;
  try {
    const file = createRequire(import.meta.url).resolve('zstddec');
    const m = /const wasm = "([A-Za-z0-9+/=]+)"/.exec(readFileSync(file, 'utf8'));
    if (m === null) return null;
    const mod = new WebAssembly.Module(Buffer.from(m[1], 'base64'));
    let e: ZstdExports | null = null;
    const inst = new WebAssembly.Instance(mod, {
      env: {
        emscripten_notify_memory_growth: () => {
          if (e !== null) heap = new Uint8Array(e.memory.buffer);
        },
      },
    });
    e = inst.exports as unknown as ZstdExports;
    heap = new Uint8Array(e.memory.buffer);
    exp = e;
  } catch {
    exp = null;
  }
  return exp;
}

/** Whether the WebAssembly decoder is there (false: the caller decodes another way). */
export function zstdWasmAvailable(): boolean {
  return load() !== null;
}

/**
 * ZSTD_decompress of src into exactly `cap` bytes of the instance's memory: the bytes decoded (the
 * caller checks them against what it asked for), or -1 when libzstd reports an error (a corrupt frame,
 * or one that needs more room than `cap`). The output is then zstdWasmOutput(from, to).
 */
export function zstdWasmDecode(src: Uint8Array, cap: number): number {
  const e = load();
  if (e === null) throw new Error('zstd WebAssembly decoder not available');
  const n = src.length;
  if (inCap < n) {
    if (inCap > 0) e.free(inPtr);
    inCap = Math.max(n, 64 * 1024);
    inPtr = e.malloc(inCap);
  }
  if (outCap < cap) {
    if (outCap > 0) e.free(outPtr);
    outCap = Math.max(cap, 64 * 1024);
    outPtr = e.malloc(outCap);
  }
  if (inPtr === 0 || outPtr === 0) {
    inCap = outCap = 0;
    throw new Error('zstd WebAssembly decoder out of memory');
  }
  heap.set(src, inPtr);
  const r = e.ZSTD_decompress(outPtr, cap, inPtr, n);
  if (e.ZSTD_isError(r) !== 0) return -1;
  return r >>> 0;
}

/** Bytes [from, to) of the last decode's output (a view of the instance's memory). */
export function zstdWasmOutput(from: number, to: number): Uint8Array {
  return heap.subarray(outPtr + from, outPtr + to);
}
