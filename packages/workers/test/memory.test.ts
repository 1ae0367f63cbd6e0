// The memory check: a pool that cannot fit in what the process may use is refused up front, with the
// figures. Parsers against the kernel's file formats (Documentation/admin-guide/cgroup-v2.rst,
// cgroup-v1/memory.rst, filesystems/proc.rst); the whole path under a real memory cgroup made for the
// test, below the test's own cgroup.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  checkMemory,
  cgroupDir,
  MemoryLimitError,
  parseMeminfo,
  parseMountinfo,
  parseProcCgroup,
  type MemoryBudget,
} from '@ishare/workers';
import { buildPair, type Pair } from './helpers/pair-trees.ts';
import { removeDir } from '../../../test/helpers/trees.ts';

const MiB = 1024 * 1024;

test('MemAvailable is read in kB', (t) => {
  t.is(
    parseMeminfo('MemTotal:       24571236 kB\nMemFree:         1234 kB\nMemAvailable:   22275308 kB\n'),
    22275308 * 1024,
  );
  t.is(parseMeminfo('MemTotal: 1 kB\n'), undefined);
});

test('/proc/self/cgroup: the v2 path and the v1 memory controller path', (t) => {
  t.deepEqual(parseProcCgroup('0::/user.slice/session-1.scope\n'), { v2: '/user.slice/session-1.scope' });
  t.deepEqual(parseProcCgroup('9:name=systemd:/\n4:memory:/a/b\n1:cpu,cpuacct:/\n0::/\n'), { v1: '/a/b', v2: '/' });
});

test('mountinfo: where each hierarchy is mounted, and a namespaced root', (t) => {
  const mi = [
    '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
    '35 31 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
    '41 31 0:37 /ns /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
  ].join('\n');
  const m = parseMountinfo(mi);
  t.deepEqual(m.v1, { root: '/', mount: '/sys/fs/cgroup/memory' });
  t.deepEqual(m.v2, { root: '/ns', mount: '/sys/fs/cgroup/unified' });
  t.is(cgroupDir('/a/b', m.v1!), '/sys/fs/cgroup/memory/a/b');
  t.is(cgroupDir('/ns/c', m.v2!), '/sys/fs/cgroup/unified/c');
});

test('checkMemory: a pool beyond the budget is refused naming both figures', (t) => {
  const budget: MemoryBudget = {
    availableBytes: 1000 * MiB,
    sources: [{ name: 'cgroup memory.max', limitBytes: 1024 * MiB, usedBytes: 24 * MiB, availableBytes: 1000 * MiB }],
  };
  const e = t.throws(() => checkMemory(2048 * MiB, 2, 100 * MiB, true, budget), { instanceOf: MemoryLimitError });
  t.regex(e.message, /page pool \(2048 MiB\)/);
  t.regex(e.message, /1000 MiB this process may use \(cgroup memory\.max 1024 MiB with 24 MiB in use\)/);
  t.regex(e.message, /lower --pool-mib/);
  t.false(e.message.includes('\n'));
  t.notThrows(() => checkMemory(100 * MiB, 2, 100 * MiB, true, budget));
  const data = t.throws(() => checkMemory(1500 * MiB, 1, 1400 * MiB, false, budget), { instanceOf: MemoryLimitError });
  t.regex(data.message, /the data to read needs 1400 MiB/);
});

/** A memory cgroup for one child process, below this process's own (v1 here; v2 where delegation allows). */
function makeCgroup(limitBytes: number): { dir: string; limitFile: string } | string {
  const own = readFileSync('/proc/self/cgroup', 'utf8');
  const v1 = /^\d+:(?:[^:]*,)?memory(?:,[^:]*)?:(.*)$/m.exec(own)?.[1];
  const v2 = /^0::(.*)$/m.exec(own)?.[1];
  const tries: { base: string; limitFile: string }[] = [];
  if (v1 !== undefined) tries.push({ base: join('/sys/fs/cgroup/memory', v1), limitFile: 'memory.limit_in_bytes' });
  if (v2 !== undefined)
    for (const m of ['/sys/fs/cgroup', '/sys/fs/cgroup/unified'])
      tries.push({ base: join(m, v2), limitFile: 'memory.max' });
  const why: string[] = [];
  for (const { base, limitFile } of tries) {
    if (!existsSync(join(base, limitFile)) && !existsSync(join(base, 'cgroup.subtree_control'))) {
      why.push(`${base}: no memory controller`);
      continue;
    }
    const dir = join(base, `ishare-test-${process.pid}`);
    try {
      mkdirSync(dir);
    } catch (e) {
      why.push(`${dir}: ${(e as Error).message}`);
      continue;
    }
    try {
      writeFileSync(join(dir, limitFile), String(limitBytes));
      return { dir, limitFile };
    } catch (e) {
      why.push(`${dir}/${limitFile}: ${(e as Error).message}`);
      rmdirSync(dir);
    }
  }
  return why.join('; ') || 'no memory cgroup';
}

let pair: Pair | undefined;
test.after.always(() => {
  if (pair) removeDir(pair.dir);
});

test('under a real 400 MiB memory cgroup: --pool-mib 600 is refused up front naming the limit; the automatic pool runs', async (t) => {
  const cg = makeCgroup(400 * MiB);
  if (typeof cg === 'string') {
    t.log(`skipped: cannot make a memory cgroup (${cg})`);
    t.pass();
    return;
  }
  try {
    pair = await buildPair();
    const bin = new URL('../../cli/bin/ishare.js', import.meta.url).pathname;
    const run = (extra: string[]): ReturnType<typeof spawnSync> =>
      spawnSync(
        'sh',
        [
          '-c',
          `echo $$ > "${cg.dir}/cgroup.procs" && exec "$0" "$@"`,
          process.execPath,
          bin,
          'compare',
          ...pair!.images,
          '--workers',
          '2',
          ...extra,
        ],
        { encoding: 'utf8', env: { ...process.env, ISHARE_DEBUG: '' }, timeout: 120_000 },
      );
    const big = run(['--pool-mib', '600']);
    t.is(big.status, 2, String(big.stderr));
    const lines = String(big.stderr).split('\n').filter(Boolean);
    t.is(lines.length, 1, String(big.stderr));
    t.regex(
      lines[0],
      /^ishare: the page pool \(600 MiB\) .* do not fit in the \d+ MiB this process may use \(.*cgroup memory\.(max|limit_in_bytes) 400 MiB with \d+ MiB in use/,
    );
    t.is(String(big.stdout), '');
    const auto = run(['--json']);
    t.is(auto.status, 0, String(auto.stderr));
    t.true((JSON.parse(String(auto.stdout)) as { share: { pageCacheBytes: number } }).share.pageCacheBytes > 0);
  } finally {
    // The children have exited: the cgroup is empty and can go.
    for (let i = 0; i < 50; i++) {
      try {
        rmdirSync(cg.dir);
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }
});
