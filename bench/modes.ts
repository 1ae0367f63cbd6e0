// Whether a scenario's samples fall into two groups (bimodal), e.g. every third sample ten times slower:
// a median then hides a slow path that runs some of the time. The test, on the sorted sample times
// (log scale, so that it does not depend on the unit or the data size):
//   for every split into a faster group and a slower group of at least MIN_GROUP samples each,
//   gap    = ln(slowest of the fast group → fastest of the slow group)
//   spread = the larger of the two groups' own ln(max / min)
//   the samples are bimodal when, at the split with the largest gap, gap ≥ ln(MIN_GAP_RATIO) and
//   gap ≥ SPREAD_FACTOR × spread.
// So two tight clusters far apart are flagged; a single outlier (a group of one) or samples spread
// evenly over a range are not. With fewer than 2 × MIN_GROUP samples nothing is flagged.

export const MIN_GROUP = 2;
export const MIN_GAP_RATIO = 1.5;
export const SPREAD_FACTOR = 2;

export interface Bimodality {
  /** Samples in the fast and slow groups. */
  readonly fast: number;
  readonly slow: number;
  /** Median sample time of each group, in the samples' unit (ms). */
  readonly fastMedian: number;
  readonly slowMedian: number;
  /** Fastest slow sample / slowest fast sample: the gap between the groups. */
  readonly gapRatio: number;
}

function med(s: readonly number[]): number {
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The two groups when the samples are bimodal (see the header for the test), else null. */
export function bimodality(samples: readonly number[]): Bimodality | null {
  const s = samples.filter((x) => Number.isFinite(x) && x > 0).sort((a, b) => a - b);
  if (s.length < 2 * MIN_GROUP) return null;
  const l = s.map(Math.log);
  let best = -1;
  let at = -1;
  for (let i = MIN_GROUP - 1; i < s.length - MIN_GROUP; i++) {
    const gap = l[i + 1] - l[i];
    if (gap > best) {
      best = gap;
      at = i;
    }
  }
  const spread = Math.max(l[at] - l[0], l[s.length - 1] - l[at + 1]);
  if (best < Math.log(MIN_GAP_RATIO) || best < SPREAD_FACTOR * spread) return null;
  const fast = s.slice(0, at + 1);
  const slow = s.slice(at + 1);
  return {
    fast: fast.length,
    slow: slow.length,
    fastMedian: med(fast),
    slowMedian: med(slow),
    gapRatio: Math.round((s[at + 1] / s[at]) * 100) / 100,
  };
}

/** One line for the summary: "ID: bimodal, 10 samples ~160 ms and 5 ~1600 ms (gap 8.2×)". */
export function bimodalLine(id: string, b: Bimodality): string {
  return `${id}: bimodal, ${b.fast} samples ~${b.fastMedian.toFixed(0)} ms and ${b.slow} ~${b.slowMedian.toFixed(0)} ms (gap ${b.gapRatio.toFixed(2)}×)`;
}
