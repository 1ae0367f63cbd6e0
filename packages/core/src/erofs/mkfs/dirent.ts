// Directory data: each block holds a dirent array then the names it points to. Entries run in
// name-byte order across all blocks so the kernel can binary-search first by block, then inside one.
import { DE, DIRENT_SIZE, FT } from '../format.ts';
import type { NodeKind } from './tree.ts';

export interface DirentIn {
  readonly name: Buffer;
  readonly type: number; // FT.*
}

export interface DirBlocks {
  /** Entry index ranges [start, end) per block. */
  readonly blocks: readonly { start: number; end: number }[];
  /** Bytes used in the last block (dirents + names); the directory size is (n-1)*bsz + this. */
  readonly lastUsed: number;
  readonly size: number;
}

export function fileTypeOf(kind: NodeKind): number {
  switch (kind) {
    case 'file':
      return FT.REG_FILE;
    case 'dir':
      return FT.DIR;
    case 'symlink':
      return FT.SYMLINK;
    case 'chardev':
      return FT.CHRDEV;
    case 'blockdev':
      return FT.BLKDEV;
    case 'fifo':
      return FT.FIFO;
    case 'socket':
      return FT.SOCK;
  }
}

/** Split sorted entries into blocks, as many per block as fit (a name never straddles two blocks). */
export function planDirBlocks(entries: readonly DirentIn[], blockSize: number): DirBlocks {
  const blocks: { start: number; end: number }[] = [];
  let start = 0;
  let used = 0;
  for (let i = 0; i < entries.length; i++) {
    const need = DIRENT_SIZE + entries[i].name.length;
    if (used + need > blockSize) {
      blocks.push({ start, end: i });
      start = i;
      used = 0;
    }
    used += need;
  }
  blocks.push({ start, end: entries.length });
  return { blocks, lastUsed: used, size: (blocks.length - 1) * blockSize + used };
}

/** Encode one directory block into `buf` at `pos` (zero-filled; unused bytes stay zero). */
export function writeDirBlock(
  buf: Buffer,
  pos: number,
  entries: readonly DirentIn[],
  nids: readonly number[],
  start: number,
  end: number,
): void {
  let nameoff = (end - start) * DIRENT_SIZE;
  for (let i = start; i < end; i++) {
    const d = pos + (i - start) * DIRENT_SIZE;
    buf.writeBigUInt64LE(BigInt(nids[i]), d + DE.nid);
    buf.writeUInt16LE(nameoff, d + DE.nameoff);
    buf.writeUInt8(entries[i].type, d + DE.fileType);
    entries[i].name.copy(buf, pos + nameoff);
    nameoff += entries[i].name.length;
  }
}
