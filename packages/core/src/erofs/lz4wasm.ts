// The LZ4 block decoder of lz4.wat (WebAssembly, ~830 bytes, assembled by scripts/lz4-wasm.ts): the
// contract of lz4.ts (bounded output, input never read for data past its end, every match offset
// checked, partial decodes), at native speed and with no call overhead or allocation per block —
// measured against lz4-napi, lz4-wasm-nodejs and lz4.ts by bench/lz4-micro.ts (docs/compressed.md).
// One instance per thread, compiled on first use. The block is copied to the bottom of the instance's
// memory and decoded above it; the caller reads the output through lz4WasmOutput (valid until the
// next decode on this thread) and copies it once, where it goes.
import { LZ4_E_INPUT } from './lz4.ts';
import { LZ4_WASM_BASE64 } from './lz4wasm_module.ts';

interface Lz4Wasm {
  readonly memory: WebAssembly.Memory;
  readonly dec: (s: number, s1: number, d: number, d1: number, partial: number) => number;
}

/** Slack after the input and after the output: the decoder's 8-byte copies may run 16 bytes over. */
const SLACK = 32;
const WASM_PAGE = 65536;

let inst: Lz4Wasm | null = null;
let heap = new Uint8Array(0);
let outAt = 0;

function instance(): Lz4Wasm {
  if (inst === null) {
    const mod = new WebAssembly.Module(Buffer.from(LZ4_WASM_BASE64, 'base64'));
    inst = new WebAssembly.Instance(mod, {}).exports as unknown as Lz4Wasm;
    heap = new Uint8Array(inst.memory.buffer);
  }
  return inst;
}

let usable: boolean | null = null;

/**
 * Whether this engine runs the module: it uses 128-bit SIMD, which V8 compiles only on CPUs with SSE4.1
 * (x64) or NEON; a virtual CPU without them refuses it, and decompress.ts then decodes with lz4.ts.
 */
export function lz4WasmAvailable(): boolean {
  if (usable === null) {
    try {
      instance();
      usable = true;
    } catch {
      usable = false;
    }
  }
  return usable;
}

/**
 * Decode the LZ4 block src[s0, s1) into `length` bytes (lz4DecodeBlock's semantics and return
 * values: the bytes decoded, or an LZ4_E_* error). The output is then lz4WasmOutput(0, n).
 */
export function lz4WasmDecode(src: Uint8Array, s0: number, s1: number, length: number, partial: boolean): number {
  const w = instance();
  const n = s1 - s0;
  // An empty block encodes nothing, not even the empty output (as lz4.ts and LZ4_decompress_generic).
  if (n <= 0) return LZ4_E_INPUT;
  const at = lz4WasmLayout(n, length);
  heap.set(src.subarray(s0, s1), 0);
  outAt = at.output;
  return w.dec(0, n, at.output, at.output + length, partial ? 1 : 0);
}

/**
 * Where a decode of n input bytes into `length` bytes lays them in the instance's memory (grown to hold
 * them): the input at 0, the output at `output`; a decode may write only [output, end) and reads nothing
 * of the input past n that changes its result. The fuzzer (fuzz/decoders.ts) poisons the rest to check.
 */
export function lz4WasmLayout(n: number, length: number): { memory: Uint8Array; output: number; end: number } {
  const w = instance();
  const output = (n + SLACK + 15) & ~15;
  const end = output + length + SLACK;
  if (heap.length < end) {
    w.memory.grow(Math.ceil((end - heap.length) / WASM_PAGE));
    heap = new Uint8Array(w.memory.buffer);
  }
  return { memory: heap, output, end };
}

/** Bytes [from, to) of the last decode's output (a view of the instance's memory). */
export function lz4WasmOutput(from: number, to: number): Uint8Array {
  return heap.subarray(outAt + from, outAt + to);
}
