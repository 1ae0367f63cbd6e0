// The bench's bimodality test (bench/modes.ts) on synthetic samples: what it must flag and what not.
import test from 'ava';
import { bimodality } from '../bench/modes.ts';
import { seededBytes } from './helpers/trees.ts';

/** n samples around `center` ms, spread ±`jitter` (a fraction), from seeded bytes. */
function around(center: number, n: number, jitter: number, seed: number): number[] {
  const b = seededBytes(n, seed);
  return [...b].map((x) => center * (1 + jitter * ((x / 255) * 2 - 1)));
}

test('every third sample ten times slower is bimodal, with both groups reported', (t) => {
  // The shape issue 17 reported for disjoint.fill.1w: ~0.16 s, with every third sample ~1.6 s.
  const fast = around(160, 10, 0.05, 1);
  const slow = around(1600, 5, 0.05, 2);
  const samples: number[] = [];
  for (let i = 0; i < 15; i++) samples.push(i % 3 === 2 ? slow[(i - 2) / 3] : fast[i - Math.floor(i / 3)]);
  const b = bimodality(samples);
  t.truthy(b);
  t.is(b?.fast, 10);
  t.is(b?.slow, 5);
  t.true(Math.abs((b?.fastMedian ?? 0) - 160) < 10);
  t.true(Math.abs((b?.slowMedian ?? 0) - 1600) < 100);
  t.true((b?.gapRatio ?? 0) > 8);
});

test('samples around one value are not bimodal, however many', (t) => {
  t.is(bimodality(around(720, 15, 0.1, 3)), null);
  t.is(bimodality(around(720, 200, 0.2, 4)), null);
});

test('a single outlier is not bimodal', (t) => {
  t.is(bimodality([...around(160, 14, 0.05, 5), 1600]), null);
});

test('samples spread evenly over a wide range are not bimodal', (t) => {
  t.is(bimodality(Array.from({ length: 15 }, (_, i) => 100 * 1.15 ** i)), null);
});

test('two groups closer than 1.5x are not flagged, even when tight', (t) => {
  t.is(bimodality([...around(100, 6, 0.01, 6), ...around(140, 6, 0.01, 7)]), null);
  t.truthy(bimodality([...around(100, 6, 0.01, 8), ...around(160, 6, 0.01, 9)]));
});

test('too few samples, or none usable, are never bimodal', (t) => {
  t.is(bimodality([100, 1000, 1000]), null);
  t.is(bimodality([]), null);
  t.is(bimodality([0, -1, Number.NaN, 5]), null);
});
