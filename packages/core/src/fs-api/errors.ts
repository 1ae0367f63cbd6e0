// Errors shaped as Node's fs makes them: an Error whose message is "CODE: description, syscall 'path'",
// with `code`, a negative `errno`, `syscall` and (when the call names one) `path`. The descriptions are
// libuv's (uv_strerror), which is what Node prints.
import { constants } from 'node:os';
import { isErofsError } from '../erofs/errors.ts';

/** The error codes this API raises. */
export type FsErrorCode =
  'ENOENT' | 'ENOTDIR' | 'EISDIR' | 'ELOOP' | 'EINVAL' | 'EIO' | 'ENOMEM' | 'EBADF' | 'EROFS' | 'EACCES' | 'ENODATA';

const DESCRIPTION: Record<FsErrorCode, string> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'not a directory',
  EISDIR: 'illegal operation on a directory',
  ELOOP: 'too many symbolic links encountered',
  EINVAL: 'invalid argument',
  EIO: 'i/o error',
  ENOMEM: 'not enough memory',
  EBADF: 'bad file descriptor',
  EROFS: 'read-only file system',
  EACCES: 'permission denied',
  ENODATA: 'no data available',
};

/** What Node's fs errors carry (NodeJS.ErrnoException with the fields always set but `path`). */
export interface FsError extends Error {
  code: FsErrorCode;
  errno: number;
  syscall: string;
  path?: string;
}

/** A Node-shaped fs error: `fsError('ENOENT', 'open', '/x')` reads "ENOENT: no such file or directory, open '/x'". */
export function fsError(code: FsErrorCode, syscall: string, path?: string, cause?: unknown): FsError {
  const where = path === undefined ? syscall : `${syscall} '${path}'`;
  const e = new Error(
    `${code}: ${DESCRIPTION[code]}, ${where}`,
    cause === undefined ? undefined : { cause },
  ) as FsError;
  e.errno = -(constants.errno as Record<string, number>)[code];
  e.code = code;
  e.syscall = syscall;
  if (path !== undefined) e.path = path;
  return e;
}

/**
 * The Node error for a failure of the reader or the kernel model. Path-walk errors keep their errno;
 * a damaged image (bad magic, truncation, corruption, checksum) or a feature the reader lacks is EIO,
 * as a read from a damaged disk is, with the reader's own error as `cause`.
 */
export function toFsError(e: unknown, syscall: string, path?: string): unknown {
  if (!isErofsError(e)) return e;
  switch (e.code) {
    case 'ENOENT':
    case 'ENOTDIR':
    case 'EISDIR':
    case 'ELOOP':
    case 'EINVAL':
    case 'EIO':
    case 'ENOMEM':
      return fsError(e.code, syscall, path, e);
    default:
      return fsError('EIO', syscall, path, e);
  }
}

/** Node's ERR_OUT_OF_RANGE (a RangeError), as createReadStream throws for a bad start or end. */
export function outOfRange(name: string, range: string, received: unknown): RangeError {
  const e = new RangeError(`The value of "${name}" is out of range. It must be ${range}. Received ${String(received)}`);
  (e as RangeError & { code: string }).code = 'ERR_OUT_OF_RANGE';
  return e;
}

/** Node's ERR_INVALID_ARG_VALUE (a TypeError) for an option this API does not take. */
export function invalidArg(name: string, value: unknown, reason: string): TypeError {
  const e = new TypeError(`The argument '${name}' ${reason}. Received ${JSON.stringify(value)}`);
  (e as TypeError & { code: string }).code = 'ERR_INVALID_ARG_VALUE';
  return e;
}
