// The image being written: a temp file next to the output, filled front to back by the data pass
// (buffered appends) and then patched at known positions by the metadata writer. Commit renames it
// over the output; abort removes it, so a failed mkfs leaves nothing behind.
import { randomBytes } from 'node:crypto';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ErofsError } from '../errors.ts';

const BUFFER_BYTES = 4 << 20;

function ioError(what: string, e: unknown): ErofsError {
  const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
  return new ErofsError('EIO', `${what}: ${code}`);
}

export class ImageSink {
  readonly tmpPath: string;
  readonly blockSize: number;
  private fh: FileHandle | undefined;
  private buf = Buffer.alloc(BUFFER_BYTES);
  private bufStart = 0; // image offset of buf[0]
  private bufLen = 0;

  private constructor(tmpPath: string, fh: FileHandle, blockSize: number, start: number) {
    this.tmpPath = tmpPath;
    this.fh = fh;
    this.blockSize = blockSize;
    this.bufStart = start;
  }

  /** Create the temp file beside `out`; appends start at byte `start`. */
  static async create(out: string, blockSize: number, start: number): Promise<ImageSink> {
    const tmpPath = join(
      dirname(out),
      `.${basename(out)}.ishare-mkfs-${process.pid}-${randomBytes(4).toString('hex')}.tmp`,
    );
    let fh: FileHandle;
    try {
      fh = await open(tmpPath, 'wx', 0o644);
    } catch (e) {
      throw ioError(`cannot create ${tmpPath}`, e);
    }
    return new ImageSink(tmpPath, fh, blockSize, start);
  }

  /** Offset the next append lands at. */
  get position(): number {
    return this.bufStart + this.bufLen;
  }

  get block(): number {
    return Math.floor(this.position / this.blockSize);
  }

  async append(data: Uint8Array): Promise<void> {
    let off = 0;
    while (off < data.length) {
      const n = Math.min(data.length - off, this.buf.length - this.bufLen);
      this.buf.set(data.subarray(off, off + n), this.bufLen);
      this.bufLen += n;
      off += n;
      if (this.bufLen === this.buf.length) await this.flush();
    }
  }

  /** Zero-fill up to the next block boundary. */
  async padToBlock(): Promise<void> {
    const rem = this.position % this.blockSize;
    if (rem !== 0) await this.append(Buffer.alloc(this.blockSize - rem));
  }

  async flush(): Promise<void> {
    if (this.bufLen === 0) return;
    await this.writeAt(this.bufStart, this.buf.subarray(0, this.bufLen));
    this.bufStart += this.bufLen;
    this.bufLen = 0;
  }

  /** Write at an absolute position (callers flush appends first when the ranges could meet). */
  async writeAt(pos: number, data: Uint8Array): Promise<void> {
    const fh = this.handle();
    try {
      let done = 0;
      while (done < data.length) {
        const { bytesWritten } = await fh.write(data, done, data.length - done, pos + done);
        done += bytesWritten;
      }
    } catch (e) {
      throw ioError(`cannot write ${this.tmpPath}`, e);
    }
  }

  /** Fix the file length to `bytes`, flush to disk and rename over `out`. */
  async commit(out: string, bytes: number): Promise<void> {
    await this.flush();
    const fh = this.handle();
    try {
      await fh.truncate(bytes);
      await fh.sync();
      await fh.close();
      this.fh = undefined;
      await rename(this.tmpPath, out);
    } catch (e) {
      throw ioError(`cannot finish ${out}`, e);
    }
  }

  /** Drop the temp file; safe to call at any point, errors swallowed (we are already failing). */
  async abort(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    if (fh) await fh.close().catch(() => undefined);
    await rm(this.tmpPath, { force: true }).catch(() => undefined);
  }

  private handle(): FileHandle {
    if (!this.fh) throw new ErofsError('EIO', `${this.tmpPath} is already closed`);
    return this.fh;
  }
}
