// pread and friends (fs/read_write.c): thin entries onto the page-cache read path (vfs/filemap.ts).
// vfsRead is on the hot path — it adds a call, never an allocation unless the caller gave no buffer.
import { constants as bufferConstants } from 'node:buffer';
import type { Kernel } from './kernel.ts';
import { PAGE_SIZE } from '../mm/arena.ts';
import { filemapRead, filemapPin, filemapUnpin } from './filemap.ts';
import type { OpenFile } from './file.ts';
import { VfsError } from './errno.ts';

/** Zero-copy access to cached bytes: views straight into the page frames, pinned until release(). */
export interface FileView {
  /** The bytes of the range in order, one view per run of adjacent frames. */
  readonly views: Uint8Array[];
  readonly bytes: number;
  /** Unpin the pages (once; the views must not be used after). */
  release(): void;
}

/** pread: copy [pos, pos+len) into dst (allocated if not given). Returns bytes read. */
export function vfsRead(
  k: Kernel,
  file: OpenFile,
  pos: number,
  len: number,
  dst: Uint8Array | undefined,
  dstOff: number,
): number {
  const out = dst ?? new Uint8Array(len);
  return filemapRead(k, file, pos, out, dstOff, len);
}

/** Read a whole file into a new buffer. */
export function vfsReadAll(k: Kernel, file: OpenFile): Buffer {
  let buf: Buffer;
  try {
    if (file.size > bufferConstants.MAX_LENGTH) throw new RangeError('over the buffer limit');
    buf = Buffer.allocUnsafe(file.size);
  } catch {
    // A sparse file (or a forged i_size) can be larger than one buffer may hold.
    throw new VfsError('EINVAL', `${file.path}: ${file.size} bytes do not fit in one buffer; read it in ranges`);
  }
  const n = filemapRead(k, file, 0, buf, 0, file.size);
  if (n !== file.size) throw new VfsError('EIO', `${file.path}: short read ${n}/${file.size}`);
  return buf;
}

/**
 * Zero-copy read of [pos, pos + len): the cached bytes themselves, as views into the shared page
 * frames (mainline lets a shared file be mmapped through its shared inode; this is that access
 * without a page table). The pages stay pinned — reclaim and drop-caches leave them — until release.
 */
export function vfsView(k: Kernel, file: OpenFile, pos: number, len: number): FileView {
  const a = k.a;
  const end = Math.min(pos + len, file.size);
  const frames = new Int32Array(end > pos ? Math.floor((end - 1) / PAGE_SIZE) - Math.floor(pos / PAGE_SIZE) + 1 : 0);
  const n = filemapPin(k, file, pos, len, frames);
  const views: Uint8Array[] = [];
  let at = pos;
  for (let i = 0; i < n;) {
    // A run of frames adjacent in one chunk is one view.
    const chunk = a.frameChunk(frames[i]);
    const start = a.frameOffset(frames[i]) + (at % PAGE_SIZE);
    let j = i + 1;
    while (j < n && frames[j] === frames[j - 1] + 1 && a.frameChunk(frames[j]) === chunk) j++;
    const runEnd = Math.min(end, (Math.floor(at / PAGE_SIZE) + (j - i)) * PAGE_SIZE);
    views.push(new Uint8Array(chunk.buffer, chunk.byteOffset + start, runEnd - at));
    at = runEnd;
    i = j;
  }
  let released = false;
  return {
    views,
    bytes: Math.max(0, end - pos),
    release: () => {
      if (released) return;
      released = true;
      filemapUnpin(k, frames, n);
    },
  };
}
