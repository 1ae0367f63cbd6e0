// The page frames survive a fork() of the process without a copy-on-write fault per frame: fork()
// write-protects the parent's private memory, and a System that runs a command (spawnSync) would otherwise
// pay one page fault for every frame it writes next (issue 17's slow fills). Counted, not timed: the
// process's minor faults while every frame is written once after the fork.
import test from 'ava';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { System } from '../src/system.ts';
import { PAGE_SIZE } from '../src/mm/arena.ts';

test('writing every frame after a spawnSync takes no copy-on-write fault per frame', (t) => {
  const sys = System.create({ poolMiB: 16, inodeSlots: 100, mountSlots: 3 });
  try {
    const chunks = sys.arena.chunks;
    const frames = chunks.reduce((n, c) => n + c.length / PAGE_SIZE, 0);
    for (const c of chunks) c.fill(1); // first touch: every page mapped before the fork
    const r = spawnSync('true');
    t.is(r.status, 0, 'spawnSync(true) ran');
    const f0 = process.resourceUsage().minorPageFault;
    for (const c of chunks) c.fill(2);
    const faults = process.resourceUsage().minorPageFault - f0;
    t.log(`${faults} minor faults writing ${frames} frames after the fork`);
    // A malloc'd SharedArrayBuffer takes one per frame here (a copy-on-write break each).
    t.true(faults < frames / 4, `${faults} faults for ${frames} frames`);
  } finally {
    sys.detach();
  }
});

// Under an address-space limit (ulimit -v) the frames are plain SharedArrayBuffers: V8 reserves ~10 GiB per
// WebAssembly memory, so WebAssembly frames would exhaust the limit — a pool failing where SharedArrayBuffers
// fit, and the decoders' own WebAssembly memories refused after it. The limit is set from what the same
// child uses without the pool (tsx's own WebAssembly and the probe's reserve address space too), plus the
// pool, one more WebAssembly memory and 3 GiB: room for a few WebAssembly reservations, not one per chunk.
test('under an address-space limit a 4 GiB pool is made and WebAssembly memories can still be made after it', (t) => {
  const tsx = fileURLToPath(new URL('../../../node_modules/.bin/tsx', import.meta.url));
  const repo = fileURLToPath(new URL('../../../', import.meta.url));
  const script = (pool: boolean): string =>
    [
      "import { readFileSync } from 'node:fs';",
      "import { System } from './packages/core/src/system.ts';",
      "const kib = () => Number(/VmSize:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]);",
      pool ? 'const sys = System.create({ poolMiB: 4096, inodeSlots: 100, mountSlots: 3 });' : '',
      'new WebAssembly.Memory({ initial: 16 });',
      "console.log('ok', kib());",
    ].join('\n');
  const run = (pool: boolean, limitKiB: string): SpawnSyncReturns<string> =>
    spawnSync('bash', ['-c', `ulimit -v ${limitKiB} && exec "$0" --conditions=source -e "$1"`, tsx, script(pool)], {
      cwd: repo,
      encoding: 'utf8',
    });
  const base = run(false, 'unlimited');
  t.is(base.status, 0, base.stderr);
  const used = Number(/^ok (\d+)/m.exec(base.stdout)?.[1]);
  t.true(used > 0, base.stdout);
  const GiB = 1024 * 1024;
  const r = run(true, String(used + 4 * GiB + 10 * GiB + 3 * GiB));
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout, /^ok \d+/m);
});
