// The repository as a new user gets it: `git clone` of this checkout's HEAD into an empty folder —
// nothing beside it, no ../shared, no /opt — and the README's two commands run there. The first
// (install, then `pnpm start`: the demo) runs in full; of the second (install, then `pnpm test`) the
// install, the preflight (which builds the vendored upstream erofs-utils through the repository's own
// script, or finds it in the shared cache) and the test runner on one small test file that uses the
// upstream tools, since running the whole suite inside the suite would double CI's time. Like the
// packaging test it needs the npm registry (the clone installs its dependencies) and takes a few
// minutes; what it tests is HEAD (committed work), not the working tree.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { removeDir, tempDir } from './helpers/trees.ts';

const REPO = fileURLToPath(new URL('../', import.meta.url));
// A small test file that runs the upstream tools through test/helpers/erofs-utils.ts.
const SMALL_TEST = 'packages/workers/test/zpcluster.test.ts';

function run(
  cmd: string,
  args: readonly string[],
  cwd: string,
  timeout = 900_000,
): { status: number | null; stdout: string; stderr: string } {
  // Nothing of this process's loader flags leaks into the clone's commands.
  const env = { ...process.env, NODE_OPTIONS: '' };
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env, timeout, maxBuffer: 64 << 20 });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? (r.error ? String(r.error) : '') };
}

/** The README's command line that ends with `pnpm@10 <script>` (the README's own spelling). */
function readmeCommand(script: string): string | undefined {
  const lines = readFileSync(join(REPO, 'README.md'), 'utf8').split('\n');
  return lines
    .map((l) => l.trim())
    .find((l) => new RegExp(`^npx -y pnpm@10 install && npx -y pnpm@10 ${script}$`).test(l));
}

let parent = '';
let clone = '';
let setupError: string | undefined;

test.before(() => {
  parent = tempDir('ishare-clone-');
  clone = join(parent, 'repo');
  const head = run('git', ['rev-parse', 'HEAD'], REPO);
  if (head.status !== 0) {
    setupError = `not a git checkout, nothing to clone: ${head.stderr}`;
    return;
  }
  const c = run('git', ['clone', '--quiet', '--no-hardlinks', REPO, clone], parent);
  if (c.status !== 0) {
    setupError = `git clone failed: ${c.stderr}`;
    return;
  }
  const co = run('git', ['checkout', '--quiet', '--detach', head.stdout.trim()], clone);
  if (co.status !== 0) setupError = `git checkout of HEAD failed: ${co.stderr}`;
});
test.after.always(() => {
  if (parent) removeDir(parent);
});

test.serial('the clone has nothing beside it', (t) => {
  if (setupError) {
    t.fail(setupError);
    return;
  }
  t.deepEqual(readdirSync(parent), ['repo']);
  t.false(existsSync(join(clone, 'node_modules')), 'a fresh clone: nothing installed');
});

test.serial('.ci/run, the scripts and the test helpers name no path outside the repository', (t) => {
  if (setupError) {
    t.fail(setupError);
    return;
  }
  const files = [
    '.ci/run',
    'package.json',
    ...readdirSync(join(clone, 'scripts')).map((f) => `scripts/${f}`),
    ...readdirSync(join(clone, 'test', 'helpers')).map((f) => `test/helpers/${f}`),
  ];
  for (const f of files) {
    const text = readFileSync(join(clone, f), 'utf8');
    for (const outside of ['/work/', '/opt/', 'shared/tools', "'..', 'shared'"])
      t.false(text.includes(outside), `${f} names ${outside}`);
    // In the commands (not the test helpers, whose fixtures hold symlink targets like ../x), every
    // relative path written out (../x/y) must resolve inside the clone, from the file's own directory
    // and from the repository root (where the scripts cd to).
    if (f.startsWith('test/')) continue;
    for (const m of text.matchAll(/(?:\.\.\/)+[\w.-]+/g)) {
      for (const base of [dirname(join(clone, f)), clone]) {
        const rel = relative(clone, resolve(base, m[0]));
        t.false(rel.startsWith('..'), `${f}: ${m[0]} leaves the repository (from ${relative(clone, base) || '.'})`);
      }
    }
  }
  // The vendored upstream source the build script reads is in the clone itself.
  t.true(statSync(join(clone, 'third_party', 'erofs-utils', 'erofs-utils-1.9.3.tar.gz')).size > 0);
});

test.serial("the README's first command (install, pnpm start) succeeds and writes out/compare.json and .svg", (t) => {
  if (setupError) {
    t.fail(setupError);
    return;
  }
  const command = readmeCommand('start');
  if (command === undefined) {
    t.fail('README.md has no line "npx -y pnpm@10 install && npx -y pnpm@10 start"');
    return;
  }
  const r = run('sh', ['-c', command], clone);
  t.is(r.status, 0, `${command}\n${r.stderr}\n${r.stdout.slice(-4000)}`);
  if (r.status !== 0) return;
  const out = JSON.parse(readFileSync(join(clone, 'out', 'compare.json'), 'utf8')) as Record<
    string,
    { noShare: { pageCacheBytes: number }; share: { pageCacheBytes: number } }
  >;
  t.deepEqual(Object.keys(out).sort(), ['any', 'processing']);
  // Two adjacent releases have files in common: with sharing their pages are held once.
  for (const [policy, c] of Object.entries(out))
    t.true(c.share.pageCacheBytes < c.noShare.pageCacheBytes, `${policy}: ${JSON.stringify(c)}`);
  t.regex(readFileSync(join(clone, 'out', 'compare.svg'), 'utf8'), /^<svg[\s>]/);
});

test.serial(
  "the README's second command in the clone: install, the test preflight, and the test runner on one file",
  (t) => {
    if (setupError) {
      t.fail(setupError);
      return;
    }
    const command = readmeCommand('test');
    if (command === undefined) {
      t.fail('README.md has no line "npx -y pnpm@10 install && npx -y pnpm@10 test"');
      return;
    }
    // The same script the README's command runs, cut short: its steps, in order, up to the first test.
    const pkg = JSON.parse(readFileSync(join(clone, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    t.regex(pkg.scripts.test, /^node scripts\/test-preflight\.mjs && .*\bava$/);
    const install = run('npx', ['-y', 'pnpm@10', 'install'], clone);
    t.is(install.status, 0, install.stderr);
    const preflight = run(process.execPath, ['scripts/test-preflight.mjs'], clone);
    t.is(preflight.status, 0, preflight.stderr);
    if (!existsSync(join(clone, SMALL_TEST))) {
      t.fail(`${SMALL_TEST} is gone: name another small test of the upstream tools here`);
      return;
    }
    const ava = run('npx', ['-y', 'pnpm@10', 'exec', 'ava', SMALL_TEST], clone);
    t.is(ava.status, 0, ava.stdout + ava.stderr);
    t.regex(ava.stdout + ava.stderr, /\d+ tests? passed/);
  },
);
