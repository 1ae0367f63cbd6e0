// The packages as people install them, from a checkout with no dist/: `pnpm pack` (core) and `npm pack`
// (workers) — their `prepack` builds dist/ with tsc (JavaScript and .d.ts) — the tarballs installed
// with npm into an empty folder (third-party dependencies from the registry), the examples run there
// with plain node — no tsx, no source condition — and TypeScript consumers, ESM and CommonJS, compiled
// against the packed .d.ts with module nodenext by TypeScript 5.x and by TypeScript 7 (what
// `npm install -D typescript` gives today), with @types/node installed and no "types" in the tsconfig,
// then run with plain node.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { removeDir, tempDir } from './helpers/trees.ts';

const REPO = fileURLToPath(new URL('../', import.meta.url));
const PACKAGES = ['core', 'workers'] as const;
// The compilers a consumer meets: the repository's own TypeScript 5 (its exact version) and TypeScript 7,
// the registry's `latest` when this test was written (`npm view typescript dist-tags`: latest 7.0.2).
const TS5 = (
  JSON.parse(readFileSync(join(REPO, 'node_modules', 'typescript', 'package.json'), 'utf8')) as {
    version: string;
  }
).version;
const TS7 = '7.0.2';
const TYPES_NODE = (
  JSON.parse(readFileSync(join(REPO, 'node_modules', '@types', 'node', 'package.json'), 'utf8')) as { version: string }
).version;

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
  // As on a clean checkout: no dist/ anywhere, so whatever the tarballs hold, prepack built it.
  for (const p of PACKAGES) rmSync(join(REPO, 'packages', p, 'dist'), { recursive: true, force: true });
  const packers: Record<(typeof PACKAGES)[number], [string, string[]]> = {
    core: ['npx', ['-y', 'pnpm@10', 'pack', '--pack-destination', dir]],
    // npm knows no workspace: protocol; the tarball must still name a real version of core.
    workers: ['npm', ['pack', '--pack-destination', dir]],
  };
  for (const p of PACKAGES) {
    const [cmd, args] = packers[p];
    const r = run(cmd, args, join(REPO, 'packages', p), 600_000);
    if (r.status !== 0) {
      setupError = `${cmd} ${args.join(' ')} in packages/${p} failed: ${r.stderr}${r.stdout}`;
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
  // What the package READMEs tell a consumer to install: the two tarballs, and for TypeScript the
  // compiler and @types/node (TypeScript 5 under an alias, so both compilers sit side by side).
  const install = run(
    'npm',
    [
      'install',
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      tarballs.core,
      tarballs.workers,
      `typescript@${TS7}`,
      `typescript5@npm:typescript@${TS5}`,
      `@types/node@${TYPES_NODE}`,
    ],
    app,
    600_000,
  );
  if (install.status !== 0) {
    setupError = `npm install failed: ${install.stderr}`;
    return;
  }
  // The embedding programs (examples/host/ holds scenario files for `ishare host`, not programs).
  for (const e of readdirSync(join(REPO, 'examples'), { withFileTypes: true }))
    if (e.isFile()) copyFileSync(join(REPO, 'examples', e.name), join(app, e.name));
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

// The consumers' input, written here: what they print is derived from it.
const MOTD = 'hello from a typed consumer\n';

const ESM_CONSUMER = `import { mkdirSync, writeFileSync } from 'node:fs';
import { mkfs } from '@ishare/core';
import { runRead } from '@ishare/workers';

mkdirSync('tree-esm/etc', { recursive: true });
writeFileSync('tree-esm/etc/motd', ${JSON.stringify(MOTD)});
const report = await mkfs({ out: 'esm.img', source: 'tree-esm' });
const read = await runRead({ images: ['esm.img'], workers: 1 });
console.log(\`esm: \${report.files} files, read \${read.files} files, \${read.bytes} bytes\`);
`;

// CommonJS (a .cts file compiles to require()): no top-level await, promises instead.
const CJS_CONSUMER = `import { mkdirSync, writeFileSync } from 'node:fs';
import { mkfs, type MkfsReport } from '@ishare/core';
import { runRead } from '@ishare/workers';

mkdirSync('tree-cjs/etc', { recursive: true });
writeFileSync('tree-cjs/etc/motd', ${JSON.stringify(MOTD)});
mkfs({ out: 'cjs.img', source: 'tree-cjs' })
  .then(async (report: MkfsReport) => {
    const read = await runRead({ images: ['cjs.img'], workers: 1 });
    console.log(\`cjs: \${report.files} files, read \${read.files} files, \${read.bytes} bytes\`);
  })
  .catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  });
`;

for (const [version, pkg] of [
  [TS5, 'typescript5'],
  [TS7, 'typescript'],
] as const) {
  test.serial(
    `TypeScript ${version}: ESM and CommonJS consumers (module nodenext, strict, library checks on, no "types" option) compile against the packed .d.ts and run with plain node`,
    (t) => {
      if (setupError) {
        t.fail(setupError);
        return;
      }
      const tscPath = join('node_modules', pkg, 'bin', 'tsc');
      const v = run(process.execPath, [tscPath, '--version'], app);
      t.is(v.stdout.trim(), `Version ${version}`, v.stderr);
      writeFileSync(join(app, 'consumer.ts'), ESM_CONSUMER);
      writeFileSync(join(app, 'consumer-cjs.cts'), CJS_CONSUMER);
      const out = `out-${version}`;
      const config = `tsconfig.${version}.json`;
      // No "types" and no "typeRoots": @types/node is loaded because the packages' .d.ts reference it.
      writeFileSync(
        join(app, config),
        JSON.stringify({
          compilerOptions: { module: 'nodenext', target: 'es2022', strict: true, skipLibCheck: false, outDir: out },
          files: ['typed.ts', 'consumer.ts', 'consumer-cjs.cts'],
        }),
      );
      const tsc = run(process.execPath, [tscPath, '-p', config], app);
      t.is(tsc.status, 0, tsc.stdout + tsc.stderr);
      if (tsc.status !== 0) return;
      t.regex(
        readFileSync(join(app, out, 'consumer-cjs.cjs'), 'utf8'),
        /require\("@ishare\/core"\)/,
        'CommonJS output',
      );
      const bytes = Buffer.byteLength(MOTD);
      const esm = run(process.execPath, [join(out, 'consumer.js')], app, 180_000);
      t.is(esm.status, 0, esm.stderr);
      t.is(esm.stdout, `esm: 1 files, read 1 files, ${bytes} bytes\n`);
      const cjs = run(process.execPath, [join(out, 'consumer-cjs.cjs')], app, 180_000);
      t.is(cjs.status, 0, cjs.stderr);
      t.is(cjs.stdout, `cjs: 1 files, read 1 files, ${bytes} bytes\n`);
    },
  );
}

test.serial('plain CommonJS JavaScript can require() both packages (Node >= 20.19: require of ESM)', (t) => {
  if (setupError) {
    t.fail(setupError);
    return;
  }
  mkdirSync(join(app, 'cjs-js'), { recursive: true });
  writeFileSync(join(app, 'cjs-js', 'package.json'), '{ "private": true, "type": "commonjs" }\n');
  writeFileSync(
    join(app, 'cjs-js', 'main.js'),
    [
      "const { mkfs, System } = require('@ishare/core');",
      "const { runCompare, runRead } = require('@ishare/workers');",
      'console.log([mkfs, System, runCompare, runRead].map((f) => typeof f).join(" "));',
      '',
    ].join('\n'),
  );
  const r = run(process.execPath, [join('cjs-js', 'main.js')], app, 120_000);
  t.is(r.status, 0, r.stderr);
  t.is(r.stdout, 'function function function function\n');
});
