// Decoy images the stress workload always mounts beside the user's: files whose fingerprint xattr is
// forged to claim another file's content. Correct code never lets them share pages with the victim
// (different domain, or different size), so any bug that does is caught by the byte oracle.
import { mkdirSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mkfs, forgeFingerprint } from '@ishare/core';

function bytes(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed | 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

export interface Decoy {
  readonly image: string;
  readonly domainId: string;
}

/** X (domain decoy-1): f, g. Y (decoy-2): f' forged as f, same size. Z (decoy-1): g' forged as g, other size. */
export async function buildDecoys(dir = mkdtempSync(join(tmpdir(), 'ishare-decoys-'))): Promise<{ dir: string; decoys: Decoy[]; remove: () => void }> {
  const f = bytes(24_000, 7);
  const g = bytes(9_000, 8);
  const f2 = bytes(24_000, 9);
  const g2 = bytes(13_000, 10);
  const trees: [string, [string, Buffer][]][] = [
    ['x', [['f', f], ['g', g]]],
    ['y', [['f', f2]]],
    ['z', [['g', g2]]],
  ];
  for (const [name, files] of trees) {
    mkdirSync(join(dir, name), { recursive: true });
    for (const [p, data] of files) writeFileSync(join(dir, name, p), data);
    await mkfs({ out: join(dir, `${name}.img`), source: join(dir, name), timestamp: 0, uuid: '00000000-0000-0000-0000-000000000000' });
  }
  forgeFingerprint(join(dir, 'y.img'), f2, f);
  forgeFingerprint(join(dir, 'z.img'), g2, g);
  const decoys = [
    { image: join(dir, 'x.img'), domainId: 'decoy-1' },
    { image: join(dir, 'y.img'), domainId: 'decoy-2' },
    { image: join(dir, 'z.img'), domainId: 'decoy-1' },
  ];
  return { dir, decoys, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
