// The CLI's contract at its edges: help for every command, and bad usage or bad input ending in
// exactly one `ishare: ...` line and exit 2 (never a stack trace).
import test from 'ava';
import { closeSync, openSync, readFileSync, writeFileSync, ftruncateSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { tempDir, removeDir, seededBytes, hasCommand } from '../../../test/helpers/trees.ts';
import { BIN, REPO, ishare, ishareBin, isOneErrorLine, mkfsErofs } from './helpers/run.ts';
import { useRealBin } from './helpers/cli-bundle.ts';

const COMMANDS = [
  'mkfs',
  'ls',
  'cat',
  'extract',
  'inspect',
  'fsck',
  'demo',
  'read',
  'compare',
  'stress',
  'fuzz',
  'cache',
  'host',
];

let dir = '';
let goodImage = '';
/** strerror(3)'s words, taken from coreutils run on the same kind of mistake (C locale), never typed here. */
const strerror = { ENOENT: '', EISDIR: '', ENOTDIR: '', ENOTEMPTY: '' };

function systemSays(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { cwd: dir, encoding: 'utf8', env: { ...process.env, LC_ALL: 'C', LANG: 'C' } });
  const text = r.stderr.trim().split(': ').pop() ?? '';
  if (r.status === 0 || text === '') throw new Error(`${cmd} ${args.join(' ')} did not fail as expected: ${r.stderr}`);
  return text;
}

test.before(() => {
  dir = tempDir('ishare-cli-usage-');
  const src = join(dir, 'src');
  mkdirSync(join(src, 'sub'), { recursive: true });
  writeFileSync(join(src, 'hello.txt'), 'hello\n');
  writeFileSync(join(src, 'sub', 'data.bin'), seededBytes(50_000, 7));
  goodImage = join(dir, 'good.img');
  mkfsErofs(goodImage, src);
  // Bad inputs of every kind, side by side, named relative to `dir` (where the CLI runs in the walk below).
  mkdirSync(join(dir, 'adir'));
  mkdirSync(join(dir, 'full'));
  writeFileSync(join(dir, 'full', 'x'), 'x');
  writeFileSync(join(dir, 'afile'), 'not a directory\n');
  writeFileSync(join(dir, 'random.img'), seededBytes(8192, 3));
  writeFileSync(join(dir, 'truncated.img'), readFileSync(goodImage).subarray(0, 1100));
  writeFileSync(join(dir, 'empty.img'), '');
  const tar = spawnSync('tar', ['-cf', join(dir, 'good.tar'), '-C', src, '.']);
  if (tar.status !== 0) throw new Error(`tar failed: ${String(tar.stderr)}`);
  writeFileSync(join(dir, 'truncated.tar'), readFileSync(join(dir, 'good.tar')).subarray(0, 3000));
  writeFileSync(join(dir, 'truncated.tar.gz'), gzipSync(readFileSync(join(dir, 'good.tar'))).subarray(0, 200));
  strerror.ENOENT = systemSays('cat', ['nope.img']);
  strerror.EISDIR = systemSays('cat', ['adir']);
  strerror.ENOTDIR = systemSays('cat', ['afile/x']);
  strerror.ENOTEMPTY = systemSays('rmdir', ['full']);
});
test.after.always(() => removeDir(dir));

test('ishare --help lists every command and exits 0', async (t) => {
  const r = await ishareBin(['--help']);
  t.is(r.status, 0, r.stderr);
  for (const c of COMMANDS) t.regex(r.text, new RegExp(`^\\s+${c}\\b`, 'm'));
});

for (const cmd of COMMANDS) {
  test(`ishare ${cmd} --help exits 0 with usage and an example`, async (t) => {
    const r = await ishare([cmd, '--help']);
    t.is(r.status, 0, r.stderr);
    t.regex(r.text, new RegExp(`^Usage: ishare ${cmd}`, 'm'));
    t.regex(r.text, new RegExp(`^Examples?:\\n(\\s+.*\\n)*\\s+ishare ${cmd}\\b`, 'm'), 'an example of the command');
    t.is(r.stderr, '');
  });
}

test('cache --help says container images are cached too', async (t) => {
  const r = await ishare(['cache', '--help']);
  t.regex(r.text.replace(/\s+/g, ' '), /container images/);
});

test('ishare help ls works like ls --help', async (t) => {
  const r = await ishare(['help', 'ls']);
  t.is(r.status, 0);
  t.regex(r.text, /^Usage: ishare ls/m);
});

test('no command: usage on stderr, exit 2', async (t) => {
  const r = await ishareBin([]);
  t.is(r.status, 2);
  t.regex(r.stderr, /Usage: ishare/);
});

test("the tests' CLI bundle is bin/ishare.js's CLI: same bytes and exit code, help and errors", async (t) => {
  // Most tests run the prebuilt bundle of the CLI's sources (helpers/cli-bundle.ts); this checks it
  // against the real entry on help, a usage error, a file error, a listing and a read by two workers.
  if (useRealBin()) {
    t.log('ISHARE_TEST_BIN=1: every test runs bin/ishare.js; nothing to compare');
    t.pass();
    return;
  }
  for (const args of [
    ['stress', '--help'],
    ['ls', '--bogus', 'good.img'],
    ['cat', 'nope.img', '/x'],
    ['ls', '-l', 'good.img'],
  ]) {
    const [viaBin, viaBundle] = await Promise.all([ishareBin(args, {}, dir), ishare(args, {}, dir)]);
    const shown = `ishare ${args.join(' ')}`;
    t.is(viaBundle.status, viaBin.status, shown);
    t.is(viaBundle.text, viaBin.text, shown);
    t.is(viaBundle.stderr, viaBin.stderr, shown);
  }
  // A command that starts worker threads: under the bin they inherit tsx from the re-exec, under the
  // bundle their own entries register it. Timings differ run to run; what was read and cached may not.
  const args = ['read', 'good.img', '--workers', '2', '--json'];
  const [viaBin, viaBundle] = await Promise.all([ishareBin(args, {}, dir), ishare(args, {}, dir)]);
  t.is(viaBin.status, 0, viaBin.stderr);
  t.is(viaBundle.status, 0, viaBundle.stderr);
  t.is(viaBundle.stderr, viaBin.stderr);
  const pick = (text: string): unknown => {
    const d = JSON.parse(text) as Record<string, unknown>;
    return [d.workers, d.files, d.bytes, d.filePages, d.pageCacheBytes];
  };
  t.deepEqual(pick(viaBundle.text), pick(viaBin.text), 'read --workers 2: the same files, bytes and pages');
});

/**
 * The walk: every command's bad inputs, run from `dir` with paths as a user types them. Each must end
 * in exactly one stderr line `ishare: ...` (nothing before it: no status line, no progress in a pipe),
 * exit 2, no stack trace, nothing on stdout, the path exactly as typed (never made absolute), and
 * file-system errors in strerror's words. `line` gets the strerror table, filled by test.before.
 */
interface BadInput {
  readonly args: readonly string[];
  readonly line: (e: typeof strerror) => RegExp;
}
const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
/** `ishare: <PATH>: <strerror>` and nothing after it. */
const says = (path: string, text: string, after = ''): RegExp =>
  new RegExp(`^ishare: ${esc(path)}: ${esc(text)}${after}$`);
/** `ishare: <PATH>: ...`: the path first, as typed. */
const names = (path: string): RegExp => new RegExp(`^ishare: ${esc(path)}: \\S`);

const MISSING_ARGUMENT = /^ishare: missing required argument '\w+'$/;
const UNKNOWN_OPTION = /^ishare: unknown option '--bogus'/;
const BAD_INPUTS: Record<string, BadInput[]> = {
  mkfs: [
    { args: ['mkfs', 'o.img', 'nope'], line: (e) => says('nope', e.ENOENT) },
    { args: ['mkfs', 'o.img', 'afile'], line: () => names('afile') },
    { args: ['mkfs', 'o.img', 'truncated.tar'], line: () => names('truncated.tar') },
    { args: ['mkfs', 'o.img', 'truncated.tar.gz'], line: () => names('truncated.tar.gz') },
    { args: ['mkfs', 'nodir/o.img', 'src'], line: (e) => says('output nodir/o.img', e.ENOENT) },
    { args: ['mkfs', 'afile/o.img', 'src'], line: (e) => says('output afile/o.img', e.ENOTDIR) },
    { args: ['mkfs', 'adir', 'src'], line: (e) => says('output adir', e.EISDIR) },
    {
      args: ['mkfs', '--block-size', '3000', 'o.img', 'src'],
      line: () => /^ishare: option '--block-size.*'3000' is invalid/,
    },
    {
      args: ['mkfs', '--block-size', 'big', 'o.img', 'src'],
      line: () => /^ishare: option '--block-size.*'big' is invalid/,
    },
    { args: ['mkfs', '--uuid', 'xyz', 'o.img', 'src'], line: () => /^ishare: option '--uuid.*'xyz' is invalid/ },
    {
      args: ['mkfs', '--timestamp', 'yesterday', 'o.img', 'src'],
      line: () => /^ishare: option '--timestamp.*'yesterday'/,
    },
    { args: ['mkfs', '--bogus', 'o.img', 'src'], line: () => UNKNOWN_OPTION },
    { args: ['mkfs', 'o.img'], line: () => MISSING_ARGUMENT },
  ],
  ls: [
    { args: ['ls', 'nope.img'], line: (e) => says('nope.img', e.ENOENT) },
    { args: ['ls', 'adir'], line: (e) => says('adir', e.EISDIR) },
    { args: ['ls', 'truncated.img'], line: () => names('truncated.img') },
    { args: ['ls', 'good.img', 'nope'], line: (e) => says('good.img: /nope', e.ENOENT) },
    { args: ['ls', '--bogus', 'good.img'], line: () => UNKNOWN_OPTION },
    { args: ['ls'], line: () => MISSING_ARGUMENT },
  ],
  cat: [
    { args: ['cat', 'nope.img', '/x'], line: (e) => says('nope.img', e.ENOENT) },
    { args: ['cat', 'adir', '/x'], line: (e) => says('adir', e.EISDIR) },
    { args: ['cat', 'random.img', '/x'], line: () => names('random.img') },
    { args: ['cat', 'good.img', '/sub'], line: (e) => says('good.img: /sub', e.EISDIR) },
    { args: ['cat', 'good.img', '/no/such/file'], line: (e) => says('good.img: /no', e.ENOENT) },
    { args: ['cat', 'good.img', '/hello.txt/x'], line: (e) => says('good.img: /hello.txt', e.ENOTDIR, ' .*') },
    { args: ['cat', 'good.img'], line: () => MISSING_ARGUMENT },
  ],
  extract: [
    { args: ['extract', 'nope.img', 'out'], line: (e) => says('nope.img', e.ENOENT) },
    { args: ['extract', 'adir', 'out'], line: (e) => says('adir', e.EISDIR) },
    { args: ['extract', 'empty.img', 'out'], line: () => names('empty.img') },
    { args: ['extract', 'good.img', 'afile'], line: (e) => says('afile', e.ENOTDIR) },
    { args: ['extract', 'good.img', 'full'], line: (e) => says('full', e.ENOTEMPTY, ' \\(use --force.*\\)') },
    { args: ['extract', 'good.img'], line: () => MISSING_ARGUMENT },
  ],
  inspect: [
    { args: ['inspect', 'nope.img'], line: (e) => says('nope.img', e.ENOENT) },
    { args: ['inspect', 'adir'], line: (e) => says('adir', e.EISDIR) },
    { args: ['inspect', 'random.img'], line: () => names('random.img') },
    { args: ['inspect', 'truncated.img'], line: () => names('truncated.img') },
    { args: ['inspect', '--path', 'nope', 'good.img'], line: (e) => says('good.img: /nope', e.ENOENT) },
    { args: ['inspect', 'good.img', 'extra'], line: () => /^ishare: too many arguments/ },
    { args: ['inspect'], line: () => MISSING_ARGUMENT },
  ],
  fsck: [
    { args: ['fsck', 'nope.img'], line: (e) => says('nope.img', e.ENOENT) },
    { args: ['fsck', 'adir'], line: (e) => says('adir', e.EISDIR) },
    { args: ['fsck', 'truncated.img'], line: () => names('truncated.img') },
    { args: ['fsck', '--path', '/nope', 'good.img'], line: (e) => says('good.img: /nope', e.ENOENT) },
    { args: ['fsck', '--bogus', 'good.img'], line: () => UNKNOWN_OPTION },
    { args: ['fsck'], line: () => MISSING_ARGUMENT },
  ],
  read: [
    { args: ['read', 'nope.img'], line: (e) => says('nope.img', e.ENOENT) },
    { args: ['read', 'truncated.img'], line: () => names('truncated.img') },
    { args: ['read', 'truncated.tar'], line: () => names('truncated.tar') },
    { args: ['read', '--trace', 'nope.trace', 'good.img'], line: (e) => says('nope.trace', e.ENOENT) },
    { args: ['read', '--trace', 'adir', 'good.img'], line: (e) => says('adir', e.EISDIR) },
    {
      args: ['read', '--workers', '0', 'good.img'],
      line: () => /^ishare: option '--workers <n>' argument '0' is invalid/,
    },
    { args: ['read'], line: () => MISSING_ARGUMENT },
  ],
  compare: [
    { args: ['compare', 'good.img', 'nope.img'], line: (e) => says('nope.img', e.ENOENT) },
    { args: ['compare', 'good.img', 'random.img'], line: () => names('random.img') },
    // A tree or tar is built first: a failed build prints no "building ..." line in front of the error.
    { args: ['compare', 'good.img', 'truncated.tar.gz'], line: () => names('truncated.tar.gz') },
    { args: ['compare', 'good.img', 'truncated.tar'], line: () => names('truncated.tar') },
    {
      args: ['compare', '--chart', 'nodir/c.svg', 'good.img', 'good.img'],
      line: (e) => says('--chart nodir/c.svg', e.ENOENT),
    },
    { args: ['compare', '--policy', 'first', 'good.img', 'good.img'], line: () => /^ishare: option '--policy/ },
    { args: ['compare', 'good.img'], line: () => /^ishare: compare needs at least two images \(got 1\)$/ },
  ],
  host: [
    { args: ['host', 'nope.json'], line: (e) => says('nope.json', e.ENOENT) },
    { args: ['host', 'afile'], line: () => /^ishare: afile: not JSON: / },
    {
      args: ['host', '--charge', 'later', 'afile'],
      line: () => /^ishare: option '--charge <policy>' argument 'later'/,
    },
  ],
  stress: [
    { args: ['stress', '--seconds', '1', 'nope.img'], line: (e) => says('nope.img', e.ENOENT) },
    { args: ['stress', '--seconds', '1', 'truncated.img'], line: () => names('truncated.img') },
    { args: ['stress', '--fsck', 'nope', 'good.img'], line: (e) => says('--fsck nope', e.ENOENT) },
    { args: ['stress', '--inject', 'NO_SUCH_BUG'], line: () => /^ishare: option '--inject.*NO_SUCH_BUG/ },
    { args: ['stress', '--bogus'], line: () => UNKNOWN_OPTION },
  ],
  fuzz: [
    { args: ['fuzz', '--count', '1', 'nope.img'], line: (e) => says('nope.img', e.ENOENT) },
    { args: ['fuzz', '--count', '1', 'adir'], line: (e) => says('adir', e.EISDIR) },
    { args: ['fuzz', '--replay', 'nope.img'], line: (e) => says('nope.img', e.ENOENT) },
    { args: ['fuzz', '--count', '0'], line: () => /^ishare: option '--count <n>' argument '0' is invalid/ },
    { args: ['fuzz', '--fsck', 'nope'], line: () => /^ishare: --fsck goes with --differential$/ },
    { args: ['fuzz', '--bogus'], line: () => UNKNOWN_OPTION },
  ],
  cache: [
    { args: ['cache', 'frob'], line: () => /^ishare: unknown command 'frob'/ },
    { args: ['cache', 'ls', '--bogus'], line: () => UNKNOWN_OPTION },
  ],
  demo: [
    { args: ['demo', '--bogus'], line: () => UNKNOWN_OPTION },
    { args: ['demo', '--domain', 'a,b'], line: () => /^ishare: option '--domain.*commas/ },
  ],
  '': [{ args: ['frobnicate'], line: () => /^ishare: unknown command 'frobnicate'/ }],
};

test('the walk covers every command', (t) => {
  t.deepEqual(
    Object.keys(BAD_INPUTS)
      .filter((c) => c !== '')
      .sort(),
    [...COMMANDS].sort(),
  );
});

for (const [cmd, cases] of Object.entries(BAD_INPUTS)) {
  test(`bad input to ${cmd || 'ishare'}: one line naming the path as typed, exit 2`, async (t) => {
    for (const c of cases) {
      const shown = `ishare ${c.args.join(' ')}`;
      const r = await ishare(c.args, { ISHARE_CACHE: join(dir, 'cache') }, dir);
      t.is(r.status, 2, `${shown}\nstdout: ${r.text}\nstderr: ${r.stderr}`);
      t.is(r.text, '', `${shown}: nothing on stdout`);
      t.true(isOneErrorLine(r.stderr), `${shown}: ${JSON.stringify(r.stderr)}`);
      t.false(r.stderr.includes(dir), `${shown}: a path the user never typed: ${r.stderr}`);
      t.regex(r.stderr.trimEnd(), c.line(strerror), shown);
    }
  });
}

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
