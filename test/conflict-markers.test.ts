// A merge that left its conflict markers in a file (docs/cli.md carried one for weeks) is caught here:
// no file git tracks may have a line starting with `<<<<<<< ` or `>>>>>>> ` (git's markers are seven
// characters and a space). `=======` alone is not checked: it is also a Markdown heading underline.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../', import.meta.url));

test('no tracked file carries a merge conflict marker', (t) => {
  let listed: string;
  try {
    listed = execFileSync('git', ['ls-files', '-z'], { cwd: REPO, encoding: 'utf8', maxBuffer: 64 << 20 });
  } catch (e) {
    t.log(`not a git checkout (${(e as Error).message.split('\n')[0]}): nothing to check`);
    t.pass();
    return;
  }
  const files = listed.split('\0').filter((f) => f !== '');
  t.true(files.length > 100, 'git lists the repository');
  const found: string[] = [];
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(join(REPO, f), 'latin1');
    } catch {
      continue; // listed but absent in this checkout (a sparse or LFS file)
    }
    if (text.includes('\0')) continue; // binary
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++)
      if (lines[i].startsWith('<<<<<<< ') || lines[i].startsWith('>>>>>>> ')) found.push(`${f}:${i + 1}: ${lines[i]}`);
  }
  t.deepEqual(found, []);
});
