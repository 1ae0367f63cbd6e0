// Streaming one regular file's bytes into the image during the scan: whole blocks go straight to the
// data area, the last partial block is either kept for packing behind the inode (FLAT_INLINE) or
// zero-padded in place (FLAT_PLAIN). The sha256 fingerprint is computed on the same pass, so the
// fingerprint always describes exactly the bytes the image holds.
import { createHash } from 'node:crypto';
import { ErofsError } from '../errors.ts';
import type { ImageSink } from './sink.ts';
import type { DataPlacement } from './tree.ts';

export interface StreamedData {
  readonly placement: DataPlacement;
  readonly sha256: Buffer;
}

/**
 * Write `size` bytes from `chunks` at the sink's (block-aligned) position. `tailInline(n)` says
 * whether a tail of n bytes will be packed inline. `what` names the file in errors.
 */
export async function streamFileData(
  sink: ImageSink,
  chunks: AsyncIterable<Uint8Array>,
  size: number,
  tailInline: (tailLen: number) => boolean,
  what: string,
): Promise<StreamedData> {
  const bs = sink.blockSize;
  const tailLen = size % bs;
  const inline = tailLen > 0 && tailInline(tailLen);
  const plainBytes = inline ? size - tailLen : size;
  const blkaddr = sink.block;
  const hash = createHash('sha256');
  const tail = inline ? Buffer.alloc(tailLen) : null;
  let got = 0;
  for await (const chunk of chunks) {
    if (got + chunk.length > size)
      throw new ErofsError('EIO', `${what}: more than the expected ${size} bytes (changed while reading?)`);
    hash.update(chunk);
    const toPlain = Math.max(0, Math.min(chunk.length, plainBytes - got));
    if (toPlain > 0) await sink.append(toPlain === chunk.length ? chunk : chunk.subarray(0, toPlain));
    if (toPlain < chunk.length) tail!.set(chunk.subarray(toPlain), got + toPlain - plainBytes);
    got += chunk.length;
  }
  if (got !== size) throw new ErofsError('EIO', `${what}: read ${got} of ${size} bytes (changed while reading?)`);
  await sink.padToBlock();
  const blocks = Math.ceil(plainBytes / bs);
  return { placement: { size, blkaddr: blocks > 0 ? blkaddr : 0, blocks, tail }, sha256: hash.digest() };
}
