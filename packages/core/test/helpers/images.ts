// Images for kernel tests: built once per test file from the shared edge-case tree, by mkfs.erofs
// (the reference tool) and, where the test wants fingerprints, by our own writer.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { makeEdgeTree, tempDir, snapshotTree, type TreeOptions } from '../../../../test/helpers/trees.ts';

export interface BuiltImage {
  readonly dir: string;
  readonly src: string;
  readonly image: string;
}

/** mkfs.erofs SRC → IMG with extra args (e.g. ['--chunksize=4096']). */
export function mkfsErofs(image: string, src: string, args: string[] = []): void {
  execFileSync('mkfs.erofs', ['-T0', '--quiet', ...args, image, src], { stdio: ['ignore', 'ignore', 'pipe'] });
}

export function edgeImage(args: string[] = [], tree: TreeOptions = {}): BuiltImage {
  const dir = tempDir('ishare-kernel-');
  const src = join(dir, 'src');
  mkdirSync(src);
  makeEdgeTree(src, tree);
  const image = join(dir, 'a.img');
  mkfsErofs(image, src, args);
  return { dir, src, image };
}

/** sha256 of every regular file of a source tree, by image path ('/a/b'). */
export function sourceHashes(src: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const [rel, e] of snapshotTree(src)) if (e.type === 'file') out.set('/' + rel, e.sha256!);
  return out;
}

export function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

export function readSource(src: string, path: string): Buffer {
  return readFileSync(join(src, path));
}
