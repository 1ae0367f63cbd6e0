// How the CLI turns any failure into an exit code and exactly one stderr line.
// Exit codes are part of the contract (DESIGN.md): 0 ok, 1 a check failed, 2 bad usage or bad input.
// Stack traces are for developers only (ISHARE_DEBUG=1), never for users.
import { CommanderError } from 'commander';
import { ErofsError, VfsError } from './core.ts';

export const EXIT_OK = 0;
export const EXIT_CHECK_FAILED = 1;
export const EXIT_USAGE = 2;

/** Bad usage or bad input that the user can fix: missing file, wrong option value, not a directory... */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The command ran but found something wrong (a verification mismatch): exit 1. */
export class CheckFailed extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckFailed';
  }
}

// System errors that mean "the input you gave me is not usable", as opposed to a bug of ours.
const INPUT_ERRNOS = new Set([
  'ENOENT',
  'ENOTDIR',
  'EISDIR',
  'EACCES',
  'EPERM',
  'EEXIST',
  'ENOTEMPTY',
  'ELOOP',
  'ENAMETOOLONG',
  'EROFS',
  'ENOSPC',
  'EFBIG',
  'EINVAL',
]);

const ERRNO_TEXT: Record<string, string> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EEXIST: 'already exists',
  ENOTEMPTY: 'directory not empty',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'file name too long',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  EFBIG: 'file too large',
  EINVAL: 'invalid argument',
  EIO: 'input/output error',
  EPIPE: 'broken pipe',
  EDQUOT: 'disk quota exceeded',
};

/** strerror-like text for an errno code (the code itself when we have no words for it). */
export function errnoText(code: string): string {
  return ERRNO_TEXT[code] ?? code;
}

interface SystemError extends Error {
  code: string;
  path?: string;
  syscall?: string;
}

function isSystemError(e: unknown): e is SystemError {
  return (
    e instanceof Error &&
    typeof (e as { code?: unknown }).code === 'string' &&
    typeof (e as { syscall?: unknown }).syscall === 'string'
  );
}

/** First line only: the contract is one line on stderr. */
function oneLine(s: string): string {
  const line = s.split('\n').find((l) => l.trim() !== '') ?? s;
  return line.trim();
}

export interface Verdict {
  exitCode: number;
  /** The line to print after `ishare: `, or undefined to print nothing (help, version). */
  message: string | undefined;
  /** Print the stack as well (unexpected errors under ISHARE_DEBUG=1). */
  stack: string | undefined;
}

/** Classify a thrown value. Pure, so it can be tested without spawning. */
export function classify(e: unknown, debug: boolean): Verdict {
  if (e instanceof CommanderError) {
    // Help and version "errors" are commander's way of stopping after printing; not failures.
    if (e.exitCode === 0 || e.code === 'commander.helpDisplayed' || e.code === 'commander.version') {
      return { exitCode: EXIT_OK, message: undefined, stack: undefined };
    }
    if (e.code === 'commander.help' || e.code === 'commander.executeSubCommandAsync') {
      return { exitCode: EXIT_USAGE, message: undefined, stack: undefined };
    }
    // Commander puts suggestions ("Did you mean ...?") on a second line; keep the contract of one line.
    const text = e.message
      .replace(/^error:\s*/, '')
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .join(' ');
    return { exitCode: EXIT_USAGE, message: text, stack: undefined };
  }
  const stackIf = (err: Error): string | undefined => (debug ? err.stack : undefined);
  if (
    e instanceof ErofsError ||
    e instanceof VfsError ||
    e instanceof UsageError ||
    (e instanceof Error && (e.name === 'ErofsError' || e.name === 'VfsError'))
  ) {
    return { exitCode: EXIT_USAGE, message: oneLine(e.message), stack: stackIf(e) };
  }
  if (e instanceof CheckFailed) return { exitCode: EXIT_CHECK_FAILED, message: oneLine(e.message), stack: stackIf(e) };
  if (isSystemError(e) && INPUT_ERRNOS.has(e.code)) {
    const what = ERRNO_TEXT[e.code] ?? e.code;
    return { exitCode: EXIT_USAGE, message: e.path ? `${e.path}: ${what}` : oneLine(e.message), stack: stackIf(e) };
  }
  const err = e instanceof Error ? e : new Error(String(e));
  return {
    exitCode: EXIT_CHECK_FAILED,
    message: `internal error: ${oneLine(err.message || err.name)}`,
    stack: stackIf(err),
  };
}

export function isEpipe(e: unknown): boolean {
  return e instanceof Error && (e as { code?: unknown }).code === 'EPIPE';
}
