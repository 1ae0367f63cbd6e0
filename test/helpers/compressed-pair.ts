// Two versions of a compressible tree, built into compressed images by upstream mkfs.erofs 1.9.3, for
// the memory experiment on compressed images. Fingerprints are upstream's own (mkfs.erofs
// --xattr-inode-digest): the expected sharing is computed from the source trees, not from the images.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, seededBytes } from './trees.ts';
import { textBytes } from './compress-tree.ts';
import { upstreamTool } from './erofs-utils.ts';

export function writeCompressibleVersion(root: string, v: 1 | 2): void {
  for (const d of ['lib', 'etc', 'docs']) mkdirSync(join(root, d), { recursive: true });
  writeFileSync(join(root, 'lib', 'big.js'), textBytes(400_000, 1));
  writeFileSync(join(root, 'lib', 'mid.js'), textBytes(130_001, 2));
  writeFileSync(join(root, 'lib', 'blob.bin'), seededBytes(30_000, 3)); // stored uncompressed
  writeFileSync(join(root, 'lib', 'tiny'), 'x');
  writeFileSync(join(root, 'etc', 'version'), `version=${v}\n`);
  writeFileSync(join(root, 'lib', 'app.js'), textBytes(90_000 + v * 10, 100 + v)); // other size
  writeFileSync(join(root, 'lib', 'tool.js'), textBytes(50_000, 200 + v)); // same size, other bytes
  if (v === 2) writeFileSync(join(root, 'lib', 'only-in-v2.js'), textBytes(12_345, 16));
  for (let i = 0; i < 8; i++) writeFileSync(join(root, 'docs', `doc${i}.txt`), textBytes(3_000 + i * 5_000, 300 + i));
}

function regularFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) out.push(p);
    }
  };
  walk(root);
  return out;
}

export interface CompressedPair {
  readonly dir: string;
  readonly srcs: [string, string];
  readonly images: [string, string];
}

/** Build v1 and v2 with `mkfsArgs` per image (e.g. [['-zlz4hc'], ['-zlz4hc']]); `same`: both from v1. */
export function buildCompressedPair(mkfsArgs: [string[], string[]], opts: { same?: boolean } = {}): CompressedPair {
  const dir = tempDir('ishare-zpair-');
  const srcs: [string, string] = [join(dir, 'v1'), join(dir, opts.same ? 'v1' : 'v2')];
  const images: [string, string] = [join(dir, 'a.img'), join(dir, 'b.img')];
  for (const i of [0, 1] as const) {
    if (i === 1 && opts.same) continue;
    mkdirSync(srcs[i]);
    writeCompressibleVersion(srcs[i], i === 0 ? 1 : 2);
  }
  for (const i of [0, 1] as const) {
    execFileSync(upstreamTool('mkfs.erofs'), ['-T0', '--xattr-inode-digest', ...mkfsArgs[i], images[i], srcs[i]], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  }
  return { dir, srcs, images };
}

/** Files dump.erofs reports with a compressed layout (1 full, 3 compact), by image path. */
export function compressedPaths(image: string, src: string): string[] {
  const out: string[] = [];
  for (const p of regularFiles(src)) {
    const rel = p.slice(src.length);
    const dump = execFileSync(upstreamTool('dump.erofs'), [`--path=${rel}`, image], { encoding: 'utf8' });
    const m = /Layout: (\d+)/.exec(dump);
    if (m && (m[1] === '1' || m[1] === '3')) out.push(rel);
  }
  return out;
}
