// An EROFS image seen through the shapes of Node's fs: readFile, readdir (names or Dirents), stat and
// lstat (Stats), readlink, access/exists, a Readable stream over a byte range, in three flavours —
// *Sync, callback, and `promises` — with errors as Node raises them (code, errno, syscall, path).
// Paths are inside the image: '/a/b' and 'a/b' name the same file, '..' stops at the image root, and
// an absolute symlink target restarts at the image root, never at the host's.
import { statSync as hostStatSync } from 'node:fs';
import { posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { constants as bufferConstants } from 'node:buffer';
import type { ErofsInode } from '../erofs/types.ts';
import type { MountOptions, System } from '../system.ts';
import { DirectBackend, MountedBackend, type Backend, type FileReader } from './backend.ts';
import { fsError, invalidArg, toFsError } from './errors.ts';
import { ImageDirent, ImageStats } from './stats.ts';
import { ImageReadStream, type ReadStreamOptions } from './read-stream.ts';

export type PathLike = string | Buffer | URL;
export type Encoding = BufferEncoding;

export interface ReadFileOptions {
  encoding?: Encoding | null;
  /** Only reading flags ('r', 'rs', 'sr'): the image is read-only (anything else fails with EROFS). */
  flag?: string;
}
export interface ReaddirOptions {
  encoding?: Encoding | null;
  withFileTypes?: boolean;
  /**
   * Entries of every directory below too, as relative paths ('a/b'). Symlinks to directories are not
   * followed (Node 20's own recursive readdir follows them, and loops on a cycle).
   */
  recursive?: boolean;
}
export interface StatOptions {
  /** false: return undefined instead of throwing when the path does not exist. */
  throwIfNoEntry?: boolean;
  /** Not supported (the image's numbers all fit a double): true throws ERR_INVALID_ARG_VALUE. */
  bigint?: false;
}

export interface OpenImageOptions extends MountOptions {
  /**
   * Mount the image in this kernel model (System.mount with the mount options beside it) and read file
   * data through its page cache; without it, reads go straight to the image file.
   */
  system?: System;
}

type Callback<T> = (err: NodeJS.ErrnoException | null, value: T) => void;

const F_OK = 0;
const W_OK = 2;
const X_OK = 1;
const READ_FLAGS = new Set(['r', 'rs', 'sr']);

let nextDev = 1;

/**
 * Make every method of `obj`'s class an own, enumerable, bound property, as the functions of Node's fs
 * module are: libraries copy an fs object with a spread ({ ...fs, ...custom }) or take its functions
 * apart (const { readFileSync } = fs), and either loses prototype methods or their `this`.
 */
function ownBoundMethods(obj: object): void {
  const proto = Object.getPrototypeOf(obj) as object;
  for (const name of Object.getOwnPropertyNames(proto)) {
    const d = Object.getOwnPropertyDescriptor(proto, name);
    if (name === 'constructor' || typeof d?.value !== 'function') continue;
    const fn = d.value as (...args: unknown[]) => unknown;
    Object.defineProperty(obj, name, { value: fn.bind(obj), enumerable: true, writable: true, configurable: true });
  }
}

function pathString(p: PathLike): string {
  if (typeof p === 'string') return p;
  if (p instanceof URL) return fileURLToPath(p);
  return p.toString('utf8');
}

function encodingOf(opts: { encoding?: Encoding | null } | Encoding | null | undefined): Encoding | undefined {
  if (opts === null || opts === undefined) return undefined;
  if (typeof opts === 'string') return opts;
  return opts.encoding ?? undefined;
}

/** Runs `fn` and hands its result (or error) to a Node-style callback on a later turn, as fs does. */
function later<T>(cb: Callback<T>, fn: () => T): void {
  if (typeof cb !== 'function') throw invalidArg('callback', cb, 'must be a function');
  let value: T;
  try {
    value = fn();
  } catch (e) {
    setImmediate(() => {
      cb(e as NodeJS.ErrnoException, undefined as T);
    });
    return;
  }
  setImmediate(() => {
    cb(null, value);
  });
}

/** The `promises` face of an ImageFs (fs.promises' functions of the same names). */
export class ImageFsPromises {
  readonly #fs: ImageFs;
  constructor(fs: ImageFs) {
    this.#fs = fs;
    ownBoundMethods(this);
  }
  readFile(path: PathLike, opts: Encoding | (ReadFileOptions & { encoding: Encoding })): Promise<string>;
  readFile(path: PathLike, opts?: ReadFileOptions | null): Promise<Buffer>;
  readFile(path: PathLike, opts?: ReadFileOptions | Encoding | null): Promise<string | Buffer>;
  async readFile(path: PathLike, opts?: ReadFileOptions | Encoding | null): Promise<string | Buffer> {
    await Promise.resolve();
    return this.#fs.readFileSync(path, opts);
  }
  readdir(path: PathLike, opts: ReaddirOptions & { withFileTypes: true }): Promise<ImageDirent[]>;
  readdir(path: PathLike, opts?: (ReaddirOptions & { withFileTypes?: false }) | Encoding | null): Promise<string[]>;
  async readdir(path: PathLike, opts?: ReaddirOptions | Encoding | null): Promise<string[] | ImageDirent[]> {
    await Promise.resolve();
    return this.#fs.readdirSync(path, opts as ReaddirOptions);
  }
  async stat(path: PathLike, opts?: Pick<StatOptions, 'bigint'>): Promise<ImageStats> {
    await Promise.resolve();
    return this.#fs.statSync(path, opts);
  }
  async lstat(path: PathLike, opts?: Pick<StatOptions, 'bigint'>): Promise<ImageStats> {
    await Promise.resolve();
    return this.#fs.lstatSync(path, opts);
  }
  async readlink(path: PathLike): Promise<string> {
    await Promise.resolve();
    return this.#fs.readlinkSync(path);
  }
  async access(path: PathLike, mode?: number): Promise<void> {
    await Promise.resolve();
    this.#fs.accessSync(path, mode);
  }
  /** The value of xattr `name` (getxattr(2), symlinks followed); ENODATA when the file has none. */
  async getxattr(path: PathLike, name: string): Promise<Buffer> {
    await Promise.resolve();
    return this.#fs.getxattrSync(path, name);
  }
  /** The xattr names listxattr(2) shows (symlinks followed). */
  async listxattr(path: PathLike): Promise<string[]> {
    await Promise.resolve();
    return this.#fs.listxattrSync(path);
  }
}

/** An opened image with Node's fs shapes. Make one with `openImage`; `close()` it when done. */
export class ImageFs {
  readonly promises: ImageFsPromises;
  /** The image file this was opened on. */
  readonly imagePath: string;
  readonly #backend: Backend;
  readonly #dev: number;
  readonly #open = new Set<FileReader>();
  #closed = false;

  /** @internal — use openImage. */
  constructor(imagePath: string, backend: Backend) {
    this.imagePath = imagePath;
    this.#backend = backend;
    this.#dev = nextDev++;
    this.promises = new ImageFsPromises(this);
    ownBoundMethods(this);
  }

  /** The mount number in the System, when the image is mounted through one. */
  get mount(): number | undefined {
    return this.#backend instanceof MountedBackend ? this.#backend.mount : undefined;
  }

  /** Resolve a path to its inode (the last symlink followed or not), throwing Node's error for `syscall`. */
  #lookup(p: PathLike, follow: boolean, syscall: string): { path: string; inode: ErofsInode } {
    const path = pathString(p);
    if (this.#closed) throw fsError('EBADF', syscall, path);
    if (path === '') throw fsError('ENOENT', syscall, path);
    try {
      const image = this.#backend.image;
      return { path, inode: follow ? image.resolve(path) : image.resolve(path, { follow: false }) };
    } catch (e) {
      throw toFsError(e, syscall, path);
    }
  }

  #stats(inode: ErofsInode): ImageStats {
    return new ImageStats(inode, this.#dev, this.#backend.image.blockSize);
  }

  #statWith(p: PathLike, follow: boolean, opts: StatOptions | undefined): ImageStats | undefined {
    if ((opts as { bigint?: boolean } | undefined)?.bigint === true)
      throw invalidArg('options.bigint', true, 'is not supported');
    try {
      return this.#stats(this.#lookup(p, follow, follow ? 'stat' : 'lstat').inode);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (opts?.throwIfNoEntry === false && (code === 'ENOENT' || code === 'ENOTDIR')) return undefined;
      throw e;
    }
  }

  statSync(path: PathLike, opts: StatOptions & { throwIfNoEntry: false }): ImageStats | undefined;
  statSync(path: PathLike, opts?: StatOptions): ImageStats;
  statSync(path: PathLike, opts?: StatOptions): ImageStats | undefined {
    return this.#statWith(path, true, opts);
  }

  lstatSync(path: PathLike, opts: StatOptions & { throwIfNoEntry: false }): ImageStats | undefined;
  lstatSync(path: PathLike, opts?: StatOptions): ImageStats;
  lstatSync(path: PathLike, opts?: StatOptions): ImageStats | undefined {
    return this.#statWith(path, false, opts);
  }

  readdirSync(path: PathLike, opts: ReaddirOptions & { withFileTypes: true }): ImageDirent[];
  readdirSync(path: PathLike, opts?: (ReaddirOptions & { withFileTypes?: false }) | Encoding | null): string[];
  readdirSync(path: PathLike, opts?: ReaddirOptions | Encoding | null): string[] | ImageDirent[];
  readdirSync(p: PathLike, opts?: ReaddirOptions | Encoding | null): string[] | ImageDirent[] {
    const o: ReaddirOptions = typeof opts === 'string' ? { encoding: opts } : (opts ?? {});
    const enc = o.encoding ?? 'utf8';
    if (enc !== 'utf8' && enc !== 'utf-8') throw invalidArg('options.encoding', enc, "is not supported (only 'utf8')");
    const { path, inode } = this.#lookup(p, true, 'scandir');
    if (inode.type !== 'dir') throw fsError('ENOTDIR', 'scandir', path);
    const names: string[] = [];
    const dirents: ImageDirent[] = [];
    const image = this.#backend.image;
    const walk = (dir: ErofsInode, rel: string): void => {
      let entries;
      try {
        entries = image.readdir(dir);
      } catch (e) {
        throw toFsError(e, 'scandir', rel === '' ? path : posix.join(path, rel));
      }
      for (const e of entries) {
        if (e.name === '.' || e.name === '..') continue;
        const name = rel === '' ? e.name : `${rel}/${e.name}`;
        if (o.withFileTypes)
          dirents.push(new ImageDirent(e.name, rel === '' ? path : posix.join(path, rel), e.fileType));
        else names.push(name);
        if (o.recursive) {
          let child: ErofsInode;
          try {
            child = image.inode(e.nid);
          } catch (err) {
            throw toFsError(err, 'scandir', posix.join(path, name));
          }
          if (child.type === 'dir') walk(child, name);
        }
      }
    };
    walk(inode, '');
    return o.withFileTypes ? dirents : names;
  }

  readlinkSync(path: PathLike): string {
    const { path: p, inode } = this.#lookup(path, false, 'readlink');
    if (inode.type !== 'symlink') throw fsError('EINVAL', 'readlink', p);
    try {
      return this.#backend.image.readlink(inode);
    } catch (e) {
      throw toFsError(e, 'readlink', p);
    }
  }

  /** Open the regular file at `path` for reading (the stream's and readFile's open). */
  openReader(path: PathLike, syscall = 'open'): { path: string; inode: ErofsInode; reader: FileReader | undefined } {
    const { path: p, inode } = this.#lookup(path, true, syscall);
    // A directory opens (O_RDONLY) and fails at the first read, as in Linux; so do the rest here.
    if (inode.type !== 'file') return { path: p, inode, reader: undefined };
    let r: FileReader;
    try {
      r = this.#backend.openFile(p, inode);
    } catch (e) {
      throw toFsError(e, syscall, p);
    }
    const open = this.#open;
    const reader: FileReader = {
      read: (pos, dst) => r.read(pos, dst),
      close: () => {
        if (open.delete(reader)) r.close();
      },
    };
    open.add(reader);
    return { path: p, inode, reader };
  }

  readFileSync(path: PathLike, opts: Encoding | (ReadFileOptions & { encoding: Encoding })): string;
  readFileSync(path: PathLike, opts?: ReadFileOptions | null): Buffer;
  readFileSync(path: PathLike, opts?: ReadFileOptions | Encoding | null): string | Buffer;
  readFileSync(path: PathLike, opts?: ReadFileOptions | Encoding | null): string | Buffer {
    const flag = typeof opts === 'object' && opts !== null ? (opts.flag ?? 'r') : 'r';
    if (!READ_FLAGS.has(flag)) throw fsError('EROFS', 'open', pathString(path));
    const { path: p, inode, reader } = this.openReader(path);
    if (reader === undefined) throw fsError(inode.type === 'dir' ? 'EISDIR' : 'EINVAL', 'read');
    try {
      if (inode.size > bufferConstants.MAX_LENGTH) {
        const e = new RangeError(`File size (${inode.size}) is greater than 2 GiB`);
        (e as RangeError & { code: string }).code = 'ERR_FS_FILE_TOO_LARGE';
        throw e;
      }
      const buf = Buffer.allocUnsafe(inode.size);
      let off = 0;
      try {
        while (off < buf.length) {
          const n = reader.read(off, buf.subarray(off));
          if (n <= 0) break;
          off += n;
        }
      } catch (e) {
        throw toFsError(e, 'read', p);
      }
      if (off !== buf.length) throw fsError('EIO', 'read', p);
      const enc = encodingOf(opts);
      return enc === undefined ? buf : buf.toString(enc);
    } finally {
      reader.close();
    }
  }

  /** access(2): F_OK and R_OK pass for anything that exists; W_OK is EROFS; X_OK needs an x bit. */
  accessSync(path: PathLike, mode: number = F_OK): void {
    const { path: p, inode } = this.#lookup(path, true, 'access');
    if (mode & W_OK) throw fsError('EROFS', 'access', p);
    if (mode & X_OK && (inode.mode & 0o111) === 0) throw fsError('EACCES', 'access', p);
  }

  existsSync(path: PathLike): boolean {
    try {
      this.#lookup(path, true, 'access');
      return true;
    } catch {
      return false;
    }
  }

  getxattrSync(path: PathLike, name: string): Buffer {
    const { path: p, inode } = this.#lookup(path, true, 'getxattr');
    let v: Uint8Array | undefined;
    try {
      v = this.#backend.image.getXattr(inode, name);
    } catch (e) {
      throw toFsError(e, 'getxattr', p);
    }
    if (v === undefined) throw fsError('ENODATA', 'getxattr', p);
    return Buffer.from(v);
  }

  listxattrSync(path: PathLike): string[] {
    const { path: p, inode } = this.#lookup(path, true, 'listxattr');
    try {
      return this.#backend.image.xattrs(inode).map((x) => x.name);
    } catch (e) {
      throw toFsError(e, 'listxattr', p);
    }
  }

  /** A Readable over bytes [start, end] of a file (end inclusive, as fs.createReadStream). */
  createReadStream(path: PathLike, opts?: ReadStreamOptions | Encoding): ImageReadStream {
    return new ImageReadStream(this, pathString(path), typeof opts === 'string' ? { encoding: opts } : (opts ?? {}));
  }

  // Callback forms (fs.stat, fs.readdir, ...), for libraries that take an fs-like object.
  stat(path: PathLike, cb: Callback<ImageStats>): void;
  stat(path: PathLike, opts: StatOptions | undefined, cb: Callback<ImageStats>): void;
  stat(path: PathLike, optsOrCb: StatOptions | undefined | Callback<ImageStats>, cb?: Callback<ImageStats>): void {
    if (typeof optsOrCb === 'function') later(optsOrCb, () => this.statSync(path));
    else later(cb as Callback<ImageStats>, () => this.statSync(path, optsOrCb));
  }
  lstat(path: PathLike, cb: Callback<ImageStats>): void;
  lstat(path: PathLike, opts: StatOptions | undefined, cb: Callback<ImageStats>): void;
  lstat(path: PathLike, optsOrCb: StatOptions | undefined | Callback<ImageStats>, cb?: Callback<ImageStats>): void {
    if (typeof optsOrCb === 'function') later(optsOrCb, () => this.lstatSync(path));
    else later(cb as Callback<ImageStats>, () => this.lstatSync(path, optsOrCb));
  }
  readlink(path: PathLike, cb: Callback<string>): void;
  readlink(path: PathLike, opts: { encoding?: 'utf8' } | 'utf8' | undefined, cb: Callback<string>): void;
  readlink(
    path: PathLike,
    optsOrCb: { encoding?: 'utf8' } | 'utf8' | undefined | Callback<string>,
    cb?: Callback<string>,
  ): void {
    later(typeof optsOrCb === 'function' ? optsOrCb : (cb as Callback<string>), () => this.readlinkSync(path));
  }
  readdir(path: PathLike, opts: ReaddirOptions & { withFileTypes: true }, cb: Callback<ImageDirent[]>): void;
  readdir(
    path: PathLike,
    opts: (ReaddirOptions & { withFileTypes?: false }) | Encoding | null,
    cb: Callback<string[]>,
  ): void;
  readdir(path: PathLike, cb: Callback<string[]>): void;
  readdir(
    path: PathLike,
    optsOrCb: ReaddirOptions | Encoding | null | Callback<string[]>,
    cb?: Callback<string[]> | Callback<ImageDirent[]>,
  ): void {
    if (typeof optsOrCb === 'function') later(optsOrCb, () => this.readdirSync(path));
    else later(cb as Callback<string[] | ImageDirent[]>, () => this.readdirSync(path, optsOrCb));
  }
  readFile(path: PathLike, opts: Encoding | (ReadFileOptions & { encoding: Encoding }), cb: Callback<string>): void;
  readFile(path: PathLike, cb: Callback<Buffer>): void;
  readFile(
    path: PathLike,
    optsOrCb: ReadFileOptions | Encoding | Callback<Buffer>,
    cb?: Callback<string> | Callback<Buffer>,
  ): void {
    if (typeof optsOrCb === 'function') later(optsOrCb, () => this.readFileSync(path));
    else later(cb as Callback<string | Buffer>, () => this.readFileSync(path, optsOrCb));
  }

  /** Close the image (and unmount it from the System it was mounted in). Open streams are closed first. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const r of [...this.#open]) r.close();
    this.#backend.close();
  }

  /** Whether close() was called. */
  get closed(): boolean {
    return this.#closed;
  }
}

/**
 * Open an EROFS image with Node's fs shapes. Without `opts.system` reads go straight to the image
 * file; with it the image is mounted in that kernel model (with opts' mount options) and file data is
 * read through its page cache. A missing image file fails as fs.statSync does; a file that is not an
 * EROFS image fails with the reader's ErofsError.
 */
export function openImage(path: PathLike, opts: OpenImageOptions = {}): ImageFs {
  const imagePath = pathString(path);
  hostStatSync(imagePath); // Node's own ENOENT/EACCES for the image file itself
  const { system, ...mountOpts } = opts;
  const backend: Backend =
    system === undefined
      ? new DirectBackend(imagePath, mountOpts.devices)
      : new MountedBackend(system, imagePath, mountOpts);
  return new ImageFs(imagePath, backend);
}
