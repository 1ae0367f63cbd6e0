// Typed errors for everything that reads or writes an EROFS image.
// One line, names the problem and (when known) the byte offset in the image, so the CLI can print
// `ishare: <message>` and exit 2 without a stack trace.

export type ErofsErrorCode =
  | 'EBADMAGIC' // not an EROFS image
  | 'ETRUNCATED' // a structure or data lies past the end of the image
  | 'ECORRUPT' // a field is out of range / inconsistent (nid, size, chunk index, dirent, loop...)
  | 'ECHECKSUM' // superblock checksum mismatch
  | 'EUNSUPPORTED' // a valid feature we do not implement (unknown incompat feature, compressed inode, device table)
  | 'ENOENT' // path not found
  | 'ENOTDIR' // path component is not a directory
  | 'EISDIR' // expected a non-directory
  | 'ELOOP' // symlink loop / directory cycle
  | 'EINVAL' // bad argument (wrong block size, bad option)
  | 'EIO' // device read failed
  | 'ENODEV' // an extra device of a multi-device image is missing or is not the one the table names
  | 'ENOMEM'; // page pool exhausted (every frame pinned)

/**
 * Messages quote on-disk names and symlink targets, which may hold any byte but '/' and NUL: control
 * characters and Unicode line separators are escaped so a message always stays on one line.
 */
function oneLine(s: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what this escapes
  return s.replace(/[\x00-\x1f\x7f\x85\u2028\u2029]/g, (c) => {
    const n = c.charCodeAt(0);
    return n > 0xff ? `\\u${n.toString(16)}` : `\\x${n.toString(16).padStart(2, '0')}`;
  });
}

export class ErofsError extends Error {
  readonly code: ErofsErrorCode;
  /** Byte offset in the image the problem was found at, when it is known. */
  readonly offset: number | undefined;
  constructor(code: ErofsErrorCode, message: string, offset?: number) {
    super(oneLine(offset === undefined ? message : `${message} (at offset ${offset})`));
    this.name = 'ErofsError';
    this.code = code;
    this.offset = offset;
  }
}

export function isErofsError(e: unknown): e is ErofsError {
  return e instanceof ErofsError;
}
