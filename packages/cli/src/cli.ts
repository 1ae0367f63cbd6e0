// Runs a commander program with the CLI's error contract: one `ishare: ...` line and an exit code,
// never a stack trace unless ISHARE_DEBUG=1; a reader that closes the pipe early is not an error.
import { Command } from 'commander';
import { classify, isEpipe } from './errors.ts';
import { expandGetoptOptional } from './options.ts';

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
  return program;
}

function quietOnEpipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (e: unknown) => {
    // `ishare ls ... | head`: the reader has what it wanted; leave without noise.
    if (isEpipe(e)) process.exit(process.exitCode ?? 0);
    throw e;
  });
}

/** Parse and run; resolves to the exit code (also stored in process.exitCode). */
export async function runCli(commands: readonly Register[], argv: readonly string[]): Promise<number> {
  quietOnEpipe(process.stdout);
  quietOnEpipe(process.stderr);
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
