// Decoy images the stress workload always mounts beside the user's: files whose fingerprint xattr is
// forged to claim another file's content. Correct code never lets them share pages with the victim
// (different domain, or different size), so any bug that does is caught by the byte oracle.
// The poison decoy (W, on request) is the attack mainline's trust model accepts: same domain, same
// size, forged fingerprint. Without verified sharing its bytes reach X's readers (and X's reach W's);
// with `verify` mounts it is refused at join.
import { mkdirSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mkfs, forgeFingerprint, type SourceManifest } from '@ishare/core';

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
  /** The tree it was built from and mkfs's manifest of it: the byte oracle's reference. */
  readonly source: string;
  readonly manifest: SourceManifest;
}

/**
 * X (domain decoy-1): f, g. Y (decoy-2): f' forged as f, same size. Z (decoy-1): g' forged as g, other
 * size. With `poison`: W (decoy-1): f'' forged as f, same size, same domain.
 */
export async function buildDecoys(dir = mkdtempSync(join(tmpdir(), 'ishare-decoys-')), opts: { poison?: boolean } = {}): Promise<{ dir: string; decoys: Decoy[]; remove: () => void }> {
  const f = bytes(24_000, 7);
  const g = bytes(9_000, 8);
  const f2 = bytes(24_000, 9);
  const g2 = bytes(13_000, 10);
  const trees: [string, [string, Buffer][]][] = [
    ['x', [['f', f], ['g', g]]],
    ['y', [['f', f2]]],
    ['z', [['g', g2]]],
  ];
  const f3 = bytes(24_000, 11);
  if (opts.poison) trees.push(['w', [['f', f3]]]);
  const manifests = new Map<string, SourceManifest>();
  for (const [name, files] of trees) {
    mkdirSync(join(dir, name), { recursive: true });
    for (const [p, data] of files) writeFileSync(join(dir, name, p), data);
    const r = await mkfs({ out: join(dir, `${name}.img`), source: join(dir, name), timestamp: 0, uuid: '00000000-0000-0000-0000-000000000000' });
    manifests.set(name, r.manifest);
  }
  forgeFingerprint(join(dir, 'y.img'), f2, f);
  forgeFingerprint(join(dir, 'z.img'), g2, g);
  if (opts.poison) forgeFingerprint(join(dir, 'w.img'), f3, f);
  const decoy = (name: string, domainId: string): Decoy => ({ image: join(dir, `${name}.img`), domainId, source: join(dir, name), manifest: manifests.get(name)! });
  const decoys = [decoy('x', 'decoy-1'), decoy('y', 'decoy-2'), decoy('z', 'decoy-1')];
  if (opts.poison) decoys.push(decoy('w', 'decoy-1'));
  return { dir, decoys, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
