#!/usr/bin/env node
// Run before the test suite: the tests compare against real tools, and without them fail one by one
// with messages like "mkfs.erofs failed: null". Say once what is missing and how to get it.
// (`bash .ci/run` installs the apt packages itself, then runs the suite.)
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const needs = [
  ['mkfs.erofs', 'erofs-utils'],
  ['dump.erofs', 'erofs-utils'],
  ['fsck.erofs', 'erofs-utils'],
  ['setfattr', 'attr'],
  ['getfattr', 'attr'],
  ['strace', 'strace'],
  ['tar', 'tar'],
];
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
const missing = needs.filter(([cmd]) => !has(cmd));
const problems = [];
if (missing.length > 0) {
  const pkgs = [...new Set(missing.map(([, p]) => p))];
  problems.push(
    `missing ${missing.map(([c]) => c).join(', ')}: apt-get install ${pkgs.join(' ')} (or run: bash .ci/run, which installs them)`,
  );
}
// Upstream erofs-utils 1.9.3, vendored in third_party/erofs-utils/: built here once (into the cache every
// test process shares) so that a missing compiler or header is said once, not by every test that needs it.
if (problems.length === 0) {
  // Its progress and, on failure, the build log's last lines go to stderr as they come.
  const build = spawnSync('bash', [join(repo, 'scripts', 'build-erofs-utils.sh')], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (build.status !== 0) {
    problems.push(
      `upstream erofs-utils 1.9.3 (third_party/erofs-utils) could not be built by scripts/build-erofs-utils.sh (exit ${build.status}; its output is above)`,
    );
  }
}
if (problems.length > 0) {
  for (const p of problems) process.stderr.write(`test prerequisites: ${p}\n`);
  process.exit(2);
}
if (process.getuid?.() !== 0)
  process.stderr.write('test prerequisites: not root — the loop-mount comparisons with the kernel are skipped\n');
