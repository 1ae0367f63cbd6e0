// The same API from TypeScript (module: nodenext, strict): what a consumer of the published packages
// type-checks against — the packages' own .d.ts files, no source.
import { ErofsImage, mkfs, type ErofsInode, type MkfsReport } from '@ishare/core';
import { runCompare, type CompareResult } from '@ishare/workers';

export async function build(out: string, source: string): Promise<MkfsReport> {
  return mkfs({ out, source });
}

export function readText(image: string, path: string): string {
  const img = ErofsImage.open(image);
  try {
    const inode: ErofsInode = img.resolve(path);
    return Buffer.from(img.readFile(inode)).toString('utf8');
  } finally {
    img.close();
  }
}

export async function saved(a: string, b: string): Promise<number> {
  const r: CompareResult = await runCompare({ images: [a, b], workers: 1 });
  return r.noShare.pageCacheBytes - r.share.pageCacheBytes;
}
