// The page frames survive a fork() of the process without a copy-on-write fault per frame: fork()
// write-protects the parent's private memory, and a System that runs a command (spawnSync) would otherwise
// pay one page fault for every frame it writes next (issue 17's slow fills). Counted, not timed: the
// process's minor faults while every frame is written once after the fork.
import test from 'ava';
import { spawnSync } from 'node:child_process';
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
