// Verified sharing (mount option `verify`): a file joins its shared inode — and so may serve its pages
// to, or be served pages by, another image's file — only once its content is proven to hash to the
// fingerprint it claims. Without it the fingerprint xattr is trusted, as mainline trusts everything in
// one domain: an image that forges a fingerprint poisons the shared page cache (its bytes reach the
// other image's readers) and reads the other image's bytes.
//
// Why a whole-file hash when the inode is filled, not a Merkle tree checked per page (fs-verity):
// the fingerprint is sha256 over the whole content (upstream erofs-utils' `--xattr-inode-digest`), so
// nothing smaller than the whole content can be tied to it. A per-page tree written by mkfs lives in the
// same untrusted image as the forged fingerprint; a forger writes a tree that matches its own bytes.
// Proof therefore needs every byte once per inode lifetime, which is what this does, through the same
// block mapping the page fill uses (so the proven bytes are the bytes that will be served).
import { createHash } from 'node:crypto';
import type { ErofsSb } from './super.ts';
import type { ErofsInode } from '../../erofs/types.ts';

const CHUNK = 1 << 20;
let scratch: Uint8Array | undefined;
const SHA256_TAG_HEX = Buffer.from('sha256:', 'latin1').toString('hex');

/**
 * Hash `ino`'s content as the image maps it and compare with `fingerprintHex` (the reader's spelling of
 * the fingerprint value: the bare digest, or upstream's "sha256:" + digest). False on any mismatch or
 * on a read error (an unreadable file proves nothing).
 */
export function ishareVerifyContent(sb: ErofsSb, ino: ErofsInode, fingerprintHex: string): boolean {
  scratch ??= new Uint8Array(CHUNK);
  const h = createHash('sha256');
  try {
    for (let off = 0; off < ino.size;) {
      const want = Math.min(CHUNK, ino.size - off);
      const buf = want === CHUNK ? scratch : scratch.subarray(0, want);
      const n = sb.image.readInto(ino, buf, off);
      if (n !== want) return false;
      h.update(buf);
      off += n;
    }
  } catch {
    return false;
  }
  const d = h.digest('hex');
  const fp = fingerprintHex.toLowerCase();
  return fp === d || fp === SHA256_TAG_HEX + d;
}
