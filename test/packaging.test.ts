// The packages as people install them: `pnpm build` (tsc → dist/ with .d.ts), `pnpm pack`, the
// tarballs installed with npm into an empty folder (third-party dependencies from the registry), the
// examples run there with plain node — no tsx, no source condition — and a TypeScript consumer with
// module nodenext type-checked against the packed .d.ts files.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { copyFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { removeDir, tempDir } from './helpers/trees.ts';

const REPO = fileURLToPath(new URL('../', import.meta.url));
const PACKAGES = ['core', 'workers'] as const;

function run(
  cmd: string,
  args: readonly string[],
  cwd: string,
  timeout = 300_000,
): { status: number | null; stdout: string; stderr: string } {
  // A clean environment for the consumer: nothing of this process's loader flags leaks into it.
  const env = { ...process.env, NODE_OPTIONS: '' };
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env, timeout });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? (r.error ? String(r.error) : '') };
}

let dir = '';
const tarballs: Record<string, string> = {};
let app = '';
let setupError: string | undefined;

test.before(() => {
  dir = tempDir('ishare-pack-');
  const build = run('npx', ['-y', 'pnpm@10', 'build'], REPO, 600_000);
  if (build.status !== 0) {
    setupError = `pnpm build failed: ${build.stderr}${build.stdout}`;
    return;
  }
  for (const p of PACKAGES) {
    const r = run('npx', ['-y', 'pnpm@10', 'pack', '--pack-destination', dir], join(REPO, 'packages', p));
    if (r.status !== 0) {
      setupError = `pnpm pack ${p} failed: ${r.stderr}`;
      return;
    }
  }
  for (const f of readdirSync(dir)) {
    const m = /^ishare-(core|workers)-.*\.tgz$/.exec(f);
    if (m) tarballs[m[1]] = join(dir, f);
  }
  app = join(dir, 'app');
  spawnSync('mkdir', [app]);
  writeFileSync(join(app, 'package.json'), '{ "name": "consumer", "private": true, "type": "module" }\n');
  const install = run(
    'npm',
    ['install', '--no-audit', '--no-fund', '--prefer-offline', tarballs.core, tarballs.workers],
    app,
  );
  if (install.status !== 0) {
    setupError = `npm install failed: ${install.stderr}`;
    return;
  }
  for (const f of readdirSync(join(REPO, 'examples'))) copyFileSync(join(REPO, 'examples', f), join(app, f));
});
test.after.always(() => {
  if (dir) removeDir(dir);
});

function listing(tgz: string): string[] {
  return run('tar', ['-tzf', tgz], dir)
    .stdout.split('\n')
    .filter(Boolean)
    .map((l) => l.replace(/^package\//, ''));
}

function packedJson(tgz: string): {
  license?: string;
  exports: Record<string, Record<string, string>>;
  dependencies?: Record<string, string>;
  files?: string[];
} {
  return JSON.parse(run('tar', ['-xzOf', tgz, 'package/package.json'], dir).stdout) as ReturnType<typeof packedJson>;
}

for (const p of PACKAGES) {
  test.serial(
    `@ishare/${p} tarball: built JavaScript and .d.ts, README, MIT licence, no tests, no workspace: or tsx dependency`,
    (t) => {
      if (setupError) {
        t.fail(setupError);
        return;
      }
      const files = listing(tarballs[p]);
      const pkg = packedJson(tarballs[p]);
      for (const f of ['dist/index.js', 'dist/index.d.ts', 'README.md', 'LICENSE', 'package.json'])
        t.true(files.includes(f), f);
      t.deepEqual(
        files.filter((f) => /(^|\/)test\/|\.test\./.test(f)),
        [],
        'no test files',
      );
      t.is(pkg.license, 'MIT');
      t.is(pkg.exports['.'].types, './dist/index.d.ts');
      t.is(pkg.exports['.'].default, './dist/index.js');
      for (const target of Object.values(pkg.exports['.']))
        t.true(files.includes(target.replace(/^\.\//, '')), `export target ${target} is in the tarball`);
      const deps = pkg.dependencies ?? {};
      t.false('tsx' in deps, 'tsx is a development tool only');
      for (const [name, range] of Object.entries(deps)) t.false(range.startsWith('workspace:'), `${name}: ${range}`);
      if (p === 'workers') t.regex(deps['@ishare/core'] ?? '', /^\d+\.\d+\.\d+$/, 'a real version of core');
    },
  );
}

test.serial('the examples run with plain node from the installed tarballs', (t) => {
  if (setupError) {
    t.fail(setupError);
    return;
  }
  const node = (file: string): ReturnType<typeof run> => run(process.execPath, [file], app, 180_000);
  const built = node('build-image.mjs');
  t.is(built.status, 0, built.stderr);
  t.regex(built.stdout, /: 2 files, 2 dirs, 2 fingerprinted, \d+ bytes/);
  const read = node('read-file.mjs');
  t.is(read.status, 0, read.stderr);
  t.regex(read.stdout, /^\/etc\/os-release: 13 bytes, mode 644, fingerprint [0-9a-f]{64}\nNAME=example\n$/);
  const compare = node('compare.mjs');
  t.is(compare.status, 0, compare.stderr);
  // From the example's trees: per image 400000 + 100000 + 2 bytes in whole 4 KiB pages; shared: the
  // 400000-byte file is the same in both, the other two differ.
  const pages = (n: number): number => Math.ceil(n / 4096) * 4096;
  const noShare = 2 * (pages(400_000) + pages(100_000) + pages(2));
  const share = pages(400_000) + 2 * (pages(100_000) + pages(2));
  t.regex(compare.stdout, new RegExp(`\\(${noShare} bytes\\), with sharing .*\\(${share} bytes\\)`), compare.stdout);
  const stress = node('stress.mjs');
  t.is(stress.status, 0, stress.stderr + stress.stdout);
  t.regex(stress.stdout, /^3000 ops .*: no violation$/m);
});

test.serial(
  'a TypeScript consumer (module nodenext, strict, library checks on) type-checks against the packed .d.ts',
  (t) => {
    if (setupError) {
      t.fail(setupError);
      return;
    }
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          types: ['node'],
          typeRoots: [join(REPO, 'node_modules', '@types')],
        },
        files: ['typed.ts'],
      }),
    );
    const r = run(
      process.execPath,
      [join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'],
      app,
    );
    t.is(r.status, 0, r.stdout + r.stderr);
  },
);
