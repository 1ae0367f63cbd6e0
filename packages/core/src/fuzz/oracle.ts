// What a seed image's files read as before any mutation, and which bytes each read depends on. A file
// whose dependencies no mutation touched must read back exactly this ("correct data").
import { ErofsImage } from '../erofs/image.ts';
import { EROFS_SUPER_OFFSET, EROFS_SUPER_SIZE } from '../erofs/format.ts';
import { fileDependencies } from './regions.ts';

export interface PristineFile {
  readonly nid: number;
  readonly path: string;
  readonly deps: readonly (readonly [number, number])[];
  readonly data: Uint8Array;
}

export interface SeedOracle {
  readonly files: readonly PristineFile[];
}

/** Files larger than this are not kept whole (the seeds are small; this only bounds a user's seed). */
const MAX_KEPT = 16 << 20;

export function buildOracle(bytes: Uint8Array): SeedOracle {
  const img = ErofsImage.fromBuffer(bytes);
  const files: PristineFile[] = [];
  const seen = new Set<number>();
  for (const { path, inode } of img.walk()) {
    if (inode.type !== 'file' || inode.compressed || seen.has(inode.nid) || inode.size > MAX_KEPT) continue;
    seen.add(inode.nid);
    files.push({ nid: inode.nid, path, deps: fileDependencies(img, inode), data: img.readFile(inode) });
  }
  return { files };
}

function overlaps(ranges: readonly (readonly [number, number])[], at: number, len: number): boolean {
  for (const [lo, hi] of ranges) if (at < hi && at + len > lo) return true;
  return false;
}

/**
 * Files none of the touched ranges reach. Nothing is untouched when the superblock header was hit: its
 * fields (block size, meta block, root) move every structure.
 */
export function untouchedFiles(oracle: SeedOracle, touched: readonly (readonly [number, number])[]): PristineFile[] {
  for (const [at, len] of touched)
    if (at < EROFS_SUPER_OFFSET + EROFS_SUPER_SIZE && at + len > EROFS_SUPER_OFFSET) return [];
  return oracle.files.filter((f) => !touched.some(([at, len]) => overlaps(f.deps, at, len)));
}
