// Forged fingerprints, for the tests and the stress harness's decoy images: the fingerprint xattr is
// trusted within a domain, so a forged one shows whether the kernel still keeps domains apart and checks
// sizes. Operates on an image file in place.
import { readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';

/**
 * Replace, in an image, the fingerprint of the file whose data is `victimData` by the fingerprint of
 * `claimedData`. The superblock checksum covers only the superblock, so the image stays valid.
 */
export function forgeFingerprint(image: string, victimData: Uint8Array, claimedData: Uint8Array): void {
  const img = readFileSync(image);
  const victim = createHash('sha256').update(victimData).digest();
  const claimed = createHash('sha256').update(claimedData).digest();
  const at = img.indexOf(victim);
  if (at < 0 || img.indexOf(victim, at + 1) >= 0) throw new Error('fingerprint to forge not found exactly once');
  claimed.copy(img, at);
  writeFileSync(image, img);
}
