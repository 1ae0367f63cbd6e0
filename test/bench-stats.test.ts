// The bench's ratio spread (bench/stats.ts ratioSpread, bench/report.ts): the interval and the paired
// figure on samples whose answers follow from arithmetic.
import test from 'ava';
import { ratioSpread, ratioResult, type ScenarioResult } from '../bench/stats.ts';
import { ratioTable } from '../bench/report.ts';
import { seededBytes } from './helpers/trees.ts';

test('samples that never vary give a point interval at the exact ratio', (t) => {
  // 1000 bytes in 100 ms against 1000 bytes in 200 ms: twice as fast, in every resample and every pass.
  const s = ratioSpread(1000, [100, 100, 100, 100], 1000, [200, 200, 200, 200]);
  t.deepEqual(s.interval, [2, 2]);
  t.is(s.paired, 2);
});

test('pairing by pass cancels a change of speed between passes that the medians keep', (t) => {
  // Pass by pass B takes 1.5, 1.25, 1.5 times A's time (A is that much faster in each pass), while
  // the machine slowed down across passes: the medians are 200 and 250 ms (1.25x), the per-pass
  // ratios' median is 1.5x.
  const s = ratioSpread(1000, [100, 200, 300], 1000, [150, 250, 450]);
  t.is(s.paired, 1.5);
  t.truthy(s.interval);
});

test('the interval holds the ratio of medians, is ordered and is the same for the same samples', (t) => {
  const a = [...seededBytes(15, 7)].map((x) => 100 + x);
  const b = [...seededBytes(15, 8)].map((x) => 150 + x);
  const med = (xs: number[]): number => [...xs].sort((x, y) => x - y)[7];
  const value = 4096 / med(a) / (4096 / med(b));
  const s = ratioSpread(4096, a, 4096, b);
  const [lo, hi] = s.interval!;
  t.true(lo <= value + 1e-3 && value - 1e-3 <= hi, `${value} in ${lo}..${hi}`);
  t.true(lo < hi);
  t.deepEqual(ratioSpread(4096, a, 4096, b), s);
});

test('scenarios with different numbers of samples get an interval but no paired figure', (t) => {
  const s = ratioSpread(1000, [100, 110, 120], 1000, [100, 110]);
  t.truthy(s.interval);
  t.is(s.paired, undefined);
  t.deepEqual(ratioSpread(1000, [100], 1000, [100]), {});
});

function scenario(id: string, runsMs: number[]): ScenarioResult {
  const bytes = 100 * 2 ** 20;
  const sorted = [...runsMs].sort((x, y) => x - y);
  const med = sorted[sorted.length >> 1];
  return {
    id,
    label: id,
    family: 'ours',
    cache: 'warm',
    threads: 1,
    available: true,
    files: 1,
    bytes,
    runsMs,
    runsCpuMs: runsMs,
    medianMs: med,
    mibps: { median: 100 / (med / 1000), min: 100 / (sorted.at(-1)! / 1000), max: 100 / (sorted[0] / 1000) },
    mibPerCpuSecond: 100 / (med / 1000),
    busy: null,
    bimodal: null,
  };
}

test('the report names a target that lies inside its ratio interval, and not one far from it', (t) => {
  // x: samples spread 100..300 ms against a steady 200 ms: the ratio of medians is 1.0 and resamples
  // range far on both sides of a 0.95 target. y: a steady 100 ms against 200 ms, 2x, far from it.
  const spreadMs = [100, 300, 120, 280, 140, 260, 160, 240, 200];
  const byId = new Map<string, ScenarioResult>([
    ['x.num', scenario('x.num', spreadMs)],
    [
      'x.den',
      scenario(
        'x.den',
        spreadMs.map(() => 200),
      ),
    ],
    [
      'y.num',
      scenario(
        'y.num',
        spreadMs.map(() => 100),
      ),
    ],
  ]);
  const x = ratioResult({ id: 'x', label: 'x', num: 'x.num', den: 'x.den', target: 0.95 }, byId);
  const y = ratioResult({ id: 'y', label: 'y', num: 'y.num', den: 'x.den', target: 0.95 }, byId);
  t.is(x.verdict, 'PASS');
  t.true(x.interval![0] < 0.95 && x.interval![1] >= 0.95);
  t.deepEqual(y.interval, [2, 2]);
  const text = ratioTable([x, y]);
  const notes = text.slice(text.indexOf('targets inside'));
  t.true(text.includes('targets inside'), text);
  t.regex(notes, /\n {2}x: PASS at 1\.00×/);
  t.notRegex(notes, /\n {2}y:/);
});
