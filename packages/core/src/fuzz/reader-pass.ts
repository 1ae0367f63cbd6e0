// The reader pass: open the image from memory, walk every entry, read every regular file (whole, or
// sampled when a forged size makes it huge), read every symlink, list every xattr, take every
// fingerprint, look every path up again. Typed errors are recorded per operation, so one bad inode
// does not hide the others.
import { ErofsImage } from '../erofs/image.ts';
import { BufferSource } from '../erofs/source.ts';
import type { BlockSource, ErofsInode } from '../erofs/types.ts';
import { Finding, type Recorder } from './outcome.ts';

/** Files up to this size are read whole; larger ones (forged sizes of sparse files) are sampled. */
export const DEFAULT_READ_CAP = 8 << 20;
/** Bytes read at each sample point of a file over the cap. */
export const SAMPLE_LEN = 64 << 10;

/** Offsets sampled in a file too large to read whole: start, middle, end (page aligned). */
export function sampleOffsets(size: number): number[] {
  const mid = Math.floor(size / 2 / 4096) * 4096;
  return [0, mid, Math.max(0, size - SAMPLE_LEN)];
}

/**
 * The image as the reader sees it, with every out-of-range read counted. The range check itself stays
 * BufferSource's; this only remembers the errors it raised, so an out-of-range read whose error was
 * swallowed somewhere on the way up can be told apart from one that surfaced.
 */
export class GuardedSource implements BlockSource {
  readonly size: number;
  guarded = 0;
  readonly pending = new Set<unknown>();
  private readonly inner: BufferSource;

  constructor(buf: Uint8Array) {
    this.inner = new BufferSource(buf);
    this.size = buf.length;
  }

  read(dst: Uint8Array, pos: number): void {
    try {
      this.inner.read(dst, pos);
    } catch (e) {
      this.guarded++;
      this.pending.add(e);
      throw e;
    }
  }

  close(): void {
    this.inner.close();
  }
}

export interface WalkedFile {
  readonly path: string;
  readonly nid: number;
  readonly size: number;
}

export interface ReaderResult {
  /** The opened image (undefined when opening failed). */
  img: ErofsImage | undefined;
  /** Regular files the walk reached (path order). */
  readonly files: WalkedFile[];
  /** nid → bytes read (whole file), for files read whole without error. */
  readonly data: Map<number, Uint8Array>;
  /** nid → sampled bytes (concatenated samples) for files over the cap. */
  readonly samples: Map<number, Uint8Array>;
  /** nid → fingerprint (hex) where one was read. */
  readonly fingerprints: Map<number, string>;
}

/** Read a file the way a user would, bounded: whole up to `cap`, else the samples concatenated. */
export function readBounded(img: ErofsImage, inode: ErofsInode, cap: number): { whole: boolean; bytes: Uint8Array } {
  if (inode.size <= cap) return { whole: true, bytes: img.readFile(inode) };
  const parts = sampleOffsets(inode.size).map((off) => img.read(inode, off, SAMPLE_LEN));
  return { whole: false, bytes: Buffer.concat(parts) };
}

export function readerPass(bytes: Uint8Array, rec: Recorder, cap: number): ReaderResult {
  const src = new GuardedSource(bytes);
  const result: ReaderResult = {
    img: undefined,
    files: [],
    data: new Map(),
    samples: new Map(),
    fingerprints: new Map(),
  };
  const note = (e: unknown): void => {
    src.pending.delete(e);
    rec.note(e, 'reader');
  };
  const attempt = <T>(fn: () => T): T | undefined => {
    try {
      return fn();
    } catch (e) {
      note(e);
      return undefined;
    }
  };
  let finished = false;
  try {
    walkAndRead(src, result, rec, cap, attempt);
    finished = true;
    return result;
  } finally {
    rec.out.guarded += src.guarded;
    if (finished && src.pending.size > 0) {
      // eslint-disable-next-line no-unsafe-finally -- a swallowed out-of-range read is the finding, over the result
      throw new Finding(
        'oob',
        'reader',
        `an out-of-range read was attempted and its error did not surface (${src.pending.size} swallowed)`,
      );
    }
  }
}

function walkAndRead(
  src: GuardedSource,
  result: ReaderResult,
  rec: Recorder,
  cap: number,
  attempt: <T>(fn: () => T) => T | undefined,
): void {
  const img = attempt(() => new ErofsImage(src));
  if (img === undefined) return;
  result.img = img;
  const entries: { path: string; inode: ErofsInode }[] = [];
  attempt(() => {
    for (const e of img.walk()) entries.push(e);
  });
  for (const { path, inode } of entries) {
    attempt(() => img.xattrs(inode));
    if (inode.type === 'file') {
      result.files.push({ path, nid: inode.nid, size: inode.size });
      const got = attempt(() => readBounded(img, inode, cap));
      if (got) {
        rec.out.filesRead++;
        (got.whole ? result.data : result.samples).set(inode.nid, got.bytes);
      }
      const fp = attempt(() => img.fingerprint(inode));
      if (fp !== undefined) result.fingerprints.set(inode.nid, fp);
    } else if (inode.type === 'symlink') {
      attempt(() => img.readlink(inode));
    }
    // The same entry found again by name: the lookup path (binary search over blocks) and, for
    // names a damaged directory made odd ('..', '/' inside), a walk to wherever they lead.
    attempt(() => img.resolve(path, { follow: false }));
  }
}
