// A small source tree for compressed images: text that compresses well (several pclusters per file),
// incompressible bytes (stored "plain" pclusters, interlaced with fragments), mixtures of both inside
// one file, zeros, repeated contents (dedupe), tails of every shape (ztailpacking, fragments), sizes
// around block boundaries. Deterministic: same bytes every run. Kept small for CI (~0.9 MiB).
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { seededBytes } from './trees.ts';

/** Text-like bytes: lines with counters, compressible but not trivially. */
export function textBytes(n: number, seed: number): Buffer {
  let s = '';
  let i = 0;
  while (s.length < n) {
    s += `${seed}:${i} the quick brown fox ${(i * 7919 + seed) % 1000} jumps over ${i % 13} lazy dogs\n`;
    i++;
  }
  return Buffer.from(s.slice(0, n));
}

export function makeCompressTree(root: string): string[] {
  const files: string[] = [];
  const w = (rel: string, data: Buffer | string): void => {
    writeFileSync(join(root, rel), data);
    files.push(rel);
  };
  mkdirSync(join(root, 'dir/sub'), { recursive: true });
  w('empty', '');
  w('tiny.txt', 'tiny file\n');
  w('text-100k.txt', textBytes(100_000, 1));
  w('text-300k.txt', textBytes(300_000, 2));
  w('random-20k.bin', seededBytes(20_000, 3));
  w('zeros-70k', Buffer.alloc(70_000));
  w(
    'mixed.bin',
    Buffer.concat([seededBytes(5_000, 4), textBytes(40_000, 5), seededBytes(7_001, 6), textBytes(9_999, 7)]),
  );
  for (const n of [4095, 4096, 4097, 8191, 12_388]) w(`dir/text-${n}`, textBytes(n, n));
  for (const n of [4095, 4097, 6000]) w(`dir/random-${n}`, seededBytes(n, n));
  // The same bytes twice (whole-file dedupe) and a file sharing a long prefix with another.
  w('dir/sub/copy-of-100k.txt', textBytes(100_000, 1));
  w('dir/sub/prefix-of-300k.txt', Buffer.concat([textBytes(300_000, 2).subarray(0, 150_000), textBytes(3_333, 8)]));
  // A directory of several blocks (compressed with mkfs.erofs --zD=1).
  mkdirSync(join(root, 'many'));
  for (let i = 0; i < 120; i++) w(`many/entry-${String(i).padStart(4, '0')}-${'x'.repeat(40 + (i % 30))}`, `${i}\n`);
  for (const f of files) utimesSync(join(root, f), 1_700_000_000, 1_700_000_000);
  return files;
}
