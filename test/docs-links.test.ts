// The README stays an introduction (≤ 15 KB: what ishare is, the two commands, the CLI, one real run of
// the experiment) and everything else lives in docs/, linked. Every relative link in README.md and
// docs/**/*.md must lead to a file of this repository, and a #fragment to a heading of that file.
// No markdown library: links are read after removing code (fenced blocks and inline spans), which is
// where the markdown in these files puts brackets that are not links.
import test from 'ava';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../', import.meta.url));
const README_MAX_BYTES = 15 * 1024;

function markdownFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...markdownFiles(p));
    else if (e.name.endsWith('.md')) out.push(p);
  }
  return out;
}

const DOCS = [join(REPO, 'README.md'), ...markdownFiles(join(REPO, 'docs'))];

/** The text outside fenced code blocks and inline code spans. */
function prose(md: string): string {
  return md.replace(/^```[^\n]*\n[\s\S]*?^```[^\n]*$/gm, '').replace(/`[^`\n]*`/g, '');
}

/** Link targets of inline links `[text](target)`, images included. */
function links(md: string): string[] {
  const out: string[] = [];
  for (const m of prose(md).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) out.push(m[1]);
  return out;
}

/** GitHub's heading anchors: lower case, punctuation dropped (hyphens and underscores kept), spaces to hyphens. */
function anchors(md: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of md.replace(/^```[^\n]*\n[\s\S]*?^```[^\n]*$/gm, '').matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const text = m[1].replace(/\[([^\]]*)\]\([^)]*\)/g, '$1');
    const base = text
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

test('README.md is at most 15 KB and links docs/', (t) => {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  const size = Buffer.byteLength(readme);
  t.true(size <= README_MAX_BYTES, `README.md is ${size} bytes, over ${README_MAX_BYTES}`);
  t.true(
    links(readme).some((l) => l.startsWith('docs/')),
    'README.md links nothing under docs/',
  );
  // What the README opens with: what ishare is, before any command.
  const firstCode = readme.indexOf('```');
  t.regex(readme.slice(0, firstCode), /page cache/i);
});

test('every docs/**/*.md is linked from the README or another document (a directory link covers its files)', (t) => {
  const linked = new Set<string>();
  for (const file of DOCS)
    for (const l of links(readFileSync(file, 'utf8'))) {
      const path = l.split('#')[0];
      if (path !== '' && !/^[a-z]+:/i.test(path)) linked.add(resolve(dirname(file), decodeURIComponent(path)));
    }
  const covered = (f: string): boolean =>
    linked.has(f) || [...linked].some((l) => existsSync(l) && statSync(l).isDirectory() && f.startsWith(l + sep));
  const orphans = DOCS.filter((f) => f !== join(REPO, 'README.md') && !covered(f)).map((f) => relative(REPO, f));
  t.deepEqual(orphans, []);
});

for (const file of DOCS) {
  const name = relative(REPO, file);
  test(`relative links in ${name} resolve inside the repository`, (t) => {
    const md = readFileSync(file, 'utf8');
    const bad: string[] = [];
    let checked = 0;
    for (const l of links(md)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(l)) continue; // https:, mailto: — not ours to check offline
      checked++;
      const [rawPath, fragment] = l.split('#', 2) as [string, string | undefined];
      const target = rawPath === '' ? file : resolve(dirname(file), decodeURIComponent(rawPath));
      const inside = relative(REPO, target);
      if (inside.startsWith('..') || inside.startsWith(sep)) {
        bad.push(`${l}: outside the repository`);
        continue;
      }
      if (!existsSync(target)) {
        bad.push(`${l}: no such file`);
        continue;
      }
      if (fragment !== undefined && fragment !== '') {
        if (statSync(target).isDirectory() || !target.endsWith('.md')) {
          bad.push(`${l}: a fragment on something that is not a markdown file`);
          continue;
        }
        if (!anchors(readFileSync(target, 'utf8')).has(fragment)) bad.push(`${l}: no heading #${fragment}`);
      }
    }
    t.deepEqual(bad, []);
    t.log(`${checked} relative links checked`);
    if (file === join(REPO, 'README.md')) t.true(checked > 0);
  });
}
