// The generic layer's errors: an errno and one line, as the kernel's vfs returns -ENOENT, -EINVAL, ...
// vfs/ throws only these (a filesystem throws its own typed errors, e.g. erofs/errors.ts's ErofsError).
// The message stays on one line whatever a path holds, so a CLI prints `ishare: <message>`, exit 2.

export type Errno =
  | 'ENOENT' // no such mount, or the mount is going away
  | 'EINVAL' // bad argument: a closed file, a bad range, a file too large for the page cache
  | 'EIO' // a read or an unmount that cannot complete
  | 'ENOMEM' // the inode table or the page pool is exhausted
  | 'ENOTDIR' // a path runs through something that is not a directory (overlay lookup)
  | 'EISDIR' // a directory opened as a file (overlay lookup)
  | 'ELOOP'; // too many symbolic links (overlay lookup)

/** Control characters and Unicode line separators escaped, so a message always stays on one line. */
function oneLine(s: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what this escapes
  return s.replace(/[\x00-\x1f\x7f\x85\u2028\u2029]/g, (c) => {
    const n = c.charCodeAt(0);
    return n > 0xff ? `\\u${n.toString(16)}` : `\\x${n.toString(16).padStart(2, '0')}`;
  });
}

export class VfsError extends Error {
  readonly code: Errno;
  constructor(code: Errno, message: string) {
    super(oneLine(message));
    this.name = 'VfsError';
    this.code = code;
  }
}
