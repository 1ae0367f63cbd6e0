// One layer as an uncompressed tar stream, checked as it goes: the stored blob against its size and
// digest, the uncompressed tar against the config's diff_id. Compression is recognised by magic
// (gzip by zlib, zstd by fzstd, anything else must be a plain tar), as containerd does, whatever the
// media type says. The checks can only finish at the end of the blob, so `readLayer` hands the stream
// to a consumer, then drains what the consumer left (the tar's end blocks, padding) and checks —
// nothing read from a layer is to be trusted before it returns.
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Decompress } from 'fzstd';
import { ErofsError, isErofsError } from '../erofs/errors.ts';
import { hasher } from './digest.ts';
import type { ContainerImage, LayerRef } from './resolve.ts';

const GZIP = [0x1f, 0x8b];
const ZSTD = [0x28, 0xb5, 0x2f, 0xfd];
const OTHER: [string, number[]][] = [
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ['bzip2', [0x42, 0x5a, 0x68]],
];

function startsWith(b: Buffer, magic: number[]): boolean {
  return b.length >= magic.length && magic.every((v, i) => b[i] === v);
}

async function* gunzip(src: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const gz = createGunzip();
  const input = Readable.from(src);
  input.on('error', (e) => gz.destroy(e));
  input.pipe(gz);
  try {
    for await (const c of gz) yield c as Buffer;
  } catch (e) {
    if (isErofsError(e)) throw e;
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'Z_BUF_ERROR') throw new ErofsError('ETRUNCATED', 'gzip data ends early (truncated layer)');
    if (err.code?.startsWith('Z_')) throw new ErofsError('ECORRUPT', `bad gzip data (${err.message})`);
    throw e;
  } finally {
    input.destroy();
    gz.destroy();
  }
}

async function* unzstd(src: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const out: Buffer[] = [];
  // fzstd hands out views of its window, which it reuses: copy.
  const d = new Decompress((chunk) => {
    out.push(Buffer.from(chunk));
  });
  const push = (c: Uint8Array, final: boolean): void => {
    try {
      d.push(c, final);
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (code === 5) throw new ErofsError('ETRUNCATED', 'zstd data ends early (truncated layer)');
      throw new ErofsError('ECORRUPT', `bad zstd data (${(e as Error).message})`);
    }
  };
  for await (const c of src) {
    push(c, false);
    while (out.length > 0) yield out.shift()!;
  }
  push(new Uint8Array(0), true);
  while (out.length > 0) yield out.shift()!;
}

/**
 * Read `layer` of `img` as an uncompressed tar: `consume` gets its chunks; the blob and tar digests
 * are checked once it returns (and the rest drained). Errors are plain ErofsErrors; the caller adds
 * which image and layer.
 */
export async function readLayer(
  img: ContainerImage,
  layer: LayerRef,
  consume: (tar: AsyncIterable<Buffer>) => Promise<void>,
  onBytes?: (n: number) => void,
): Promise<void> {
  const stored = img.store.size(layer.member);
  if (stored === undefined) throw new ErofsError('ENOENT', `blob ${layer.member} is missing`);
  if (layer.size !== undefined && stored !== layer.size) {
    throw new ErofsError(
      stored < layer.size ? 'ETRUNCATED' : 'ECORRUPT',
      `blob is ${stored} bytes, the manifest says ${layer.size}`,
    );
  }
  const blobHash = layer.blobDigest ? hasher(layer.blobDigest) : undefined;
  const tarHash = layer.diffId ? hasher(layer.diffId) : undefined;
  let rawBytes = 0;
  async function* raw(): AsyncGenerator<Buffer> {
    for await (const c of img.store.read(layer.member)) {
      blobHash?.update(c);
      rawBytes += c.length;
      onBytes?.(c.length);
      yield c;
    }
  }
  // Peek at the magic without losing the first chunk.
  const it = raw()[Symbol.asyncIterator]();
  const first = await it.next();
  const head = first.done ? Buffer.alloc(0) : first.value;
  async function* again(): AsyncGenerator<Buffer> {
    if (!first.done) yield head;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  }
  for (const [name, magic] of OTHER) {
    if (startsWith(head, magic))
      throw new ErofsError('EUNSUPPORTED', `${name}-compressed layers are not supported (gzip, zstd or none)`);
  }
  const decoded = startsWith(head, GZIP) ? gunzip(again()) : startsWith(head, ZSTD) ? unzstd(again()) : again();
  async function* counted(): AsyncGenerator<Buffer> {
    for await (const c of decoded) {
      tarHash?.update(c);
      yield c;
    }
  }
  const tar = counted();
  let failure: unknown;
  try {
    await consume(tar);
  } catch (e) {
    failure = e;
  }
  try {
    for await (const _ of tar) {
      /* the rest still counts for the digests */
    }
  } catch (e) {
    failure ??= e;
  } finally {
    await tar.return(undefined);
  }
  if (failure) {
    // Hash the rest of the blob as stored, so a corrupt blob is reported as such.
    try {
      for (let r = await it.next(); !r.done; r = await it.next()) {
        /* hashed by raw() */
      }
    } catch {
      /* the first failure is the one to report */
    }
  }
  // A blob that is not what its digest says explains any other failure (a tar error, a short read).
  const stale = !failure || (isErofsError(failure) && failure.code !== 'ENOENT');
  if (stale && rawBytes === stored && blobHash && layer.blobDigest) {
    const got = blobHash.digest('hex');
    if (got !== layer.blobDigest.hex)
      throw new ErofsError(
        'ECORRUPT',
        `blob does not match its digest (content is ${layer.blobDigest.algorithm}:${got.slice(0, 12)}…)`,
      );
  }
  if (failure) throw failure;
  if (rawBytes !== stored) throw new ErofsError('ETRUNCATED', `read ${rawBytes} of ${stored} bytes`);
  if (tarHash && layer.diffId) {
    const got = tarHash.digest('hex');
    if (got !== layer.diffId.hex)
      throw new ErofsError(
        'ECORRUPT',
        `uncompressed tar does not match the config's diff_id ${layer.diffId.text.slice(0, 19)}… (content is ${layer.diffId.algorithm}:${got.slice(0, 12)}…)`,
      );
  }
}
