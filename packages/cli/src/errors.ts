// How the CLI turns any failure into an exit code and exactly one stderr line.
// Exit codes are part of the contract (DESIGN.md): 0 ok, 1 a check failed, 2 bad usage or bad input.
// Stack traces are for developers only (ISHARE_DEBUG=1), never for users.
import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
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

// One wording per errno, everywhere in the CLI: exactly what glibc's strerror(3) says (`cat`, `ls`, `tar`
// say it the same way: `PATH: No such file or directory`).
const ERRNO_TEXT: Record<string, string> = {
  ENOENT: 'No such file or directory',
  ENOTDIR: 'Not a directory',
  EISDIR: 'Is a directory',
  EACCES: 'Permission denied',
  EPERM: 'Operation not permitted',
  EEXIST: 'File exists',
  ENOTEMPTY: 'Directory not empty',
  ELOOP: 'Too many levels of symbolic links',
  ENAMETOOLONG: 'File name too long',
  EROFS: 'Read-only file system',
  ENOSPC: 'No space left on device',
  EFBIG: 'File too large',
  EINVAL: 'Invalid argument',
  EIO: 'Input/output error',
  EPIPE: 'Broken pipe',
  EDQUOT: 'Disk quota exceeded',
  EMFILE: 'Too many open files',
  ENXIO: 'No such device or address',
};

/** strerror(3)'s text for an errno code (the code itself when we have no words for it). */
export function errnoText(code: string): string {
  return ERRNO_TEXT[code] ?? code;
}

/** The errno code of a thrown value, when it carries one (Node's system errors, our ErofsError). */
export function errnoOf(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && Object.hasOwn(ERRNO_TEXT, code) ? code : undefined;
}

/** A failed fs call on a path the user gave: `PATH: <strerror>`, or the error itself when it has no errno. */
export function fileError(path: string, e: unknown): Error {
  const code = errnoOf(e);
  if (code !== undefined) return pathError(path, code);
  return e instanceof Error ? e : new Error(String(e));
}

/**
 * A build from `input` failed: the reader's and writer's messages name the source by the absolute path
 * they opened, or not at all ("tar ends inside file data"). Say it with the path as the user typed it,
 * once, at the start — with several inputs on one command line the line names the one at fault.
 */
export function namingInput(input: string, e: unknown): unknown {
  if (!(e instanceof ErofsError || (e instanceof Error && e.name === 'ErofsError') || e instanceof UsageError))
    return e;
  let message = e.message;
  const absolute = new Set([resolve(input)]);
  try {
    absolute.add(realpathSync(input));
  } catch {
    /* gone meanwhile: the resolved path is all there is */
  }
  for (const abs of absolute) if (abs !== input) message = message.split(abs).join(input);
  if (!message.startsWith(`${input}: `) && !message.startsWith(`image ${input}`)) message = `${input}: ${message}`;
  return new UsageError(message);
}

/** `PATH: <strerror>` — the one form of a file-system error, PATH as the user typed it. */
export function pathError(path: string, code: string, more?: string): UsageError {
  return new UsageError(`${path}: ${errnoText(code)}${more !== undefined ? ` ${more}` : ''}`);
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
    const what = errnoText(e.code);
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
