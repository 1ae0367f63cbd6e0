// The bench's accounting of the kernel's own threads (bench/kthreads.ts): what it reads from /proc and
// how it charges a kworker to EROFS, our loop devices or neither.
import { existsSync, readFileSync } from 'node:fs';
import test from 'ava';
import { kthreadSnapshot, kthreadDelta, erofsMounts } from '../bench/kthreads.ts';

test('the snapshot lists the kernel threads /proc shows: kthreadd among them, no user process', (t) => {
  if (!existsSync('/proc/2/schedstat')) {
    t.log('no /proc/2/schedstat here (not Linux, or no schedstats): nothing to compare with');
    t.pass();
    return;
  }
  const snap = kthreadSnapshot();
  // In a pid namespace of its own (a container) this process sees no kernel thread: pid 2 is some process.
  if (readFileSync('/proc/2/comm', 'utf8').trim() !== 'kthreadd') {
    t.log('no kernel threads visible here (pid 2 is not kthreadd: a pid namespace)');
    t.is(snap, null);
    return;
  }
  t.not(snap, null);
  const comms = new Map([...snap!].map(([key, v]) => [key.split('@')[0], v.comm]));
  t.is(comms.get('2'), 'kthreadd');
  t.false(comms.has(String(process.pid)), 'this process is not a kernel thread');
  // Each listed thread still alive has no command line (kernel threads have none; /proc says so).
  for (const [pid] of comms) {
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    t.is(cmdline, '', pid);
  }
});

const ms = 1e6;
const at = (pid: string): string => `${pid}@100`;

test('a kworker counts for EROFS or our loop device: named so at both ends (counted) or at one (upper bound only)', (t) => {
  const a = new Map([
    [at('10'), { comm: 'kworker/u9:0-erofs_worker', ns: 5 * ms }],
    [at('11'), { comm: 'kworker/u9:1-events_unbound', ns: 1 * ms }],
    [at('12'), { comm: 'kworker/u8:2-loop0', ns: 0 }],
    [at('13'), { comm: 'ksoftirqd/0', ns: 2 * ms }],
    [at('14'), { comm: 'kworker/0:1-events', ns: 7 * ms }],
    [at('16'), { comm: 'kworker/u8:3-loop1', ns: 0 }],
    [at('17'), { comm: 'kworker/u9:5-erofs_worker', ns: 1 * ms }],
  ]);
  const b = new Map([
    [at('10'), { comm: 'kworker/u9:0-events_unbound', ns: 9 * ms }], // ran for EROFS, then something else: 4 max
    [at('11'), { comm: 'kworker/u9:1-erofs_worker', ns: 4 * ms }], // picked up EROFS work: 3 max
    [at('12'), { comm: 'kworker/u8:2-loop0', ns: 2 * ms }], // our loop device throughout: 2
    [at('13'), { comm: 'ksoftirqd/0', ns: 3 * ms }],
    [at('14'), { comm: 'kworker/0:1-events', ns: 7 * ms }], // idle: nothing
    [at('15'), { comm: 'kworker/u9:2-erofs_worker', ns: 1 * ms }], // born meanwhile, EROFS: 1
    [at('16'), { comm: 'kworker/u8:3-loop1', ns: 5 * ms }], // someone else's loop device: other
    [at('17'), { comm: 'kworker/u9:5-erofs_worker', ns: 3 * ms }], // EROFS throughout: 2
    [at('18'), { comm: 'kworker/u8:4+loop0', ns: 4 * ms }], // running our loop device's work now: born, 4
  ]);
  t.deepEqual(kthreadDelta(a, b, { loops: ['loop0'], foreign: 0 }), {
    erofs: 1 + 2,
    loop: 2 + 4,
    erofsMax: 4 + 3 + 1 + 2,
    loopMax: 2 + 4,
    other: 1 + 5,
  });
  t.is(kthreadDelta(null, b, { loops: ['loop0'], foreign: 0 }), null);
  // Another EROFS mount on the machine: its decompression would be charged to us, so nothing is.
  t.is(kthreadDelta(a, b, { loops: ['loop0'], foreign: 1 }), null);
  // A pid reused by a new thread (another start time) is a new thread: all its time, under its name.
  const reused = new Map([[`12@200`, { comm: 'kworker/u8:2-loop0', ns: 1 * ms }]]);
  t.deepEqual(kthreadDelta(a, reused, { loops: ['loop0'], foreign: 0 }), {
    erofs: 0,
    loop: 1,
    erofsMax: 0,
    loopMax: 1,
    other: 0,
  });
});

test('our loop devices and the other EROFS mounts come from the mount table', (t) => {
  const info = [
    '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw',
    '101 22 7:3 / /tmp/b/0 ro,relatime shared:50 - erofs /dev/loop3 ro,user_xattr,acl,cache_strategy=readaround',
    '102 22 7:4 / /tmp/b/1 ro,relatime shared:51 - erofs /dev/loop4 ro',
    '103 22 7:9 / /mnt/other ro,relatime - erofs /dev/loop9 ro',
    '104 22 0:40 / /tmp/b/2 rw - tmpfs tmpfs rw',
  ].join('\n');
  t.deepEqual(erofsMounts(['/tmp/b/0', '/tmp/b/1'], info), { loops: ['loop3', 'loop4'], foreign: 1 });
  t.deepEqual(erofsMounts(['/tmp/b/0', '/tmp/b/1', '/mnt/other'], info), {
    loops: ['loop3', 'loop4', 'loop9'],
    foreign: 0,
  });
});
