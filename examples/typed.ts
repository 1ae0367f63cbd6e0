// The same API from TypeScript (module: nodenext, strict): what a consumer of the published packages
// type-checks against — the packages' own .d.ts files, no source.
import { mkfs, openImage, type MkfsReport } from '@ishare/core';
import { ErofsImage, type ErofsInode } from '@ishare/core/format';
import { runCompare, type CompareResult } from '@ishare/workers';

export async function build(out: string, source: string): Promise<MkfsReport> {
  return mkfs({ out, source });
}

export async function readText(image: string, path: string): Promise<string> {
  const fs = openImage(image);
  try {
    return await fs.promises.readFile(path, 'utf8');
  } finally {
    fs.close();
  }
}

export function fingerprintOf(image: string, path: string): string | undefined {
  const img = ErofsImage.open(image);
  try {
    const inode: ErofsInode = img.resolve(path);
    return img.fingerprint(inode);
  } finally {
    img.close();
  }
}

export async function saved(a: string, b: string): Promise<number> {
  const r: CompareResult = await runCompare({ images: [a, b], workers: 1 });
  return r.noShare.pageCacheBytes - r.share.pageCacheBytes;
}
