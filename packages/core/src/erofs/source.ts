// Block sources: the only way the reader touches image bytes. Every read is range-checked here, so
// a bogus on-disk address surfaces as ETRUNCATED with the offset instead of a short read or a
// RangeError deep inside a parser.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { ErofsError } from './errors.ts';
import type { BlockSource } from './types.ts';

function checkRange(size: number, pos: number, len: number): void {
  if (!Number.isSafeInteger(pos) || pos < 0 || pos + len > size) {
    throw new ErofsError(
      'ETRUNCATED',
      `read of ${len} bytes past the end of the image (image is ${size} bytes)`,
      Number.isSafeInteger(pos) ? pos : undefined,
    );
  }
}

/** An image file opened read-only; reads go straight into the caller's buffer (which may be a SAB view). */
export class FileSource implements BlockSource {
  readonly fd: number;
  readonly size: number;
  readonly path: string;
  private closed = false;
  /** Whether close() closes the descriptor (false: it belongs to whoever opened it, e.g. a mount). */
  private readonly owned: boolean;

  /**
   * Open `path`, or read through `fd`, an already open descriptor of it that stays its owner's: the
   * source then never opens the path (a file renamed over it later is not what this source reads).
   */
  constructor(path: string, fd?: number) {
    this.path = path;
    this.owned = fd === undefined;
    this.fd = fd ?? openSync(path, 'r');
    try {
      const st = fstatSync(this.fd);
      // Block devices report size 0 through fstat; only image files are served.
      if (!st.isFile()) throw new ErofsError('EINVAL', 'not a regular file');
      this.size = st.size;
    } catch (e) {
      if (this.owned) closeSync(this.fd);
      throw e;
    }
  }

  read(dst: Uint8Array, pos: number): void {
    checkRange(this.size, pos, dst.length);
    if (this.closed) throw new ErofsError('EIO', `read from closed image ${this.path}`, pos);
    let done = 0;
    while (done < dst.length) {
      let n: number;
      try {
        n = readSync(this.fd, dst, done, dst.length - done, pos + done);
      } catch (e) {
        throw new ErofsError('EIO', `read failed on ${this.path}: ${(e as Error).message}`, pos + done);
      }
      // The file shrank under us: that is a truncated image, not a retry.
      if (n === 0) throw new ErofsError('ETRUNCATED', `unexpected end of ${this.path}`, pos + done);
      done += n;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.owned) closeSync(this.fd);
  }
}

/** An image held in memory (tests, tar-built images, fuzzing). */
export class BufferSource implements BlockSource {
  readonly size: number;
  private readonly buf: Uint8Array;

  constructor(buf: Uint8Array) {
    this.buf = buf;
    this.size = buf.length;
  }

  read(dst: Uint8Array, pos: number): void {
    checkRange(this.size, pos, dst.length);
    dst.set(this.buf.subarray(pos, pos + dst.length));
  }

  close(): void {
    // Nothing to release: the buffer belongs to the caller.
  }
}

/** Read `len` bytes at `pos` into a fresh array. */
export function readAt(src: BlockSource, pos: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  src.read(out, pos);
  return out;
}

// Little-endian field accessors over a byte array (on-disk structures are all LE).
export function u8(b: Uint8Array, off: number): number {
  return b[off];
}
export function u16(b: Uint8Array, off: number): number {
  return b[off] | (b[off + 1] << 8);
}
export function u32(b: Uint8Array, off: number): number {
  return (b[off] | (b[off + 1] << 8) | (b[off + 2] << 16) | (b[off + 3] << 24)) >>> 0;
}
/** A u64 as a number, or -1 when it does not fit in 2^53 (callers treat that as corrupt). */
export function u64(b: Uint8Array, off: number): number {
  const lo = u32(b, off);
  const hi = u32(b, off + 4);
  if (hi >= 0x200000) return -1;
  return hi * 0x100000000 + lo;
}
/**
 * An s64 (times before 1970 are negative) as a number, or NaN when it lies outside ±2^53 (callers
 * treat that as corrupt).
 */
export function i64(b: Uint8Array, off: number): number {
  const lo = u32(b, off);
  const hi = b[off + 4] | (b[off + 5] << 8) | (b[off + 6] << 16) | (b[off + 7] << 24) | 0;
  if (hi >= 0x200000 || hi < -0x200000) return Number.NaN;
  return hi * 0x100000000 + lo;
}
