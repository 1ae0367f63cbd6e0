// Runs a commander program with the CLI's error contract: one `ishare: ...` line and an exit code,
// never a stack trace unless ISHARE_DEBUG=1; a reader that closes the pipe early is not an error.
import { Command } from 'commander';
import { classify, errnoText, EXIT_USAGE, isEpipe } from './errors.ts';
import { expandGetoptOptional } from './options.ts';
import { withDeviceOption } from './devices.ts';

/** Commands that open EROFS images given on the command line (--device IMG=PATH). */
const DEVICE_COMMANDS = new Set(['ls', 'cat', 'extract', 'inspect', 'fsck', 'read', 'compare']);

/** One command = one module exporting `register`, so adding a command is one file + one line. */
export type Register = (program: Command) => void;

export function buildProgram(commands: readonly Register[]): Command {
  const program = new Command('ishare');
  program
    .description('EROFS images with inode page-cache sharing, in user space')
    .version('0.1.0', '-V, --version')
    // Subcommands created with .command() inherit both settings below.
    .exitOverride()
    .configureOutput({ outputError: () => {} })
    .showSuggestionAfterError(true)
    .helpCommand(true);
  for (const register of commands) register(program);
  // Every command that opens images takes their extra devices the same way.
  for (const c of program.commands) if (DEVICE_COMMANDS.has(c.name())) withDeviceOption(c);
  return program;
}

/**
 * A failed write to stdout ends the run. EPIPE (`ishare ls ... | head`): the reader has what it
 * wanted, so leave quietly with the status so far, as `cat`, `git log` or `yes` do when the pipe
 * closes (they die of SIGPIPE without a word) — `set -o pipefail` scripts keep working. Anything else
 * (`> /dev/full`: ENOSPC, EIO, EFBIG...) means output was lost: one line, exit 2.
 */
function guardStdout(): void {
  process.stdout.on('error', (e: unknown) => {
    if (isEpipe(e)) process.exit(process.exitCode ?? 0);
    const code = (e as { code?: unknown }).code;
    const why = typeof code === 'string' ? errnoText(code) : e instanceof Error ? e.message : String(e);
    // stderr may be gone too; nothing more can be said then.
    try {
      process.stderr.write(`ishare: cannot write to stdout: ${why}\n`);
    } catch {
      /* nothing to tell it to */
    }
    process.exit(EXIT_USAGE);
  });
  // An error message that cannot be written has no one to read it either.
  process.stderr.on('error', () => process.exit(process.exitCode ?? EXIT_USAGE));
}

/**
 * Relative paths are the user's. Under the workspace's own package scripts (`pnpm ishare ...`,
 * `pnpm start`) pnpm runs us from the repository root and keeps the caller's directory in INIT_CWD;
 * `pnpm exec ishare` and `npx ishare` already run where the user is.
 */
export function userDirectory(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const init = env.INIT_CWD;
  if (init === undefined || init === '' || env.npm_lifecycle_event === undefined) return undefined;
  if (env.npm_package_name !== 'ishare-workspace') return undefined;
  return init;
}

/** Parse and run; resolves to the exit code (also stored in process.exitCode). */
export async function runCli(commands: readonly Register[], argv: readonly string[]): Promise<number> {
  guardStdout();
  const home = userDirectory();
  if (home !== undefined && home !== process.cwd()) process.chdir(home);
  const debug = process.env.ISHARE_DEBUG === '1';
  let code = 0;
  try {
    await buildProgram(commands).parseAsync(expandGetoptOptional(argv));
  } catch (e) {
    if (isEpipe(e)) process.exit(0);
    const verdict = classify(e, debug);
    if (verdict.message !== undefined) process.stderr.write(`ishare: ${verdict.message}\n`);
    if (verdict.stack !== undefined) process.stderr.write(`${verdict.stack}\n`);
    code = verdict.exitCode;
  }
  process.exitCode = code;
  return code;
}
