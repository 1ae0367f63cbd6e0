// Where a container image's files live: an OCI image layout directory, or a tar holding one (an OCI
// archive, `docker save` / `podman save` output). Both are read only, by member name; an archive is
// listed once (its headers, jumping over the data) and its members are then read by offset, so a
// layer is never copied out of it.
import { createReadStream, lstatSync, openSync, closeSync, readSync, realpathSync, statSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { createGunzip } from 'node:zlib';
import { ErofsError, isErofsError } from '../erofs/errors.ts';
import { readTar, type SeekableChunks, type TarEntry } from '../erofs/mkfs/tarread.ts';

const CHUNK = 1 << 20;

export type ContainerFormat = 'oci-layout' | 'oci-archive' | 'docker-archive';

export interface BlobStore {
  /** The input as given (for messages). */
  readonly path: string;
  readonly format: ContainerFormat;
  /** Size of a member, undefined when it is missing. */
  size(name: string): number | undefined;
  /** The member's bytes, in chunks; the caller counts and checks them. */
  read(name: string): AsyncIterable<Buffer>;
}

/** A member name as the store keys it: no leading './' or '/', no '.' components, no trailing '/'. */
export function memberName(raw: string): string | undefined {
  const parts: string[] = [];
  for (const c of raw.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') return undefined;
    parts.push(c);
  }
  return parts.join('/');
}

function ioError(what: string, e: unknown): ErofsError {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new ErofsError('ENOENT', `${what}: No such file or directory`);
  return new ErofsError('EIO', `${what}: ${code ?? (e as Error).message}`);
}

class DirStore implements BlobStore {
  readonly format = 'oci-layout';
  private readonly root: string;
  constructor(readonly path: string) {
    this.root = realpathSync(path);
  }

  private resolve(name: string): string | undefined {
    const n = memberName(name);
    // A blob may be a symlink (some tools share blobs between layouts): it is only ever read.
    return n === undefined || n === '' ? undefined : join(this.root, n);
  }

  size(name: string): number | undefined {
    const abs = this.resolve(name);
    if (abs === undefined) return undefined;
    try {
      const st = statSync(abs);
      return st.isFile() ? st.size : undefined;
    } catch {
      return undefined;
    }
  }

  async *read(name: string): AsyncGenerator<Buffer> {
    const abs = this.resolve(name);
    if (abs === undefined) throw new ErofsError('ENOENT', `${name} is missing`);
    const s = createReadStream(abs, { highWaterMark: CHUNK });
    try {
      for await (const c of s) yield c as Buffer;
    } catch (e) {
      throw ioError(`cannot read ${name}`, e);
    } finally {
      s.destroy();
    }
  }
}

interface Member {
  readonly type: TarEntry['type'];
  readonly dataOffset: number;
  readonly size: number;
  readonly linkpath: string;
}

/** Chunks of a file from an offset, read by position; `skipBytes` jumps forward without reading. */
class FileChunks implements SeekableChunks {
  private pos: number;
  private readonly buf = Buffer.allocUnsafe(CHUNK);
  constructor(
    private readonly fh: FileHandle,
    start: number,
    private readonly end: number,
  ) {
    this.pos = start;
  }

  skipBytes(n: number): void {
    this.pos += n;
  }

  async next(): Promise<IteratorResult<Buffer>> {
    const want = Math.min(CHUNK, this.end - this.pos);
    if (want <= 0) return { done: true, value: undefined };
    const { bytesRead } = await this.fh.read(this.buf, 0, want, this.pos);
    if (bytesRead === 0) return { done: true, value: undefined };
    this.pos += bytesRead;
    // A copy: readTar may keep a chunk across calls while this buffer is reused.
    return { done: false, value: Buffer.from(this.buf.subarray(0, bytesRead)) };
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

// Every name a layout or a docker/podman save archive holds: listing stops at the first other name,
// so asking whether a root-filesystem tar is a container archive costs a header or two.
const HEX = '[0-9a-f]{64}';
const CONTAINER_MEMBER = new RegExp(
  `^(?:|oci-layout|index\\.json|manifest\\.json|repositories|blobs|blobs/[a-z0-9]+|blobs/[a-z0-9]+/[0-9a-f]+` +
    `|${HEX}|${HEX}\\.json|${HEX}\\.tar|${HEX}/(?:layer\\.tar|json|VERSION))$`,
);

async function listArchive(path: string, stopEarly: boolean): Promise<Map<string, Member> | undefined> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    throw ioError(`cannot open ${path}`, e);
  }
  try {
    const { size } = await fh.stat();
    const members = new Map<string, Member>();
    for await (const { entry } of readTar(new FileChunks(fh, 0, size))) {
      const raw = entry.path.toString('utf8');
      const name = memberName(raw);
      if (stopEarly && (name === undefined || !CONTAINER_MEMBER.test(name))) return undefined;
      if (name === undefined) continue;
      members.set(name, {
        type: entry.type,
        dataOffset: entry.dataOffset,
        size: entry.size,
        linkpath: entry.linkpath.toString('utf8'),
      });
    }
    return members;
  } finally {
    await fh.close();
  }
}

class TarStore implements BlobStore {
  constructor(
    readonly path: string,
    readonly format: ContainerFormat,
    private readonly members: Map<string, Member>,
  ) {}

  /** Follows symlink and hard-link members (docker and skopeo link layer.tar to a shared copy). */
  private find(name: string): Member | undefined {
    let n = memberName(name);
    for (let hops = 0; n !== undefined && hops < 16; hops++) {
      const m = this.members.get(n);
      if (!m) return undefined;
      if (m.type === 'file') return m;
      if (m.type === 'symlink')
        n = m.linkpath.startsWith('/') ? memberName(m.linkpath) : memberName(posix.join(posix.dirname(n), m.linkpath));
      else if (m.type === 'link') n = memberName(m.linkpath);
      else return undefined;
    }
    return undefined;
  }

  size(name: string): number | undefined {
    return this.find(name)?.size;
  }

  async *read(name: string): AsyncGenerator<Buffer> {
    const m = this.find(name);
    if (!m) throw new ErofsError('ENOENT', `${name} is missing`);
    let fh: FileHandle;
    try {
      fh = await open(this.path, 'r');
    } catch (e) {
      throw ioError(`cannot open ${this.path}`, e);
    }
    try {
      const it = new FileChunks(fh, m.dataOffset, m.dataOffset + m.size);
      for (;;) {
        let r: IteratorResult<Buffer>;
        try {
          r = await it.next();
        } catch (e) {
          throw ioError(`cannot read ${this.path}`, e);
        }
        if (r.done) break;
        yield r.value;
      }
    } finally {
      await fh.close();
    }
  }
}

function isFile(p: string): boolean {
  try {
    return lstatSync(p).isFile() || statSync(p).isFile();
  } catch {
    return false;
  }
}

function formatOf(has: (name: string) => boolean): ContainerFormat | undefined {
  if (has('oci-layout') && has('index.json')) return 'oci-layout';
  if (has('manifest.json')) return 'docker-archive';
  return undefined;
}

function isGzipFile(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(2);
    return readSync(fd, b, 0, 2, 0) === 2 && b[0] === 0x1f && b[1] === 0x8b;
  } finally {
    closeSync(fd);
  }
}

/** The first member name (other than the root) of a gzipped tar, or undefined when it is not one. */
async function firstGzipMember(path: string): Promise<string | undefined> {
  const raw = createReadStream(path);
  const s = raw.pipe(createGunzip());
  try {
    for await (const { entry } of readTar(s)) {
      const name = memberName(entry.path.toString('utf8'));
      if (name !== '') return name;
    }
  } catch {
    return undefined;
  } finally {
    s.destroy();
    raw.destroy();
  }
  return undefined;
}

/**
 * What container image format `path` holds, or undefined when it is something else (a plain tree or
 * a root-filesystem tar). Reads only headers.
 */
export async function detectContainer(path: string): Promise<ContainerFormat | undefined> {
  let st;
  try {
    st = statSync(path);
  } catch {
    return undefined;
  }
  if (st.isDirectory()) return detectLayout(path) && (await looksRight(new DirStore(path))) ? 'oci-layout' : undefined;
  if (!st.isFile()) return undefined;
  if (isGzipFile(path)) {
    const first = await firstGzipMember(path);
    if (
      first !== undefined &&
      first !== '' &&
      CONTAINER_MEMBER.test(first) &&
      /^(oci-layout|index\.json|manifest\.json|blobs|[0-9a-f]{64})/.test(first)
    ) {
      throw new ErofsError(
        'EUNSUPPORTED',
        `${path} looks like a gzip-compressed container image archive: gunzip it first (layers are read from it by offset)`,
      );
    }
    return undefined;
  }
  let members: Map<string, Member> | undefined;
  try {
    members = await listArchive(path, true);
  } catch (e) {
    if (isErofsError(e) && e.code !== 'EIO') return undefined; // not a tar: someone else's message
    throw e;
  }
  if (!members) return undefined;
  const f = formatOf((n) => members.get(n)?.type === 'file' || members.get(n)?.type === 'symlink');
  if (!f) {
    // Only layer and blob names, and no manifest: a container archive cut short (docker writes
    // manifest.json last), not a tree.
    if ([...members.keys()].some((n) => /^(blobs\/|[0-9a-f]{64}(\/|\.tar$))/.test(n))) {
      throw new ErofsError(
        'ETRUNCATED',
        `${path} holds container image layers but no manifest.json or index.json (cut short?)`,
      );
    }
    return undefined;
  }
  const store = new TarStore(path, f === 'oci-layout' ? 'oci-archive' : f, members);
  return (await looksRight(store)) ? store.format : undefined;
}

/**
 * A tree may hold a file called manifest.json: it is a container image only when the document has
 * the shape one has (a list of {Config, Layers}; an index with a manifests list).
 */
async function looksRight(store: BlobStore): Promise<boolean> {
  const name = store.format === 'docker-archive' ? 'manifest.json' : 'index.json';
  const size = store.size(name);
  if (size === undefined || size > 16 << 20) return false;
  const parts: Buffer[] = [];
  for await (const c of store.read(name)) parts.push(c);
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.concat(parts).toString('utf8'));
  } catch {
    return false;
  }
  if (store.format === 'docker-archive') {
    return (
      Array.isArray(doc) &&
      doc.length > 0 &&
      doc.every((e) => typeof e === 'object' && e !== null && 'Config' in e && 'Layers' in e)
    );
  }
  return typeof doc === 'object' && doc !== null && Array.isArray((doc as { manifests?: unknown }).manifests);
}

/** Open the container image store at `path` (already known to be one, see detectContainer). */
export async function openStore(path: string): Promise<BlobStore> {
  const st = statSync(path);
  if (st.isDirectory()) {
    if (detectLayout(path)) return new DirStore(path);
    throw new ErofsError('EINVAL', `${path}: not an OCI image layout (no oci-layout and index.json)`);
  }
  const members = await listArchive(path, false);
  const f = formatOf((n) => members!.has(n));
  if (!f)
    throw new ErofsError(
      'EINVAL',
      `${path}: not a container image archive (no index.json + oci-layout, no manifest.json)`,
    );
  return new TarStore(path, f === 'oci-layout' ? 'oci-archive' : f, members!);
}

function detectLayout(dir: string): boolean {
  return isFile(join(dir, 'oci-layout')) && isFile(join(dir, 'index.json'));
}
