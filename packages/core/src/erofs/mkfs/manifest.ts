// The source manifest: every regular file's path, size and sha256 as mkfs read them from the source
// (directory or tar) while streaming them into the image — never by reading the image back. It is the
// stress harness's reference for what an image's files must read as, independent of our reader.
// Paths are as our tools print them ('/dir/name', names decoded as UTF-8); hard links appear once per
// path.
import { readFileSync, writeFileSync } from 'node:fs';
import { ErofsError } from '../errors.ts';
import type { TreeNode } from './tree.ts';
import { sortedChildren } from './tree.ts';

export const MANIFEST_FORMAT = 'ishare-source-manifest/1';

export interface ManifestEntry {
  readonly path: string;
  readonly size: number;
  /** Lower-case hex. */
  readonly sha256: string;
}

export interface SourceManifest {
  readonly format: typeof MANIFEST_FORMAT;
  readonly files: ManifestEntry[];
}

const utf8 = new TextDecoder('utf-8');

/** The manifest of a tree whose files have all been streamed (every file node carries its sha256). */
export function manifestOfTree(root: TreeNode): SourceManifest {
  const files: ManifestEntry[] = [];
  const walk = (dir: TreeNode, prefix: string): void => {
    for (const c of sortedChildren(dir)) {
      const path = `${prefix}/${utf8.decode(c.name)}`;
      if (c.node.kind === 'dir') walk(c.node, path);
      else if (c.node.kind === 'file') {
        if (!c.node.sha256) throw new ErofsError('EIO', `mkfs: ${path} has no recorded content hash`);
        files.push({ path, size: c.node.size, sha256: c.node.sha256.toString('hex') });
      }
    }
  };
  walk(root, '');
  return { format: MANIFEST_FORMAT, files };
}

export function writeManifest(path: string, m: SourceManifest): void {
  writeFileSync(path, JSON.stringify(m) + '\n');
}

/** Read and check a manifest file; EINVAL (one line) when it is not one. */
export function readManifest(path: string): SourceManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ErofsError(code === 'ENOENT' ? 'ENOENT' : 'EINVAL', `manifest ${path}: ${code ?? 'not JSON'}`);
  }
  const m = raw as { format?: unknown; files?: unknown };
  if (m === null || typeof m !== 'object' || m.format !== MANIFEST_FORMAT || !Array.isArray(m.files)) {
    throw new ErofsError('EINVAL', `manifest ${path}: not an ${MANIFEST_FORMAT} file`);
  }
  for (const f of m.files as unknown[]) {
    const e = f as Partial<ManifestEntry> | null;
    if (
      e === null ||
      typeof e !== 'object' ||
      typeof e.path !== 'string' ||
      !e.path.startsWith('/') ||
      !Number.isSafeInteger(e.size) ||
      (e.size as number) < 0 ||
      typeof e.sha256 !== 'string' ||
      !/^[0-9a-f]{64}$/.test(e.sha256)
    ) {
      throw new ErofsError('EINVAL', `manifest ${path}: bad entry ${JSON.stringify(f).slice(0, 80)}`);
    }
  }
  return m as SourceManifest;
}
