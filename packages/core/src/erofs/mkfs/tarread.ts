// A small streaming tar reader (ustar, GNU long names, pax). Written here rather than taken from
// tar-stream because tar-stream decodes pax values as UTF-8 text, which mangles binary xattr values
// (security.capability, ACLs) carried as SCHILY.xattr.* records; here every name and value stays bytes.
import { ErofsError } from '../errors.ts';
import type { Timestamp } from './tree.ts';

export type TarType = 'file' | 'link' | 'symlink' | 'dir' | 'chardev' | 'blockdev' | 'fifo';

export interface TarEntry {
  readonly type: TarType;
  readonly path: Buffer;
  readonly linkpath: Buffer;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly mtime: Timestamp;
  readonly size: number;
  readonly devmajor: number;
  readonly devminor: number;
  /** Full xattr name (latin1 of its bytes) → raw value. */
  readonly xattrs: Map<string, Buffer>;
  /** Byte offset of the entry's header in the (uncompressed) tar. */
  readonly offset: number;
  /** Byte offset of the entry's data in the (uncompressed) tar. */
  readonly dataOffset: number;
}

/**
 * A chunk source that can jump forward (a file read by offset): readTar then skips the data it is not
 * asked for instead of reading it, so listing a big uncompressed archive costs one read per entry.
 */
export interface SeekableChunks extends AsyncIterator<Buffer> {
  skipBytes(n: number): void;
}

function isSeekable(it: AsyncIterator<Buffer>): it is SeekableChunks {
  return typeof (it as Partial<SeekableChunks>).skipBytes === 'function';
}

const BLOCK = 512;

/** Pulls exact byte counts out of a stream of chunks. */
class ByteReader {
  private chunks: Buffer[] = [];
  private head = 0; // bytes of chunks[0] already consumed
  private avail = 0;
  private ended = false;
  consumed = 0;
  constructor(private readonly it: AsyncIterator<Buffer>) {}

  private async fill(n: number): Promise<void> {
    while (this.avail < n && !this.ended) {
      const r = await this.it.next();
      if (r.done) this.ended = true;
      else if (r.value.length > 0) {
        this.chunks.push(r.value);
        this.avail += r.value.length;
      }
    }
  }

  /** Up to n bytes in one piece (fewer only at the end of the stream). */
  private take(n: number): Buffer {
    const first = this.chunks[0];
    if (first.length - this.head >= n) {
      const out = first.subarray(this.head, this.head + n);
      this.head += n;
      if (this.head === first.length) {
        this.chunks.shift();
        this.head = 0;
      }
      this.avail -= n;
      this.consumed += n;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let got = 0;
    while (got < n) {
      const c = this.chunks[0];
      const k = Math.min(n - got, c.length - this.head);
      c.copy(out, got, this.head, this.head + k);
      got += k;
      this.head += k;
      if (this.head === c.length) {
        this.chunks.shift();
        this.head = 0;
      }
    }
    this.avail -= n;
    this.consumed += n;
    return out;
  }

  /** Exactly n bytes; null at a clean end of stream; ETRUNCATED for a partial read. */
  async read(n: number): Promise<Buffer | null> {
    await this.fill(n);
    if (this.avail === 0 && this.ended) return null;
    if (this.avail < n)
      throw new ErofsError('ETRUNCATED', `tar ends in the middle of a record (byte ${this.consumed + this.avail})`);
    return this.take(n);
  }

  /** n bytes as a sequence of pieces, without gathering them. */
  async *pieces(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.avail === 0) await this.fill(1);
      if (this.avail === 0) throw new ErofsError('ETRUNCATED', `tar ends inside file data (byte ${this.consumed})`);
      const k = Math.min(left, this.avail, this.chunks[0].length - this.head);
      left -= k;
      yield this.take(k);
    }
  }

  async skip(n: number): Promise<void> {
    if (n > this.avail && isSeekable(this.it) && !this.ended) {
      this.it.skipBytes(n - this.avail);
      this.chunks = [];
      this.head = 0;
      this.avail = 0;
      this.consumed += n;
      return;
    }
    for await (const _ of this.pieces(n)) {
      /* discard */
    }
  }
}

function cstring(b: Buffer, off: number, len: number): Buffer {
  const s = b.subarray(off, off + len);
  const z = s.indexOf(0);
  return z < 0 ? s : s.subarray(0, z);
}

/** Numeric header field: octal text, or base-256 when the top bit of the first byte is set. */
function num(b: Buffer, off: number, len: number, what: string, at: number): number {
  if (b[off] & 0x80) {
    const neg = (b[off] & 0x40) !== 0;
    let v = BigInt(b[off] & 0x3f);
    for (let i = 1; i < len; i++) v = (v << 8n) | BigInt(b[off + i]);
    if (neg) v -= 1n << BigInt(8 * len - 2);
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER))
      throw new ErofsError('ECORRUPT', `tar header at byte ${at}: ${what} out of range`);
    return Number(v);
  }
  const s = b
    .toString('latin1', off, off + len)
    .replace(/[\0 ]+$/, '')
    .replace(/^ +/, '')
    .replace(/\0.*$/, '');
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s))
    throw new ErofsError('ECORRUPT', `tar header at byte ${at}: ${what} field ${JSON.stringify(s)} is not octal`);
  return parseInt(s, 8);
}

function checksumOk(h: Buffer): boolean {
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const v = i >= 148 && i < 156 ? 0x20 : h[i];
    unsigned += v;
    signed += v > 127 ? v - 256 : v;
  }
  const s = h
    .toString('latin1', 148, 156)
    .replace(/[\0 ]+$/, '')
    .replace(/^ +/, '');
  if (!/^[0-7]+$/.test(s)) return false;
  const want = parseInt(s, 8);
  return want === unsigned || want === signed;
}

/** pax extended header records: "LEN KEY=VALUE\n", values kept as bytes. */
export function parsePax(buf: Buffer, at: number): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let pos = 0;
  while (pos < buf.length) {
    if (buf[pos] === 0) break; // padding
    const sp = buf.indexOf(0x20, pos);
    const len = sp < 0 ? NaN : Number(buf.toString('latin1', pos, sp));
    if (!Number.isSafeInteger(len) || len <= sp - pos || pos + len > buf.length || buf[pos + len - 1] !== 0x0a) {
      throw new ErofsError('ECORRUPT', `tar pax header at byte ${at}: malformed record`);
    }
    const rec = buf.subarray(sp + 1, pos + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq < 0) throw new ErofsError('ECORRUPT', `tar pax header at byte ${at}: record without '='`);
    out.set(rec.toString('latin1', 0, eq), Buffer.from(rec.subarray(eq + 1)));
    pos += len;
  }
  return out;
}

function paxTime(v: Buffer, at: number): Timestamp {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(v.toString('latin1'));
  if (!m)
    throw new ErofsError('ECORRUPT', `tar pax header at byte ${at}: bad mtime ${JSON.stringify(v.toString('latin1'))}`);
  const whole = Number(m[2]);
  const frac = Number((m[3] ?? '').padEnd(9, '0').slice(0, 9));
  if (m[1] === '-' && frac > 0) return { sec: -whole - 1, nsec: 1_000_000_000 - frac };
  return { sec: m[1] === '-' ? -whole : whole, nsec: frac };
}

function paxNum(v: Buffer, key: string, at: number): number {
  const s = v.toString('latin1');
  if (!/^\d+$/.test(s) || !Number.isSafeInteger(Number(s)))
    throw new ErofsError('ECORRUPT', `tar pax header at byte ${at}: bad ${key} ${JSON.stringify(s)}`);
  return Number(s);
}

/** xattrs from pax records: SCHILY.xattr.NAME=raw value, or libarchive's url-encoded name + base64 value. */
function paxXattrs(pax: Map<string, Buffer>): Map<string, Buffer> {
  const x = new Map<string, Buffer>();
  for (const [k, v] of pax) {
    if (k.startsWith('LIBARCHIVE.xattr.')) {
      const name = Buffer.from(decodeURIComponent(k.slice(17)), 'utf8').toString('latin1');
      x.set(name, Buffer.from(v.toString('latin1'), 'base64'));
    }
  }
  for (const [k, v] of pax) if (k.startsWith('SCHILY.xattr.')) x.set(k.slice(13), v);
  return x;
}

const TYPES: Record<string, TarType> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '1': 'link',
  '2': 'symlink',
  '3': 'chardev',
  '4': 'blockdev',
  '5': 'dir',
  '6': 'fifo',
};

/**
 * The entries of an uncompressed tar stream. Each regular file's data is `data` (exactly `size`
 * bytes); consume it before asking for the next entry — whatever is left is skipped.
 */
export async function* readTar(
  stream: AsyncIterable<Buffer>,
): AsyncGenerator<{ entry: TarEntry; data: AsyncIterable<Buffer> }> {
  const r = new ByteReader(stream[Symbol.asyncIterator]());
  let globalPax = new Map<string, Buffer>();
  let pax: Map<string, Buffer> | undefined;
  let longName: Buffer | undefined;
  let longLink: Buffer | undefined;
  for (;;) {
    const at = r.consumed;
    const h = await r.read(BLOCK);
    if (!h) break; // no end-of-archive blocks: accept, as GNU tar does with a warning
    if (h.every((b) => b === 0)) break;
    if (!checksumOk(h))
      throw new ErofsError('ECORRUPT', `tar header at byte ${at}: checksum mismatch (not a tar file?)`);
    const flag = String.fromCharCode(h[156]);
    let size = num(h, 124, 12, 'size', at);
    const padded = Math.ceil(size / BLOCK) * BLOCK;
    const readBody = async (): Promise<Buffer> => {
      const body = size === 0 ? Buffer.alloc(0) : await r.read(padded);
      if (!body) throw new ErofsError('ETRUNCATED', `tar ends after the header at byte ${at}`);
      return body.subarray(0, size);
    };
    if (flag === 'x') {
      pax = new Map([...(pax ?? []), ...parsePax(await readBody(), at)]);
      continue;
    }
    if (flag === 'g') {
      globalPax = new Map([...globalPax, ...parsePax(await readBody(), at)]);
      continue;
    }
    if (flag === 'L' || flag === 'K') {
      const v = cstring(await readBody(), 0, size);
      if (flag === 'L') longName = Buffer.from(v);
      else longLink = Buffer.from(v);
      continue;
    }
    if (flag === 'V') {
      // volume label: not a file
      await r.skip(padded);
      continue;
    }
    const merged = new Map([...globalPax, ...(pax ?? [])]);
    pax = undefined;
    if (flag === 'S' || [...merged.keys()].some((k) => k.startsWith('GNU.sparse.'))) {
      throw new ErofsError('EUNSUPPORTED', `tar entry at byte ${at}: sparse files are not supported`);
    }
    let type: TarType | undefined = TYPES[flag];
    if (flag === 'D') type = 'dir'; // GNU dumpdir: a directory plus a listing we do not need
    if (!type) throw new ErofsError('EUNSUPPORTED', `tar entry at byte ${at}: entry type '${flag}' is not supported`);
    const ustar = h.toString('latin1', 257, 263) === 'ustar\0';
    let path: Buffer = Buffer.from(cstring(h, 0, 100));
    if (ustar && h[345] !== 0) path = Buffer.concat([cstring(h, 345, 155), Buffer.from('/'), path]);
    if (longName) path = longName;
    if (merged.has('path')) path = merged.get('path')!;
    let linkpath: Buffer = Buffer.from(cstring(h, 157, 100));
    if (longLink) linkpath = longLink;
    if (merged.has('linkpath')) linkpath = merged.get('linkpath')!;
    longName = undefined;
    longLink = undefined;
    // Pre-POSIX tars mark directories only by the trailing slash.
    if (type === 'file' && flag !== '7' && path.length > 0 && path[path.length - 1] === 0x2f) type = 'dir';
    if (merged.has('size')) size = paxNum(merged.get('size')!, 'size', at);
    const entry: TarEntry = {
      type,
      path,
      linkpath,
      mode: num(h, 100, 8, 'mode', at) & 0o7777,
      uid: merged.has('uid') ? paxNum(merged.get('uid')!, 'uid', at) : num(h, 108, 8, 'uid', at),
      gid: merged.has('gid') ? paxNum(merged.get('gid')!, 'gid', at) : num(h, 116, 8, 'gid', at),
      mtime: merged.has('mtime') ? paxTime(merged.get('mtime')!, at) : { sec: num(h, 136, 12, 'mtime', at), nsec: 0 },
      size: type === 'file' ? size : 0,
      devmajor: num(h, 329, 8, 'devmajor', at),
      devminor: num(h, 337, 8, 'devminor', at),
      xattrs: paxXattrs(merged),
      offset: at,
      dataOffset: r.consumed,
    };
    const body = r.pieces(size);
    let left = size;
    const counted = async function* (): AsyncGenerator<Buffer> {
      for await (const p of body) {
        left -= p.length;
        yield p;
      }
    };
    yield { entry, data: counted() };
    if (left > 0) await r.skip(left);
    await r.skip(Math.ceil(size / BLOCK) * BLOCK - size);
  }
}
