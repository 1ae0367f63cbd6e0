// Two "minor versions" of a tree for the memory experiment, and the figures the experiment must
// report, computed from the source trees alone (never from an image or the kernel):
//  - no sharing: every distinct inode of every tree costs ceil(size / 4096) pages;
//  - sharing: every distinct file content (sha256 of the bytes) costs its pages once.
// The trees share most files, change a few (same size and different size), move one file to another
// path, hold a copy of a file under a second name, a hard link, an empty file and a one-byte file.
import { mkdirSync, writeFileSync, linkSync, readdirSync, lstatSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { mkfs } from '@ishare/core';
import { seededBytes, tempDir } from '../../../../test/helpers/trees.ts';

export const PAGE = 4096;

export function writeVersion(root: string, v: 1 | 2): void {
  for (const d of ['lib', 'bin', 'etc', 'data', 'docs']) mkdirSync(join(root, d), { recursive: true });
  writeFileSync(join(root, 'lib', 'big.so'), seededBytes(700_000, 11));
  writeFileSync(join(root, 'lib', 'mid.so'), seededBytes(130_001, 12));
  writeFileSync(join(root, 'lib', 'page'), seededBytes(PAGE, 13));
  writeFileSync(join(root, 'lib', 'page-plus'), seededBytes(PAGE + 1, 14));
  writeFileSync(join(root, 'lib', 'tiny'), 'x');
  writeFileSync(join(root, 'lib', 'empty'), '');
  writeFileSync(join(root, 'lib', 'copy-of-mid'), seededBytes(130_001, 12)); // same content, own inode
  linkSync(join(root, 'lib', 'mid.so'), join(root, 'lib', 'mid-hardlink')); // same inode
  writeFileSync(join(root, 'etc', 'version'), `version=${v}\n`); // same size, other bytes
  writeFileSync(join(root, 'bin', 'app'), seededBytes(90_000 + v * 10, 100 + v)); // other size
  writeFileSync(join(root, 'bin', 'tool'), seededBytes(50_000, 200 + v)); // same size, other bytes
  writeFileSync(join(root, 'data', `moved-v${v}`), seededBytes(20_000, 15)); // same bytes, other path
  if (v === 2) writeFileSync(join(root, 'data', 'only-in-v2'), seededBytes(12_345, 16));
  for (let i = 0; i < 24; i++) writeFileSync(join(root, 'docs', `doc${i}.txt`), seededBytes(300 + i * 700, 300 + i));
}

export interface Pair {
  readonly dir: string;
  readonly srcs: [string, string];
  readonly images: [string, string];
}

export async function buildPair(): Promise<Pair> {
  const dir = tempDir('ishare-exp-');
  const srcs: [string, string] = [join(dir, 'app-1.0'), join(dir, 'app-1.1')];
  const images: [string, string] = [join(dir, 'app-1.0.img'), join(dir, 'app-1.1.img')];
  for (const i of [0, 1] as const) {
    mkdirSync(srcs[i]);
    writeVersion(srcs[i], i === 0 ? 1 : 2);
    await mkfs({ out: images[i], source: srcs[i], timestamp: 1_700_000_000 });
  }
  return { dir, srcs, images };
}

export interface SourceFile {
  readonly rel: string; // '/lib/big.so'
  readonly ino: number;
  readonly size: number;
  readonly sha256: string;
}

export function sourceFiles(root: string): SourceFile[] {
  const out: SourceFile[] = [];
  const walk = (abs: string, rel: string): void => {
    for (const name of readdirSync(abs).sort()) {
      const p = join(abs, name);
      const st = lstatSync(p);
      if (st.isDirectory()) walk(p, `${rel}/${name}`);
      else if (st.isFile())
        out.push({
          rel: `${rel}/${name}`,
          ino: st.ino,
          size: st.size,
          sha256: createHash('sha256').update(readFileSync(p)).digest('hex'),
        });
    }
  };
  walk(root, '');
  return out;
}

const pages = (size: number): number => Math.ceil(size / PAGE);

/** Sum over the distinct inodes of each tree of ceil(size / 4096) × 4096. */
export function expectedNoShare(srcs: readonly string[]): number {
  let total = 0;
  for (const src of srcs) {
    const seen = new Map<number, number>();
    for (const f of sourceFiles(src)) seen.set(f.ino, f.size);
    for (const size of seen.values()) total += pages(size) * PAGE;
  }
  return total;
}

/** Sum over the distinct contents (sha256) across all trees of ceil(size / 4096) × 4096. */
export function expectedShare(srcs: readonly string[]): number {
  const contents = new Map<string, number>();
  for (const src of srcs) for (const f of sourceFiles(src)) contents.set(f.sha256, f.size);
  let total = 0;
  for (const size of contents.values()) total += pages(size) * PAGE;
  return total;
}

/**
 * Pages a trace touches, from the sources: without sharing one per (tree, inode, page), with sharing
 * one per (content, page). Ranges whose path a tree lacks are skipped for that tree.
 */
export function expectedTouched(
  srcs: readonly string[],
  ops: readonly { path: string; offset: number; length: number }[],
): { noShare: number; share: number } {
  return expectedTouchedEach(
    srcs,
    srcs.map(() => ops),
  );
}

/** The same with one trace per tree (one container per image, each with its own workload). */
export function expectedTouchedEach(
  srcs: readonly string[],
  opsPerTree: readonly (readonly { path: string; offset: number; length: number }[])[],
): { noShare: number; share: number } {
  const noShare = new Set<string>();
  const share = new Set<string>();
  srcs.forEach((src, t) => {
    const byPath = new Map(sourceFiles(src).map((f) => [f.rel, f]));
    for (const op of opsPerTree[t]) {
      const f = byPath.get(op.path);
      if (!f) continue;
      const end = Math.min(op.offset + op.length, f.size);
      for (let p = Math.floor(op.offset / PAGE); p * PAGE < end; p++) {
        noShare.add(`${t}:${f.ino}:${p}`);
        share.add(`${f.sha256}:${p}`);
      }
    }
  });
  return { noShare: noShare.size * PAGE, share: share.size * PAGE };
}
