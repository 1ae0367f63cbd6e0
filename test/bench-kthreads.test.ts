// The bench's accounting of the kernel's own threads (bench/kthreads.ts): what it reads from /proc and
// how it charges a kworker to EROFS, loop or neither.
import { existsSync, readFileSync } from 'node:fs';
import test from 'ava';
import { kthreadSnapshot, kthreadDelta } from '../bench/kthreads.ts';

test('the snapshot lists the kernel threads /proc shows: kthreadd itself and its children', (t) => {
  if (!existsSync('/proc/2/schedstat')) {
    t.log('no /proc/2/schedstat here (not Linux, or no schedstats): nothing to compare with');
    t.pass();
    return;
  }
  const snap = kthreadSnapshot();
  t.not(snap, null);
  const kthreadd = snap!.get('2');
  t.is(kthreadd?.comm, readFileSync('/proc/2/comm', 'utf8').trim());
  // Every thread listed is a child of kthreadd, as /proc/PID/stat says (those still alive).
  for (const [pid] of snap!) {
    if (pid === '2' || !existsSync(`/proc/${pid}/stat`)) continue;
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    t.is(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1], '2', pid);
  }
});

test('a kworker is charged to EROFS or loop by its name before or after; the rest to other', (t) => {
  const ms = 1e6;
  const a = new Map([
    ['10', { comm: 'kworker/u9:0-erofs_worker', ns: 5 * ms }],
    ['11', { comm: 'kworker/u9:1-events_unbound', ns: 1 * ms }],
    ['12', { comm: 'kworker/u8:2-loop0', ns: 0 }],
    ['13', { comm: 'ksoftirqd/0', ns: 2 * ms }],
    ['14', { comm: 'kworker/0:1-events', ns: 7 * ms }],
  ]);
  const b = new Map([
    ['10', { comm: 'kworker/u9:0-events_unbound', ns: 9 * ms }], // ran for EROFS, then for something else
    ['11', { comm: 'kworker/u9:1-erofs_worker', ns: 4 * ms }], // picked up EROFS work during the interval
    ['12', { comm: 'kworker/u8:2-loop0', ns: 2 * ms }],
    ['13', { comm: 'ksoftirqd/0', ns: 3 * ms }],
    ['14', { comm: 'kworker/0:1-events', ns: 7 * ms }], // idle: nothing
    ['15', { comm: 'kworker/u9:2-erofs_worker', ns: 1 * ms }], // appeared meanwhile: all of it
  ]);
  t.deepEqual(kthreadDelta(a, b), { erofs: 4 + 3 + 1, loop: 2, other: 1 });
  t.is(kthreadDelta(null, b), null);
});
