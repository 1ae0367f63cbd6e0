// Planted bugs stay out of the production code: no file of mm/, vfs/ or fs/ names a planted bug, asks
// whether one is planted (bugOn, BUG.) or imports debug/. Each bug is a variant installed into a step
// table the production code calls through, and installing none puts the correct steps back.
import test from 'ava';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUG, BUGS, installBugs, type BugName } from '../src/debug/bugs/index.ts';
import { ishareSteps, ISHARE_STEPS } from '../src/fs/erofs/ishare.ts';
import { dataSteps, DATA_STEPS } from '../src/fs/erofs/data.ts';
import { pagecacheSteps, PAGECACHE_STEPS } from '../src/vfs/pagecache.ts';
import { superSteps, SUPER_STEPS } from '../src/vfs/super.ts';
import { inodeSteps, INODE_STEPS } from '../src/vfs/inode.ts';
import { memcgSteps, MEMCG_STEPS } from '../src/mm/memcontrol.ts';
import { System } from '../src/system.ts';
import { invariantsOn } from '../src/mm/checkfail.ts';
import { lockdepOn } from '../src/mm/lockdep.ts';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));
const LAYERS = ['mm', 'vfs', 'fs'];

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

test('no file of mm/, vfs/ or fs/ names a planted bug, tests for one or imports debug/', (t) => {
  const names = Object.keys(BUG);
  t.true(names.length > 0);
  const files = LAYERS.flatMap((l) => filesUnder(join(SRC, l)));
  t.true(files.length > 20, `${files.length} files`);
  const found: string[] = [];
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    const where = relative(SRC, f);
    for (const n of names) if (new RegExp(`\\b${n}\\b`).test(text)) found.push(`${where}: names ${n}`);
    if (/\bbugOn\b/.test(text)) found.push(`${where}: bugOn`);
    if (/\bBUG\./.test(text)) found.push(`${where}: BUG.`);
    if (/from\s+['"][./]*debug\//.test(text) || /import\(\s*['"][./]*debug\//.test(text))
      found.push(`${where}: imports debug/`);
  }
  t.deepEqual(found, []);
});

const TABLES: [string, object, object][] = [
  ['ishareSteps', ishareSteps, ISHARE_STEPS],
  ['dataSteps', dataSteps, DATA_STEPS],
  ['pagecacheSteps', pagecacheSteps, PAGECACHE_STEPS],
  ['superSteps', superSteps, SUPER_STEPS],
  ['inodeSteps', inodeSteps, INODE_STEPS],
  ['memcgSteps', memcgSteps, MEMCG_STEPS],
];

function replaced(): string[] {
  const out: string[] = [];
  for (const [name, live, correct] of TABLES)
    for (const [k, v] of Object.entries(correct))
      if ((live as Record<string, unknown>)[k] !== v) out.push(`${name}.${k}`);
  return out;
}

test.serial('each planted bug replaces a production step; none planted leaves the correct steps', (t) => {
  try {
    installBugs(0);
    t.deepEqual(replaced(), []);
    for (const n of Object.keys(BUGS) as BugName[]) {
      installBugs(BUG[n]);
      t.true(replaced().length > 0, `${n} replaces a step`);
      installBugs(0);
      t.deepEqual(replaced(), [], `after ${n}, none planted: the correct steps again`);
    }
  } finally {
    installBugs(0);
  }
});

test.serial('which checks run follows the check options, never the planted bugs', (t) => {
  const all = Object.values(BUG).reduce((m, b) => m | b, 0);
  const cases = [
    { inject: all, invariants: false, lockChecks: false },
    { inject: 0, invariants: true, lockChecks: true },
    { inject: all, invariants: true, lockChecks: false },
    { inject: 0, invariants: false, lockChecks: true },
  ];
  for (const c of cases) {
    const sys = System.create({ poolMiB: 1, inodeSlots: 16, mountSlots: 1, ...c });
    try {
      t.is(invariantsOn, c.invariants, `invariants with ${JSON.stringify(c)}`);
      t.is(lockdepOn, c.lockChecks, `lock tracking with ${JSON.stringify(c)}`);
      t.is(replaced().length > 0, c.inject !== 0, `steps replaced with ${JSON.stringify(c)}`);
    } finally {
      sys.detach();
    }
  }
  System.create({ poolMiB: 1, inodeSlots: 16, mountSlots: 1 }).detach();
  t.false(invariantsOn);
  t.deepEqual(replaced(), []);
});
