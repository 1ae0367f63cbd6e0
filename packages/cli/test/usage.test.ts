// The CLI's contract at its edges: help for every command, and bad usage or bad input ending in
// exactly one `ishare: ...` line and exit 2 (never a stack trace).
import test from 'ava';
import { closeSync, openSync, readFileSync, writeFileSync, ftruncateSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { tempDir, removeDir, seededBytes, hasCommand } from '../../../test/helpers/trees.ts';
import { BIN, REPO, ishare, isOneErrorLine, mkfsErofs } from './helpers/run.ts';

const COMMANDS = ['mkfs', 'ls', 'cat', 'extract', 'inspect', 'demo'];

let dir = '';
let goodImage = '';
test.before(() => {
  dir = tempDir('ishare-cli-usage-');
  const src = join(dir, 'src');
  mkdirSync(join(src, 'sub'), { recursive: true });
  writeFileSync(join(src, 'hello.txt'), 'hello\n');
  writeFileSync(join(src, 'sub', 'data.bin'), seededBytes(50_000, 7));
  goodImage = join(dir, 'good.img');
  mkfsErofs(goodImage, src);
});
test.after.always(() => removeDir(dir));

test('ishare --help lists every command and exits 0', async (t) => {
  const r = await ishare(['--help']);
  t.is(r.status, 0, r.stderr);
  for (const c of COMMANDS) t.regex(r.text, new RegExp(`^\\s+${c}\\b`, 'm'));
});

for (const cmd of COMMANDS) {
  test(`ishare ${cmd} --help exits 0 with usage`, async (t) => {
    const r = await ishare([cmd, '--help']);
    t.is(r.status, 0, r.stderr);
    t.regex(r.text, new RegExp(`^Usage: ishare ${cmd}`, 'm'));
    t.is(r.stderr, '');
  });
}

test('ishare help ls works like ls --help', async (t) => {
  const r = await ishare(['help', 'ls']);
  t.is(r.status, 0);
  t.regex(r.text, /^Usage: ishare ls/m);
});

test('no command: usage on stderr, exit 2', async (t) => {
  const r = await ishare([]);
  t.is(r.status, 2);
  t.regex(r.stderr, /Usage: ishare/);
});

function badInput(title: string, args: () => string[], message?: RegExp): void {
  test(`bad input exits 2 with one line: ${title}`, async (t) => {
    const r = await ishare(args());
    t.is(r.status, 2, `stdout: ${r.text}\nstderr: ${r.stderr}`);
    t.true(isOneErrorLine(r.stderr), r.stderr);
    t.false(r.stderr.includes('    at '), r.stderr);
    if (message) t.regex(r.stderr, message);
  });
}

badInput('unknown command', () => ['frobnicate'], /^ishare: unknown command 'frobnicate'/);
badInput('unknown option', () => ['ls', '--nope', goodImage], /unknown option/);
badInput('missing argument', () => ['cat', goodImage], /missing required argument/);
badInput('too many arguments', () => ['inspect', goodImage, 'extra'], /too many arguments/);
badInput('missing image (inspect)', () => ['inspect', join(dir, 'nope.img')], /nope\.img: no such file/);
badInput('missing image (ls)', () => ['ls', join(dir, 'nope.img')], /no such file/);
badInput('missing image (cat)', () => ['cat', join(dir, 'nope.img'), '/x'], /no such file/);
badInput('missing image (extract)', () => ['extract', join(dir, 'nope.img'), join(dir, 'never')], /no such file/);
badInput('a directory as image', () => ['inspect', dir], /is a directory/);
badInput('not an image', () => {
  const p = join(dir, 'random.img');
  writeFileSync(p, seededBytes(8192, 3));
  return ['inspect', p];
});
badInput('empty file as image', () => {
  const p = join(dir, 'empty.img');
  writeFileSync(p, '');
  return ['ls', p];
});
badInput('truncated image', () => {
  const p = join(dir, 'truncated.img');
  writeFileSync(p, readFileSync(goodImage).subarray(0, 1100));
  return ['ls', '-R', p];
});
badInput(
  'block size out of range',
  () => ['mkfs', '--block-size', '3000', join(dir, 'o.img'), join(dir, 'src')],
  /--block-size.*3000/,
);
badInput(
  'block size not a number',
  () => ['mkfs', '--block-size', 'big', join(dir, 'o.img'), join(dir, 'src')],
  /--block-size/,
);
badInput('bad uuid', () => ['mkfs', '--uuid', 'xyz', join(dir, 'o.img'), join(dir, 'src')], /--uuid/);
badInput(
  'bad timestamp',
  () => ['mkfs', '--timestamp', 'yesterday', join(dir, 'o.img'), join(dir, 'src')],
  /--timestamp/,
);
badInput('mkfs source missing', () => ['mkfs', join(dir, 'o.img'), join(dir, 'no-such-src')], /no-such-src/);
badInput('path not in image', () => ['cat', goodImage, '/no/such/file']);
badInput('cat a directory', () => ['cat', goodImage, '/sub'], /is a directory/);
badInput('ls of a missing path', () => ['ls', goodImage, '/nope']);
badInput(
  'extract into a non-empty dir',
  () => {
    const d = join(dir, 'occupied');
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'x'), 'x');
    return ['extract', goodImage, d];
  },
  /not empty/,
);

test('a truncated data area fails cleanly on every command that reads data', async (t) => {
  // Superblock and metadata intact, file data cut off: the failure surfaces while reading data.
  const p = join(dir, 'cut-data.img');
  writeFileSync(p, readFileSync(goodImage));
  const fd = openSync(p, 'r+');
  ftruncateSync(fd, 4096 * 2);
  closeSync(fd);
  for (const args of [
    ['cat', p, '/sub/data.bin'],
    ['extract', p, join(dir, 'cut-out')],
  ]) {
    const r = await ishare(args);
    if (r.status === 0) {
      t.log(`${args[0]}: the image still read fine after truncation; nothing to check`);
      continue;
    }
    t.is(r.status, 2, r.stderr);
    t.true(isOneErrorLine(r.stderr), r.stderr);
  }
});

test('the stack appears only with ISHARE_DEBUG=1', async (t) => {
  const p = join(dir, 'random2.img');
  writeFileSync(p, seededBytes(8192, 5));
  const quiet = await ishare(['inspect', p]);
  t.is(quiet.status, 2);
  t.true(isOneErrorLine(quiet.stderr), quiet.stderr);
  const loud = await ishare(['inspect', p], { ISHARE_DEBUG: '1' });
  t.is(loud.status, 2);
  t.regex(loud.stderr, /^ishare: /);
  t.regex(loud.stderr, /\n\s+at /, 'ISHARE_DEBUG=1 shows the stack');
});

test('output into a closed pipe (| head) exits quietly', async (t) => {
  if (!hasCommand('bash')) {
    t.log('skipped: bash not available');
    t.pass();
    return;
  }
  // A listing long enough to overflow the pipe buffer after head has gone.
  const src = join(dir, 'many');
  mkdirSync(src, { recursive: true });
  for (let i = 0; i < 3000; i++) writeFileSync(join(src, `file-${i}-${'x'.repeat(60)}`), String(i));
  const img = join(dir, 'many.img');
  mkfsErofs(img, src);
  const r = spawnSync(
    'bash',
    ['-c', `set -o pipefail; node "${BIN}" ls "${img}" | head -n 1; echo "status=\${PIPESTATUS[0]}" >&2`],
    { cwd: REPO, encoding: 'utf8' },
  );
  t.regex(r.stdout, /file-/);
  t.regex(r.stderr, /status=0/);
  t.notRegex(r.stderr, /EPIPE|Error|at /, r.stderr);
});
