// fs.createReadStream for a file in an image: a real stream.Readable over bytes [start, end] (end
// inclusive, as Node's), validated as Node validates them, opened when the stream is constructed and
// closed when it ends or is destroyed.
import { Readable } from 'node:stream';
import type { ErofsInode } from '../erofs/types.ts';
import type { FileReader } from './backend.ts';
import { fsError, outOfRange, toFsError } from './errors.ts';

export interface ReadStreamOptions {
  /** First byte (default 0). */
  start?: number;
  /** Last byte, inclusive (default: to the end of the file). */
  end?: number;
  highWaterMark?: number;
  encoding?: BufferEncoding;
  emitClose?: boolean;
}

/** What the stream needs of its ImageFs (kept narrow so the two modules do not import each other). */
export interface ReaderOpener {
  openReader(path: string): { path: string; inode: ErofsInode; reader: FileReader | undefined };
}

/** Node's validateInteger(value, name, 0) for createReadStream's start and end. */
function checkPosition(value: unknown, name: string): number {
  if (typeof value !== 'number') {
    const e = new TypeError(`The "${name}" argument must be of type number. Received ${typeof value}`);
    (e as TypeError & { code: string }).code = 'ERR_INVALID_ARG_TYPE';
    throw e;
  }
  if (!Number.isInteger(value)) throw outOfRange(name, 'an integer', value);
  if (value < 0 || value > Number.MAX_SAFE_INTEGER)
    throw outOfRange(name, `>= 0 && <= ${Number.MAX_SAFE_INTEGER}`, value);
  return value;
}

export class ImageReadStream extends Readable {
  /** The path as given. */
  readonly path: string;
  readonly start: number;
  readonly end: number;
  bytesRead = 0;
  /** True until the file is opened. */
  pending = true;
  #pos: number;
  #reader: FileReader | undefined;
  #inode: ErofsInode | undefined;
  readonly #fs: ReaderOpener;

  constructor(fs: ReaderOpener, path: string, opts: ReadStreamOptions) {
    const start = opts.start === undefined ? 0 : checkPosition(opts.start, 'start');
    let end = Infinity;
    if (opts.end !== undefined && opts.end !== Infinity) {
      end = checkPosition(opts.end, 'end');
      if (opts.start !== undefined && start > end) throw outOfRange('start', `<= "end" (here: ${end})`, start);
    }
    super({
      highWaterMark: opts.highWaterMark ?? 64 * 1024,
      encoding: opts.encoding,
      emitClose: opts.emitClose ?? true,
    });
    this.#fs = fs;
    this.path = path;
    this.start = start;
    this.end = end;
    this.#pos = start;
  }

  override _construct(callback: (error?: Error | null) => void): void {
    try {
      const { inode, reader } = this.#fs.openReader(this.path);
      this.#inode = inode;
      this.#reader = reader;
      this.pending = false;
      this.emit('open');
      this.emit('ready');
      callback();
    } catch (e) {
      callback(e as Error);
    }
  }

  override _read(size: number): void {
    const reader = this.#reader;
    if (reader === undefined) {
      // Opened, but not a regular file: the first read fails as read(2) does.
      this.destroy(fsError(this.#inode?.type === 'dir' ? 'EISDIR' : 'EINVAL', 'read'));
      return;
    }
    const n = Math.min(this.end - this.#pos + 1, size);
    if (n <= 0) {
      this.push(null);
      return;
    }
    const buf = Buffer.allocUnsafe(n);
    let got: number;
    try {
      got = reader.read(this.#pos, buf);
    } catch (e) {
      this.destroy(toFsError(e, 'read', this.path) as Error);
      return;
    }
    if (got <= 0) {
      this.push(null);
      return;
    }
    this.#pos += got;
    this.bytesRead += got;
    this.push(got === n ? buf : buf.subarray(0, got));
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#reader?.close();
    this.#reader = undefined;
    callback(error);
  }
}
