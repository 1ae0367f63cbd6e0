// The bench's ratio spread (bench/stats.ts ratioSpread, bench/report.ts) and the pooling of runs
// (bench/pool.ts): the interval and the paired figure on samples whose answers follow from arithmetic.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ratioSpread, ratioResult, type ScenarioResult, type RatioResult } from '../bench/stats.ts';
import { ratioTable } from '../bench/report.ts';
import { seededBytes, tempDir, removeDir } from './helpers/trees.ts';

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

test('scenarios with different numbers of samples get an interval but no paired figure; too few get neither', (t) => {
  const s = ratioSpread(1000, [100, 110, 120, 130], 1000, [100, 110, 120]);
  t.truthy(s.interval);
  t.is(s.paired, undefined);
  t.deepEqual(ratioSpread(1000, [100, 110], 1000, [100, 110]), {});
});

test('the interval is the 5th to 95th percentile, not the extremes', (t) => {
  // A: one pass at 100 ms and six at 200 against B's steady 100 ms. A resample's median of A is 100 only
  // when four or more of its seven draws are that one pass: about 1% of resamples (ratio 1.0x, B/A of
  // the times), the others 0.5x. So both percentiles are 0.5x, while the largest resample is 1.0x.
  const s = ratioSpread(1000, [100, 200, 200, 200, 200, 200, 200], 1000, [100, 100, 100, 100, 100, 100, 100]);
  t.deepEqual(s.interval, [0.5, 0.5]);
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

// bench/pool.ts: several runs' results files, their samples pooled.
const REPO = fileURLToPath(new URL('../', import.meta.url));
const TSX = join(REPO, 'node_modules', '.bin', 'tsx');

function resultsFile(dir: string, name: string, files: number, warm1: number[], warm2: number[]): string {
  const sc = (id: string, runsMs: number[]): object => ({
    id,
    available: true,
    files,
    bytes: 300 * 2 ** 20,
    runsMs,
    runsCpuMs: runsMs,
  });
  const p = join(dir, name);
  writeFileSync(
    p,
    JSON.stringify({
      startedAt: name,
      options: { compress: null, split: 1048576, chunkBytes: 131072, warmRounds: 3, copies: 1 },
      data: { label: 'synthetic', files, bytes: 100 * 2 ** 20 },
      machine: { busy: { otherCpus: 0 } },
      scenarios: [sc('ours.warm.1w', warm1), sc('ours.warm.2w', warm2)],
    }),
  );
  return p;
}

test('pool: the ratio of two runs pooled is the ratio of the pooled medians; other data is refused in one line', (t) => {
  const dir = tempDir('bench-pool');
  try {
    // 1 worker: 100, 100, 100 ms in run 1 and 200, 200 in run 2 (pooled median 100); 2 workers: 60 ×3
    // and 80 ×2 (pooled median 60): 100/60 = 1.67x, under the 1.7x target. Per pass: 1.67x three times
    // and 2.5x twice, so the paired median is 1.67x too. A resample draws passes, both sides together:
    // three or more of its five draws from run 1 (probability 0.68) give medians 100 and 60 (1.67x),
    // else 200 and 80 (2.5x): the 5th and 95th percentiles.
    const a = resultsFile(dir, 'a.json', 10, [100, 100, 100], [60, 60, 60]);
    const b = resultsFile(dir, 'b.json', 10, [200, 200], [80, 80]);
    const r = spawnSync(TSX, ['--conditions=source', join(REPO, 'bench', 'pool.ts'), a, b], {
      cwd: REPO,
      encoding: 'utf8',
    });
    t.is(r.status, 0, r.stderr);
    t.regex(r.stdout, /2 runs of synthetic .* 5 samples a scenario/);
    const row = r.stdout.split('\n').find((l) => l.includes('ours.warm.2w / ours.warm.1w'));
    t.truthy(row, r.stdout);
    t.regex(row!, /1\.67× .*≥ 1\.7× .*MISS .*1\.67–2\.50 .*1\.67×/);
    const c = resultsFile(dir, 'c.json', 11, [100], [50]);
    const bad = spawnSync(TSX, ['--conditions=source', join(REPO, 'bench', 'pool.ts'), a, c], {
      cwd: REPO,
      encoding: 'utf8',
    });
    t.is(bad.status, 2);
    t.is(bad.stderr.trim().split('\n').length, 1, bad.stderr);
    t.regex(bad.stderr, /c\.json measured other data or options than .*a\.json/);
  } finally {
    removeDir(dir);
  }
});

test('the report lists a target an interval reaches from below, not one it only touches from above', (t) => {
  const r = (id: string, value: number, interval: [number, number]): RatioResult => ({
    id,
    label: id,
    value,
    cpuValue: null,
    target: 0.95,
    verdict: value >= 0.95 ? 'PASS' : 'MISS',
    interval,
  });
  const text = ratioTable([r('above', 1.0, [0.95, 1.2]), r('touching', 0.9, [0.8, 0.95])]);
  const notes = text.slice(text.indexOf('targets inside'));
  t.regex(notes, /\n {2}touching: MISS at 0\.90×/);
  t.notRegex(notes, /\n {2}above:/);
});
