// The CLI as one prebuilt ES module, for the tests that check what a command does (output, exit code,
// files written) rather than how `ishare` is started. `bin/ishare.js` starts a second node with tsx,
// and loading tsx costs most of a start (~1.7 s of CPU per start against ~0.35 s for this module, on
// the 2-core VM); the tests start the CLI hundreds of times. The tests of the entry itself (exit codes
// and pipes through bin/ishare.js, `pnpm exec ishare`, `npx ishare`, the README's commands) still run
// bin/ishare.js, and ISHARE_TEST_BIN=1 runs every test through it (the full-fidelity run, docs/tests.md).
//
// Same sources, same transform: esbuild (the transformer tsx runs per file) bundles packages/cli/src/
// main.ts with the "source" export condition, each file's `import.meta.url` kept as its own source URL
// (worker threads, REPO_ROOT and createRequire resolve exactly as from the sources), npm packages left
// as imports of the files node would load. Worker threads still start from their TypeScript sources
// through tsx (their .mjs bootstraps register it), so the CLI runs with --conditions=source as from
// the bin. The bundle is cached under node_modules/.cache keyed on the content of every file under
// packages/*/src, the package manifests and tsconfigs, the lockfile, this file, node's and esbuild's versions and
// the repository's path: an edited source always gets a fresh bundle, so the cache cannot hide a change.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, version as esbuildVersion, type Plugin } from 'esbuild';

const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
const PACKAGES = ['core', 'workers', 'cli'];

/** True when ISHARE_TEST_BIN=1 asks for every CLI run to go through bin/ishare.js. */
export function useRealBin(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.ISHARE_TEST_BIN === '1';
}

function listFiles(dir: string, out: string[]): void {
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = join(dir, e.name);
    if (e.isDirectory()) listFiles(p, out);
    else if (e.isFile()) out.push(p);
  }
}

/** Hash of everything the bundle is made from (see the header). */
function contentKey(): string {
  const h = createHash('sha256');
  h.update(`${REPO}\0${process.version}\0${esbuildVersion}\0`);
  const files: string[] = [fileURLToPath(import.meta.url)];
  for (const f of ['pnpm-lock.yaml', 'package.json', 'tsconfig.json', 'tsconfig.base.json']) files.push(join(REPO, f));
  for (const p of PACKAGES) {
    files.push(join(REPO, 'packages', p, 'package.json'), join(REPO, 'packages', p, 'tsconfig.json'));
    listFiles(join(REPO, 'packages', p, 'src'), files);
  }
  for (const f of files) {
    h.update(`${f}\0`);
    h.update(readFileSync(f));
    h.update('\0');
  }
  return h.digest('hex').slice(0, 32);
}

/** Keeps each source file's own URL as its import.meta.url, and npm packages as imports of their files. */
const keepSourceUrls: Plugin = {
  name: 'ishare-keep-source-urls',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, async (a) => {
      if (a.path.startsWith('@ishare/') || a.path.startsWith('node:') || a.pluginData === 'inner') return undefined;
      const r = await b.resolve(a.path, {
        kind: a.kind,
        resolveDir: a.resolveDir,
        importer: a.importer,
        pluginData: 'inner',
      });
      if (r.errors.length > 0) return { errors: r.errors };
      return { path: r.path, external: true };
    });
    b.onLoad({ filter: /\.[cm]?ts$/ }, (a) => {
      const src = readFileSync(a.path, 'utf8');
      return {
        contents: src.replaceAll('import.meta.url', JSON.stringify(pathToFileURL(a.path).href)),
        loader: 'ts',
      };
    });
  },
};

let pending: Promise<string> | undefined;

/** Path of the bundled CLI (built on first use, or taken from the cache when the sources are unchanged). */
export function cliBundle(): Promise<string> {
  pending ??= (async () => {
    const dir = join(REPO, 'node_modules', '.cache', 'ishare-cli-test', contentKey());
    const file = join(dir, 'main.mjs');
    if (existsSync(file)) return file;
    const r = await build({
      entryPoints: [join(REPO, 'packages/cli/src/main.ts')],
      outfile: file,
      write: false,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      conditions: ['source'],
      keepNames: true,
      logLevel: 'silent',
      plugins: [keepSourceUrls],
    });
    mkdirSync(dir, { recursive: true });
    // Test files run in parallel processes: write aside, then rename into place (atomic).
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, r.outputFiles[0].contents);
    renameSync(tmp, file);
    return file;
  })();
  return pending;
}

/** node arguments that start `ishare` for a test: the bundle, or bin/ishare.js under ISHARE_TEST_BIN=1. */
export async function cliArgs(bin: string): Promise<string[]> {
  if (useRealBin()) return [bin];
  return ['--conditions=source', await cliBundle()];
}
