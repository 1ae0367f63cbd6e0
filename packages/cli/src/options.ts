// Option value parsers. They throw commander's InvalidArgumentError, which becomes one
// `ishare: option '...' argument '...' is invalid. <why>` line and exit 2.
import { InvalidArgumentError } from 'commander';

const BLOCK_SIZES = [512, 1024, 2048, 4096];

export function parseBlockSize(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || !BLOCK_SIZES.includes(n))
    throw new InvalidArgumentError(`must be one of ${BLOCK_SIZES.join(', ')}`);
  return n;
}

/** Seconds since the epoch, given as an integer or as an ISO 8601 date. */
export function parseTimestamp(v: string): number {
  if (/^\d+$/.test(v)) {
    const n = Number(v);
    if (Number.isSafeInteger(n)) return n;
  } else if (/^\d{4}-\d{2}-\d{2}/.test(v)) {
    const ms = Date.parse(v);
    if (!Number.isNaN(ms) && ms >= 0) return Math.floor(ms / 1000);
  }
  throw new InvalidArgumentError('expected seconds since the epoch or an ISO 8601 date');
}

export function parseUuid(v: string): string {
  const s = v.toLowerCase();
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(s))
    throw new InvalidArgumentError('expected a UUID like 01234567-89ab-cdef-0123-456789abcdef');
  return s;
}

/** An --xattr-inode-digest name: any 1..255-byte name, split by mkfs (user./trusted./... or a hidden one). */
export function parseDigestNameOption(v: string): string {
  if (v.length === 0 || v.includes('\0') || Buffer.byteLength(v) > 255)
    throw new InvalidArgumentError('expected an xattr name of 1..255 bytes, like erofs.fingerprint.v1 or trusted.fp');
  return v;
}

/**
 * Options whose value is optional the getopt way (only `--opt=VALUE` gives one), as mkfs.erofs
 * takes them. A bare one becomes `--opt=DEFAULT`, so it never swallows the next argument.
 */
const GETOPT_OPTIONAL: Record<string, string> = { '--xattr-inode-digest': 'erofs.fingerprint.v1' };
export function expandGetoptOptional(argv: readonly string[]): string[] {
  return argv.map((a) => (Object.hasOwn(GETOPT_OPTIONAL, a) ? `${a}=${GETOPT_OPTIONAL[a]}` : a));
}

export function parsePositiveInt(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n <= 0)
    throw new InvalidArgumentError('expected a positive integer');
  return n;
}

/** A container platform: os/arch[/variant], as in `docker --platform`. */
export function parsePlatform(v: string): string {
  if (!/^[a-z0-9_-]+\/[a-z0-9_-]+(?:\/[a-z0-9_.-]+)?$/i.test(v))
    throw new InvalidArgumentError('expected os/arch[/variant], e.g. linux/amd64 or linux/arm64/v8');
  return v;
}
