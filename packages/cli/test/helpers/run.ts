// Run the CLI as a child process, capturing bytes and exit code: the prebuilt bundle of its sources
// (helpers/cli-bundle.ts: the same command without tsx's start-up), or the real bin/ishare.js for the
// tests of the entry itself (`ishareBin`, BIN) and for every test under ISHARE_TEST_BIN=1.
import { spawn, spawnSync } from 'node:child_process';
import { upstreamTool } from '../../../../test/helpers/erofs-utils.ts';
import { cliArgs } from './cli-bundle.ts';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
export const BIN = join(REPO, 'packages/cli/bin/ishare.js');

export interface RunResult {
  status: number | null;
  stdout: Buffer;
  stderr: string;
  text: string; // stdout as UTF-8
}

/** Run `ishare ARGS` in `cwd` (default: the repository), as a user would from a shell. */
export async function ishare(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
  cwd: string = REPO,
): Promise<RunResult> {
  return run(await cliArgs(BIN), args, env, cwd);
}

/** `ishare` through bin/ishare.js itself, always (tests of the entry: exit codes, signals, the re-exec). */
export function ishareBin(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
  cwd: string = REPO,
): Promise<RunResult> {
  return run([BIN], args, env, cwd);
}

function run(
  entry: readonly string[],
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  cwd: string,
): Promise<RunResult> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ISHARE_DEBUG: '', ...env };
  // Run from a shell in `cwd`, not as a pnpm script: under `npx ava` / `pnpm test` the caller's
  // npm_lifecycle_event and INIT_CWD would make the CLI resolve paths from where the test runner started.
  if (cwd !== REPO) for (const k of ['INIT_CWD', 'npm_lifecycle_event', 'npm_package_name']) delete childEnv[k];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...entry, ...args], {
      cwd,
      env: childEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (status) => {
      const stdout = Buffer.concat(out);
      resolve({ status, stdout, stderr: Buffer.concat(err).toString('utf8'), text: stdout.toString('utf8') });
    });
  });
}

/** Parse `--json` output, failing with the CLI's stderr in the message when it is not JSON. */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the shape it expects
export function json<T>(r: RunResult): T {
  try {
    return JSON.parse(r.text) as T;
  } catch {
    throw new Error(`not JSON (exit ${r.status}): ${r.text.slice(0, 200)} stderr: ${r.stderr}`);
  }
}

/** Run mkfs.erofs (erofs-utils) — the reference writer. */
export function mkfsErofs(out: string, src: string, extra: readonly string[] = []): void {
  const r = spawnSync('mkfs.erofs', [...extra, out, src], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mkfs.erofs failed: ${r.stderr}`);
}

/**
 * dump.erofs: Debian's 1.5, or upstream 1.9.3 for images 1.5 cannot read (fingerprinted images carry
 * INCOMPAT_XATTR_PREFIXES, as mkfs.erofs --xattr-inode-digest writes them).
 */
export function dumpErofs(args: readonly string[]): string {
  let r = spawnSync('dump.erofs', args, { encoding: 'utf8' });
  if (r.status !== 0 && /unidentified incompatible feature/.test(r.stderr))
    r = spawnSync(upstreamTool('dump.erofs'), args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`dump.erofs ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

/** The stderr contract for bad input: exactly one line, `ishare: ...`, no stack frames. */
export function isOneErrorLine(stderr: string): boolean {
  const lines = stderr.split('\n').filter((l) => l !== '');
  return lines.length === 1 && lines[0].startsWith('ishare: ') && !/\n\s+at /.test(stderr);
}
