// LZ4 block decoding into a caller's buffer (the kernel's LZ4_decompress_safe and
// LZ4_decompress_safe_partial, lib/lz4/lz4_decompress.c, as EROFS calls them): raw LZ4 blocks (no frame),
// output bounded by the caller's range, input never read past its end, every match offset checked
// against the bytes already written — so the output needs no zeroing first and a corrupt block is an
// error, never stale or foreign bytes.
//
// Why our own: lz4js (the previous decoder) reads past its input (undefined → 0), accepts a zero or
// out-of-range match offset (copying bytes not yet written), and copies byte by byte. This one copies
// long literals with TypedArray.set and long non-overlapping matches with copyWithin (both memmove in
// V8), keeps the byte loop for short and overlapping copies, and stops as soon as a partial request's
// output is full. `npx tsx bench/lz4-micro.ts IMG...` measures it against lz4js, lz4-napi and lz4.wat
// on real pclusters: the data path uses lz4.wat (the same contract in WebAssembly, ~3-4x faster); this
// one stays as the reference the tests compare it with and as a selectable decoder (lz4Options).

/** Errors (negative returns of lz4DecodeBlock). */
export const LZ4_E_INPUT = -1; // a length or offset runs past the end of the input
export const LZ4_E_OFFSET = -2; // a match offset of 0 or before the start of the output
export const LZ4_E_OVERFLOW = -3; // a whole-block decode that would write past the output's end

const MIN_MATCH = 4;
/** Below this, byte loops beat a subarray + set / copyWithin call. */
const LONG_COPY = 100000;

/**
 * Decode the LZ4 block src[s0, s1) into dst[d0, d1).
 * `partial`: stop once dst[d0, d1) is full (the block may encode more); returns d1 − d0 then, or fewer
 * bytes when the block ends first. Otherwise the block must fit: returns the bytes it encodes, or
 * LZ4_E_OVERFLOW when that is more than d1 − d0. Negative: an LZ4_E_* error.
 */
export function lz4DecodeBlock(
  src: Uint8Array,
  s0: number,
  s1: number,
  dst: Uint8Array,
  d0: number,
  d1: number,
  partial: boolean,
): number {
  // An empty block encodes nothing, not even the empty output (LZ4_decompress_generic refuses it).
  if (s0 >= s1) return LZ4_E_INPUT;
  let s = s0;
  let d = d0;
  while (s < s1) {
    const token = src[s++];
    // Literals.
    let lit = token >>> 4;
    if (lit === 15) {
      let b: number;
      do {
        if (s >= s1) return LZ4_E_INPUT;
        b = src[s++];
        lit += b;
      } while (b === 255);
    }
    if (lit > 0) {
      if (lit > s1 - s) return LZ4_E_INPUT;
      let n = lit;
      if (n > d1 - d) {
        if (!partial) return LZ4_E_OVERFLOW;
        n = d1 - d;
      }
      if (n < LONG_COPY) {
        for (let e = d + n; d < e;) dst[d++] = src[s++];
        s += lit - n;
      } else {
        dst.set(src.subarray(s, s + n), d);
        d += n;
        s += lit;
      }
      if (partial && d === d1) return d - d0;
    }
    if (s >= s1) break; // the last sequence holds literals only
    // Match.
    if (s1 - s < 2) return LZ4_E_INPUT;
    const off = src[s] | (src[s + 1] << 8);
    s += 2;
    if (off === 0 || off > d - d0) return LZ4_E_OFFSET;
    let len = token & 15;
    if (len === 15) {
      let b: number;
      do {
        if (s >= s1) return LZ4_E_INPUT;
        b = src[s++];
        len += b;
      } while (b === 255);
    }
    len += MIN_MATCH;
    if (len > d1 - d) {
      if (!partial) return LZ4_E_OVERFLOW;
      len = d1 - d;
    }
    let m = d - off;
    if (len >= LONG_COPY && off >= len) {
      dst.copyWithin(d, m, m + len);
      d += len;
    } else {
      for (let e = d + len; d < e;) dst[d++] = dst[m++];
    }
    if (partial && d === d1) return d - d0;
  }
  return d - d0;
}
