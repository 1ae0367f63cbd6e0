// Files the user names as outputs (mkfs OUT, --chart, --out-json) are written into directories that
// exist: a missing parent directory is a typo far more often than a wish, so every command refuses it
// the same way, up front, before any work. (Options that name a directory — extract DIR, fuzz --out,
// demo --out-dir, --cache-dir — create it.)
import { statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { pathError, UsageError } from './errors.ts';

export function checkOutputFile(path: string, what = 'output'): void {
  const dir = dirname(resolve(path));
  let st;
  try {
    st = statSync(dir);
  } catch {
    throw pathError(`${what} ${path}`, 'ENOENT'); // as `touch nodir/x` says it
  }
  if (!st.isDirectory()) throw pathError(`${what} ${path}`, 'ENOTDIR');
  try {
    if (statSync(path).isDirectory()) throw pathError(`${what} ${path}`, 'EISDIR');
  } catch (e) {
    if (e instanceof UsageError) throw e;
    // Not there yet: it will be created.
  }
}

export function writeOutputFile(path: string, text: string): void {
  writeFileSync(path, text);
}
