// Content digests ("sha256:<hex>"), as OCI descriptors and docker configs spell them.
import { createHash, type Hash } from 'node:crypto';
import { ErofsError } from '../erofs/errors.ts';

const ALGORITHMS: Record<string, number> = { sha256: 64, sha512: 128 };

export interface Digest {
  readonly algorithm: 'sha256' | 'sha512';
  readonly hex: string;
  /** "algorithm:hex". */
  readonly text: string;
}

export function parseDigest(v: unknown, what: string): Digest {
  if (typeof v !== 'string') throw new ErofsError('ECORRUPT', `${what}: digest missing`);
  const m = /^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/.exec(v);
  if (!m) throw new ErofsError('ECORRUPT', `${what}: malformed digest ${JSON.stringify(v).slice(0, 100)}`);
  const len = ALGORITHMS[m[1]];
  if (len === undefined)
    throw new ErofsError('EUNSUPPORTED', `${what}: digest algorithm ${m[1]} is not supported (sha256, sha512)`);
  if (m[2].length !== len || !/^[0-9a-f]+$/.test(m[2]))
    throw new ErofsError('ECORRUPT', `${what}: malformed ${m[1]} digest ${JSON.stringify(v).slice(0, 160)}`);
  return { algorithm: m[1] as Digest['algorithm'], hex: m[2], text: v };
}

export function hasher(d: Digest): Hash {
  return createHash(d.algorithm);
}

/** Where a blob lives in an OCI layout. */
export function blobPath(d: Digest): string {
  return `blobs/${d.algorithm}/${d.hex}`;
}

/** Short form for messages: algorithm and the first 12 hex digits. */
export function shortDigest(d: Digest | string): string {
  const t = typeof d === 'string' ? d : d.text;
  const i = t.indexOf(':');
  return i < 0 ? t : t.slice(0, i + 13);
}
