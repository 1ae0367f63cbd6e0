// Decompressor dispatch for compressed extents (kernel fs/erofs/decompressor*.c, erofs-utils
// lib/decompress.c). One request decodes the first `decodedLength` bytes of a pcluster and writes bytes
// [skip, decodedLength) of them into `out`; the decoders come from kept libraries:
//   lz4     our own block decoder in WebAssembly (lz4.wat, lz4wasm.ts), whole and partial requests (a
//           prefix of what the block encodes); lz4-napi (lz4_flex) and our typed-array decoder (lz4.ts)
//           stay selectable through lz4Options for measuring
//   deflate node:zlib raw inflate (the zlib every Node ships): whole extents on a zlib handle kept per
//           thread, into a buffer of ours (inflate.ts); partial ones through inflateRawSync
//   zstd    libzstd's ZSTD_decompress in WebAssembly (the module zstddec ships, zstdwasm.ts) into
//           exactly the size asked for (a partial request: the frame's size, at most the kernel's
//           limit); fzstd (pure JS, into a buffer of the frame's own size) only where the module does
//           not load — it misses corruption libzstd reports (docs/compressed.md); a forged frame size
//           cannot make either allocate more than the kernel's limit
//   lzma    our own MicroLZMA decoder over typed arrays (lzma.ts, the kernel's xz_dec_microlzma): an
//           LZMA1 stream whose first byte is the bitwise-not of the properties byte, no end marker,
//           decoded straight into `out` (or a per-thread scratch when skip > 0), whole extents checked
//           as pedantically as the kernel checks them, partial ones (a prefix) stopping early. It
//           replaced @napi-rs/lzma, whose output buffers our pool workers never freed and which could
//           not stop early (docs/compressed.md); bench/zdec-micro.ts still measures it side by side.
// Stored pclusters are "shifted" (the extent at the start of the block) or "interlaced" (rotated by the
// extent's offset in its block). With 0padding the compressed bytes are right-aligned in the pcluster:
// leading zeros are skipped (no LZ4/deflate/zstd stream starts with a zero byte in EROFS's use).
import { inflateRawSync, constants as zc } from 'node:zlib';
import { decompress as zstdDecompress } from 'fzstd';
import { createRequire } from 'node:module';
import { ErofsError } from './errors.ts';
import { lz4DecodeBlock, LZ4_E_INPUT, LZ4_E_OFFSET } from './lz4.ts';
import { lz4WasmAvailable, lz4WasmDecode, lz4WasmOutput } from './lz4wasm.ts';
import { inflateWhole } from './inflate.ts';
import { zstdWasmAvailable, zstdWasmDecode, zstdWasmOutput } from './zstdwasm.ts';
import {
  LZMA_E_DISTANCE,
  LZMA_E_INPUT,
  LZMA_E_PENDING,
  LZMA_E_PROPS,
  LZMA_E_SHORT,
  LZMA_E_TRAILING,
  microLzmaDecode,
} from './lzma.ts';
import { Z_ALG, Z_ALG_NAMES, Z_LZMA_MAX_DICT, Z_PCLUSTER_MAX_DSIZE } from './format.ts';

export interface DecompressRequest {
  readonly alg: number;
  /**
   * The raw pcluster (plen bytes), possibly a view of a device read window: a decoder may borrow its
   * zero padding while it runs but leaves every byte as it found it.
   */
  readonly input: Uint8Array;
  /** Receives decoded bytes [skip, decodedLength). */
  readonly out: Uint8Array;
  readonly decodedLength: number;
  readonly skip: number;
  /** Interlaced stored pclusters: the extent's offset in its block. */
  readonly interlacedOffset: number;
  /** The extent is a prefix of what the pcluster encodes (the kernel's partial_decoding). */
  readonly partial: boolean;
  readonly blockSize: number;
  /** The image right-aligns compressed data (ZERO_PADDING); without it an LZ4 pcluster may encode more. */
  readonly zeroPadding: boolean;
  /** For messages. */
  readonly nid: number;
  /**
   * lzma: the dictionary size of the superblock's lzma config (every match distance stays below it);
   * absent: the kernel's largest, 8 MiB.
   */
  readonly lzmaDictSize?: number;
  /**
   * May return the decoder's own output instead of copying it into `out` (valid until this thread's
   * next decode): the caller copies it once, straight where it goes (the page-cache frames).
   */
  readonly borrow?: boolean;
}

function bad(req: DecompressRequest, why: string): ErofsError {
  return new ErofsError('ECORRUPT', `compressed nid ${req.nid}: ${Z_ALG_NAMES[req.alg] ?? req.alg} pcluster: ${why}`);
}

/** z_erofs_fixup_insize: bytes of leading zero padding. */
function inputMargin(input: Uint8Array): number {
  let i = 0;
  while (i < input.length && input[i] === 0) i++;
  return i;
}

/** The request's bytes [skip, decodedLength) of a decoder's own output: lent as they are, or copied to out. */
function copyOut(req: DecompressRequest, decoded: Uint8Array): Uint8Array {
  const bytes = decoded.subarray(req.skip, req.decodedLength);
  if (req.borrow === true) return bytes;
  req.out.set(bytes);
  return req.out;
}

interface Lz4Napi {
  uncompressSync(data: Uint8Array): Buffer;
}
let lz4Napi: Lz4Napi | null | undefined;
/** lz4-napi (lz4_flex, safe Rust, prebuilt per platform), loaded on first use; null where it has no build. */
function lz4Native(): Lz4Napi | null {
  if (lz4Napi === undefined) {
    try {
      lz4Napi = createRequire(import.meta.url)('lz4-napi') as Lz4Napi;
    } catch {
      lz4Napi = null;
    }
  }
  return lz4Napi;
}

/**
 * Which LZ4 decoder runs (for measuring side by side; the default is the fastest measured):
 *   wasm  lz4.wat (lz4wasm.ts) for every request
 *   napi  lz4-napi for whole blocks (falls back to js where the addon has no build), js for partial ones
 *   js    lz4.ts for every request
 */
export const lz4Options: { decoder: 'wasm' | 'napi' | 'js' } = { decoder: 'wasm' };

function lz4Error(code: number): string {
  if (code === LZ4_E_INPUT) return 'runs past the end of its input';
  if (code === LZ4_E_OFFSET) return 'match offset outside the output';
  return 'encodes more than the extent';
}

function lz4Check(req: DecompressRequest, end: number, partial: boolean): void {
  if (end < 0) throw bad(req, `undecodable (${lz4Error(end)})`);
  if (end !== req.decodedLength) {
    throw bad(req, `decoded ${end} bytes, expected ${partial ? 'at least ' : ''}${req.decodedLength}`);
  }
}

/**
 * LZ4 (bounded output, input never read past its end, no zeroing needed, partial decodes for legacy
 * images and dedupe's partial references): by default the WebAssembly decoder, whose output the caller
 * may borrow. lz4-napi's input is the block behind its decoded size as a 4-byte little-endian prefix,
 * written into the zero padding in front of the block and given back after, so the input is not copied.
 */
function lz4Decode(req: DecompressRequest, input: Uint8Array, margin: number): Uint8Array {
  // Legacy (pre-0padding) images may compress extra data into a pcluster: always a prefix decode.
  const partial = req.partial || !req.zeroPadding;
  const which = lz4Options.decoder === 'wasm' && !lz4WasmAvailable() ? 'js' : lz4Options.decoder;
  if (which === 'wasm') {
    lz4Check(req, lz4WasmDecode(input, margin, input.length, req.decodedLength, partial), partial);
    const bytes = lz4WasmOutput(req.skip, req.decodedLength);
    if (req.borrow === true) return bytes;
    req.out.set(bytes);
    return req.out;
  }
  const native = which === 'napi' && !partial ? lz4Native() : null;
  if (native !== null) {
    let framed: Uint8Array;
    const inPlace = margin >= 4;
    if (inPlace) {
      framed = input.subarray(margin - 4);
    } else {
      framed = new Uint8Array(input.length - margin + 4);
      framed.set(input.subarray(margin), 4);
    }
    const n = req.decodedLength;
    framed[0] = n & 0xff;
    framed[1] = (n >>> 8) & 0xff;
    framed[2] = (n >>> 16) & 0xff;
    framed[3] = n >>> 24;
    let decoded: Buffer;
    try {
      decoded = native.uncompressSync(framed);
    } catch (e) {
      throw bad(req, `undecodable (${(e as Error).message})`);
    } finally {
      // The padding was zeros (inputMargin): give it back as it was.
      if (inPlace) framed[0] = framed[1] = framed[2] = framed[3] = 0;
    }
    if (decoded.length !== n) throw bad(req, `decoded ${decoded.length} bytes, expected ${n}`);
    return copyOut(req, decoded);
  }
  // Ours decodes straight into the caller's buffer when it wants the whole prefix.
  const direct = req.skip === 0;
  const dst = direct ? req.out : scratch(req.decodedLength);
  lz4Check(req, lz4DecodeBlock(input, margin, input.length, dst, 0, req.decodedLength, partial), partial);
  return direct ? req.out : copyOut(req, dst);
}

let scratchBuf = new Uint8Array(0);
/** A per-thread buffer for decodes whose output starts past the caller's range (grows only). */
function scratch(n: number): Uint8Array {
  if (scratchBuf.length < n) scratchBuf = new Uint8Array(Math.max(n, 2 * scratchBuf.length));
  return scratchBuf;
}

/**
 * Which raw inflate runs (for measuring and the fuzzer's side-by-side):
 *   handle  whole requests on this thread's kept zlib handle, straight into a buffer (inflate.ts);
 *           partial ones as 'sync'
 *   sync    zlib.inflateRawSync for every request (a stream, a handle and zlib's state per call)
 */
export const deflateOptions: { decoder: 'handle' | 'sync' } = { decoder: 'handle' };

function deflateDecode(req: DecompressRequest, src: Uint8Array): Uint8Array {
  if (deflateOptions.decoder === 'handle' && !req.partial) {
    const r = inflateWhole(src, req.decodedLength);
    if (typeof r === 'string') throw bad(req, `inflate failed (${r}), expected ${req.decodedLength} bytes`);
    if (r !== null) return copyOut(req, r);
  }
  let decoded: Buffer;
  try {
    decoded = inflateRawSync(src, {
      finishFlush: req.partial ? zc.Z_SYNC_FLUSH : zc.Z_FINISH,
      maxOutputLength: req.partial ? Z_PCLUSTER_MAX_DSIZE : Math.max(1, req.decodedLength),
    });
  } catch (e) {
    throw bad(req, `inflate failed (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (req.partial ? decoded.length < req.decodedLength : decoded.length !== req.decodedLength) {
    throw bad(req, `inflated ${decoded.length} bytes, expected ${req.decodedLength}`);
  }
  return copyOut(req, decoded);
}

/** Frame_Content_Size from a zstd frame header, or -1 when the frame does not carry it. */
function zstdContentSize(src: Uint8Array): number {
  if (src.length < 6 || src[0] !== 0x28 || src[1] !== 0xb5 || src[2] !== 0x2f || src[3] !== 0xfd) return -1;
  const fhd = src[4];
  const fcsFlag = fhd >> 6;
  const single = (fhd >> 5) & 1;
  const dictBytes = [0, 1, 2, 4][fhd & 3];
  const fcsBytes = fcsFlag === 0 ? single : 1 << fcsFlag;
  if (fcsBytes === 0) return -1;
  const at = 5 + (single ? 0 : 1) + dictBytes;
  if (at + fcsBytes > src.length) return -1;
  let v = 0;
  for (let i = fcsBytes - 1; i >= 0; i--) v = v * 256 + src[at + i];
  return fcsBytes === 2 ? v + 256 : v;
}

/**
 * Which zstd decoder runs: libzstd's ZSTD_decompress in WebAssembly (the module zstddec ships,
 * zstdwasm.ts; ~5x fzstd), or fzstd ('js', and where the module does not load).
 */
export const zstdOptions: { decoder: 'wasm' | 'js' } = { decoder: 'wasm' };

function zstdDecode(req: DecompressRequest, src: Uint8Array): Uint8Array {
  const fcs = zstdContentSize(src);
  if (fcs >= 0 && (req.partial ? fcs < req.decodedLength : fcs !== req.decodedLength)) {
    throw bad(req, `frame holds ${fcs} bytes, expected ${req.partial ? 'at least ' : ''}${req.decodedLength}`);
  }
  if (zstdOptions.decoder === 'wasm' && zstdWasmAvailable()) {
    // A partial request decodes the whole frame into room for all of it (bounded by the kernel's limit),
    // so no decoder write is cut short mid-block: the frame's own size, or the limit when it does not
    // say (libzstd then reports how much it held). libzstd never writes past `cap` and fails on a frame
    // that needs more.
    const cap = !req.partial ? req.decodedLength : fcs < 0 ? Z_PCLUSTER_MAX_DSIZE : Math.min(fcs, Z_PCLUSTER_MAX_DSIZE);
    const n = zstdWasmDecode(src, Math.max(cap, req.decodedLength));
    if (n < 0) throw bad(req, 'undecodable (zstd reports a corrupt frame or one larger than the extent)');
    if (req.partial ? n < req.decodedLength || (fcs >= 0 && n !== fcs) : n !== cap) {
      throw bad(req, `decoded ${n} bytes, expected ${req.partial ? 'at least ' : ''}${req.decodedLength}`);
    }
    const bytes = zstdWasmOutput(req.skip, req.decodedLength);
    if (req.borrow === true) return bytes;
    req.out.set(bytes);
    return req.out;
  }
  // fzstd decodes into a buffer it is given and never says how many bytes the frame held (fewer leave
  // the rest as it was, more are cut off mid-sequence, wrongly): it is given exactly the frame's own
  // size, so a frame that does not say it is refused, as upstream erofs-utils refuses it.
  if (fcs < 0) throw bad(req, 'frame without a content size (needs the WebAssembly decoder)');
  if (fcs > Z_PCLUSTER_MAX_DSIZE) throw bad(req, `frame holds ${fcs} bytes, more than a pcluster may`);
  const dst = new Uint8Array(fcs);
  try {
    zstdDecompress(src, dst);
  } catch (e) {
    throw bad(req, `undecodable (${(e as Error).message})`);
  }
  return copyOut(req, dst);
}

function lzmaError(code: number, req: DecompressRequest, dictSize: number): string {
  switch (code) {
    case LZMA_E_PROPS:
      return `invalid properties byte 0x${(~req.input[inputMargin(req.input)] & 0xff).toString(16)}`;
    case LZMA_E_SHORT:
      return 'shorter than the five bytes that start the range coder';
    case LZMA_E_INPUT:
      return `runs past the end of its input before ${req.decodedLength} bytes are decoded`;
    case LZMA_E_DISTANCE:
      return `match distance beyond the bytes decoded so far or the ${dictSize}-byte dictionary`;
    case LZMA_E_TRAILING:
      return `input left over after ${req.decodedLength} bytes`;
    case LZMA_E_PENDING:
      return `encodes more than ${req.decodedLength} bytes (a match runs past the end)`;
    default:
      return 'the range coder did not finish at the end of the extent';
  }
}

/**
 * MicroLZMA (lzma.ts): straight into `out` when the request starts at the extent's first byte, else
 * into this thread's scratch and the asked-for bytes copied. A partial request decodes just the prefix.
 */
function lzmaDecode(req: DecompressRequest, input: Uint8Array, margin: number): Uint8Array {
  const dictSize = req.lzmaDictSize ?? Z_LZMA_MAX_DICT;
  if (!(dictSize >= 4096 && dictSize <= Z_LZMA_MAX_DICT)) {
    // z_erofs_load_lzma_config refuses to mount such an image.
    throw bad(req, `the superblock's lzma dictionary size ${dictSize} is outside [4096, ${Z_LZMA_MAX_DICT}]`);
  }
  const direct = req.skip === 0;
  const dst = direct ? req.out : scratch(req.decodedLength);
  const r = microLzmaDecode(input, margin, input.length, dst, 0, req.decodedLength, !req.partial, dictSize);
  if (r < 0) throw bad(req, lzmaError(r, req, dictSize));
  return direct ? req.out : copyOut(req, dst);
}

/**
 * Decode one extent; throws a one-line ErofsError on anything it cannot decode exactly. Returns the
 * decoded bytes [skip, decodedLength): `out`, or with `borrow` possibly the decoder's own buffer (or,
 * for a shifted stored pcluster, the input itself).
 */
export function zDecompress(req: DecompressRequest): Uint8Array {
  if (req.decodedLength < req.skip || req.out.length !== req.decodedLength - req.skip) {
    throw new ErofsError('ECORRUPT', `compressed nid ${req.nid}: bad decode request`);
  }
  const input = req.input;
  switch (req.alg) {
    case Z_ALG.SHIFTED: {
      if (req.decodedLength > input.length) throw bad(req, `${req.decodedLength} bytes stored in ${input.length}`);
      if (req.borrow === true) return input.subarray(req.skip, req.decodedLength);
      req.out.set(input.subarray(req.skip, req.decodedLength));
      return req.out;
    }
    case Z_ALG.INTERLACED: {
      if (req.decodedLength > input.length) throw bad(req, `${req.decodedLength} bytes stored in ${input.length}`);
      if (input.length > req.blockSize) throw bad(req, `interlaced pcluster larger than a block`);
      const count = req.decodedLength - req.skip;
      const skip = (req.interlacedOffset + req.skip) % req.blockSize;
      const right = Math.min(req.blockSize - skip, count);
      if (skip + right > input.length || count - right > input.length) throw bad(req, 'interlaced data out of range');
      req.out.set(input.subarray(skip, skip + right), 0);
      req.out.set(input.subarray(0, count - right), right);
      return req.out;
    }
    case Z_ALG.LZ4:
    case Z_ALG.DEFLATE:
    case Z_ALG.ZSTD: {
      const margin = inputMargin(input);
      if (margin >= input.length) throw bad(req, 'all zeros');
      if (req.alg === Z_ALG.LZ4) return lz4Decode(req, input, margin);
      if (req.alg === Z_ALG.DEFLATE) return deflateDecode(req, input.subarray(margin));
      return zstdDecode(req, input.subarray(margin));
    }
    case Z_ALG.LZMA: {
      const margin = inputMargin(input);
      if (margin >= input.length) throw bad(req, 'all zeros');
      return lzmaDecode(req, input, margin);
    }
    default:
      throw new ErofsError('EUNSUPPORTED', `compressed nid ${req.nid}: unknown algorithm ${req.alg}`);
  }
}
