// Two "minor versions" of a tree for sharing tests: most files identical, a few changed, one file whose
// content moved to another path, an empty file, a hard link, and duplicates within one tree.
import { mkdirSync, writeFileSync, linkSync } from 'node:fs';
import { join } from 'node:path';
import { seededBytes, tempDir } from '../../../../test/helpers/trees.ts';
import { mkfs } from '@ishare/core';

export interface VersionPair {
  readonly dir: string;
  readonly srcs: [string, string];
  readonly images: [string, string];
}

export function writeVersion(root: string, v: number): void {
  mkdirSync(join(root, 'lib'), { recursive: true });
  mkdirSync(join(root, 'bin'), { recursive: true });
  writeFileSync(join(root, 'lib', 'libc.so.6'), seededBytes(600_000, 11));
  writeFileSync(join(root, 'lib', 'libm.so.6'), seededBytes(130_000, 12));
  writeFileSync(join(root, 'lib', 'tiny'), 'x');
  writeFileSync(join(root, 'lib', 'empty'), '');
  writeFileSync(join(root, 'bin', 'app'), seededBytes(90_000 + v * 10, 100 + v)); // changes each version
  writeFileSync(join(root, 'bin', 'config'), `version=${v}\n`); // same size, different bytes
  writeFileSync(join(root, v === 1 ? 'old-name' : 'new-name'), seededBytes(20_000, 13)); // moved
  writeFileSync(join(root, 'lib', 'copy-of-libm'), seededBytes(130_000, 12)); // duplicate within a tree
  linkSync(join(root, 'lib', 'libm.so.6'), join(root, 'lib', 'libm-hardlink'));
}

export async function versionPair(opts: { fingerprint?: boolean } = {}): Promise<VersionPair> {
  const dir = tempDir('ishare-share-');
  const srcs: [string, string] = [join(dir, 'v1'), join(dir, 'v2')];
  const images: [string, string] = [join(dir, 'v1.img'), join(dir, 'v2.img')];
  for (let i = 0; i < 2; i++) {
    mkdirSync(srcs[i]);
    writeVersion(srcs[i], i + 1);
    await mkfs({ out: images[i], source: srcs[i], timestamp: 1_700_000_000, fingerprint: opts.fingerprint ?? true });
  }
  return { dir, srcs, images };
}

export { forgeFingerprint } from '@ishare/core/stress';
