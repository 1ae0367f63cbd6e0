// The bundled default data: two adjacent releases of a real package, installed by the workspace itself
// (root devDependencies typescript-5.6.2 and typescript-5.6.3, npm aliases). Their package directories
// are the source trees every default workload (demo, compare, stress, bench) builds its images from.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { UsageError } from './errors.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const BUNDLED_RELEASES = ['typescript-5.6.2', 'typescript-5.6.3'] as const;

/** Real (not symlinked) directory of an installed package of the workspace root. */
export function packageDir(name: string): string {
  const req = createRequire(join(REPO_ROOT, 'package.json'));
  try {
    return realpathSync(dirname(req.resolve(`${name}/package.json`)));
  } catch {
    throw new UsageError(`${name} is not installed (run: npx -y pnpm@10 install)`);
  }
}

export function bundledSourceDirs(): string[] {
  return BUNDLED_RELEASES.map(packageDir);
}
