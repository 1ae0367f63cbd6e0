// The CLI as the README tells people to run it: `pnpm exec ishare` / `npx ishare` (stdout is ishare's
// alone), `pnpm ishare` (relative paths from the caller's directory), output into a full disk or a
// closed pipe, help wrapped by the parser, one table style.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hasCommand, removeDir, seededBytes, tempDir } from '../../../test/helpers/trees.ts';
import { BIN, REPO, ishare, isOneErrorLine } from './helpers/run.ts';

let dir = '';
let image = '';
test.before(async () => {
  dir = tempDir('ishare-cli-people-');
  const src = join(dir, 'src');
  mkdirSync(src);
  writeFileSync(join(src, 'big'), seededBytes(2_000_000, 5));
  writeFileSync(join(src, 'package.json'), '{"name":"x"}\n');
  image = join(dir, 'app.img');
  const r = await ishare(['mkfs', image, src]);
  if (r.status !== 0) throw new Error(r.stderr);
});
test.after.always(() => removeDir(dir));

const PNPM = ['-y', 'pnpm@10'];
function sh(
  script: string,
  cwd: string,
  env: NodeJS.ProcessEnv = {},
): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('bash', ['-c', script], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, ISHARE_DEBUG: '', ...env },
    timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("pnpm exec ishare and npx ishare from a subdirectory: stdout is the file, paths are the caller's", (t) => {
  const sub = join(REPO, 'packages', 'cli', 'test');
  const rel = join('..', '..', '..', 'README.md');
  for (const runner of [`npx ${PNPM.join(' ')} exec ishare`, 'npx ishare']) {
    const r = sh(`${runner} cat "${image}" /package.json`, sub);
    t.is(r.status, 0, `${runner}: ${r.stderr}`);
    t.is(r.stdout, '{"name":"x"}\n', `${runner}: nothing but the file on stdout`);
    // A relative path resolves from where the user stands (README.md three levels up is not an image).
    const e = sh(`${runner} inspect ${rel}`, sub);
    t.is(e.status, 2, runner);
    t.regex(e.stderr, /README\.md: not an EROFS image/, runner);
    t.notRegex(e.stderr + e.stdout, /ELIFECYCLE|ishare-workspace@/, runner);
  }
});

test('pnpm ishare (the workspace script) resolves relative paths from INIT_CWD, not the repository root', (t) => {
  const sub = join(REPO, 'packages', 'cli');
  // This file exists from packages/cli, not from the repository root (there: "no such file").
  const r = sh(`npx ${PNPM.join(' ')} --silent ishare inspect test/run-as-people.test.ts`, sub);
  t.is(r.status, 2);
  t.regex(r.stderr, /^ishare: test\/run-as-people\.test\.ts: not an EROFS image/m);
  const ok = sh(`npx ${PNPM.join(' ')} --silent ishare cat "${image}" package.json`, sub);
  t.is(ok.status, 0, ok.stderr);
  t.is(ok.stdout, '{"name":"x"}\n');
});

test('stdout into a full disk: one line, exit 2', (t) => {
  if (!hasCommand('bash')) {
    t.pass();
    return;
  }
  for (const args of [
    ['cat', image, '/big'],
    ['inspect', image, '--json'],
    ['ls', '-R', image],
  ]) {
    const r = sh(`node "${BIN}" ${args.map((a) => `"${a}"`).join(' ')} > /dev/full`, REPO);
    t.is(r.status, 2, `${args[0]}: ${r.stderr}`);
    t.true(isOneErrorLine(r.stderr), r.stderr);
    // strerror(ENOSPC)'s words, as every error line says them.
    t.regex(r.stderr, /cannot write to stdout: No space left on device/);
  }
});

test('stdout into a pipe closed after one byte: quiet, status 0 (as cat | head -c1)', (t) => {
  const r = sh(
    `set -o pipefail; node "${BIN}" cat "${image}" /big | head -c1 > /dev/null; echo "status=\${PIPESTATUS[0]}" >&2`,
    REPO,
  );
  t.regex(r.stderr, /status=0/);
  t.notRegex(r.stderr, /EPIPE|Error|at |ishare:/, r.stderr);
});

test('help is wrapped by the parser: no line over 80 columns, for every command', async (t) => {
  const top = await ishare(['--help']);
  const commands = [...top.text.matchAll(/^ {2}([a-z]+)\b/gm)].map((m) => m[1]).filter((c) => c !== 'help');
  t.true(commands.includes('fsck') && commands.includes('compare'));
  for (const c of ['', ...commands]) {
    const r = await ishare(c === '' ? ['--help'] : [c, '--help']);
    t.is(r.status, 0);
    const long = r.text.split('\n').filter((l) => l.length > 80);
    t.deepEqual(long, [], `ishare ${c} --help`);
  }
});

test('one table style: inspect, inspect --path and read draw the same ASCII borders', async (t) => {
  for (const args of [
    ['inspect', image],
    ['inspect', image, '--path', '/big'],
    ['read', image, '--workers', '1'],
  ]) {
    const r = await ishare(args);
    t.is(r.status, 0, r.stderr);
    const borders = r.text.split('\n').filter((l) => /^[+|]/.test(l));
    t.true(borders.length > 0, args.join(' '));
    t.true(
      borders.every((l) => /^\+[-+]+\+$/.test(l) || /^\|.*\|$/.test(l)),
      `${args[0]}: ${borders.find((l) => !/^\+[-+]+\+$/.test(l) && !/^\|.*\|$/.test(l))}`,
    );
    t.notRegex(r.text, /[┌─│└┐┘├┤┼]/, 'no box-drawing characters');
  }
});
