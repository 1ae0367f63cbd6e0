// Medians over repetitions. Throughput is reported in MiB/s (2^20 bytes per second); a ratio is the
// ratio of two median throughputs measured in the same run.
import type { ScenarioSpec, RatioSpec } from './scenarios.ts';
import type { BusyReport } from './machine.ts';
import type { KThreadCpu } from './kthreads.ts';
import { bimodality, type Bimodality } from './modes.ts';
import { Rng } from '../packages/workers/src/stress/rng.ts';

export const MiB = 1024 * 1024;

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export interface Throughput {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

export interface ScenarioResult {
  readonly id: string;
  readonly label: string;
  readonly family: string;
  readonly cache: string;
  readonly threads: number | 'main';
  readonly available: boolean;
  /** Why not measured (when not available). */
  readonly reason?: string;
  readonly files: number;
  readonly bytes: number;
  readonly runsMs: number[];
  /** CPU time of the whole bench process (every thread: user + system) during each sample. */
  readonly runsCpuMs: number[];
  readonly medianMs: number | null;
  /** MiB/s over the samples. */
  readonly mibps: Throughput | null;
  /**
   * Median MiB per CPU-second: what the reading costs in CPU, whatever else the machine runs. On a
   * loaded machine wall-clock figures move with the load; this one moves much less.
   */
  readonly mibPerCpuSecond: number | null;
  /**
   * Loop-mount scenarios: the kernel threads' CPU during each sample (EROFS decompression workers, loop
   * device workers, the rest), ms — the work the kernel does for the read outside the reading threads.
   */
  readonly runsKthreadMs?: readonly KThreadCpu[];
  /** Median MiB per CPU-second counting the bench process and the EROFS and loop kernel workers. */
  readonly mibPerCpuSecondWithKthreads?: number | null;
  /** CPUs busy while this scenario's samples ran: the bench's and everything else's. */
  readonly busy: BusyReport | null;
  /** The sample times fall into a fast and a slow group (bench/modes.ts says how that is decided); else null. */
  readonly bimodal: Bimodality | null;
}

export type Verdict = 'PASS' | 'MISS' | 'n/a' | 'info';

export interface RatioResult {
  readonly id: string;
  readonly label: string;
  readonly value: number | null;
  /** The same ratio of median MiB per CPU-second (context; verdicts use wall-clock MiB/s). */
  readonly cpuValue: number | null;
  readonly target: number | null;
  readonly verdict: Verdict;
  readonly reason?: string;
  /** For a MISS: what limits it, from this run's own measurements. */
  readonly limit?: string;
  /**
   * How closely this run pins the ratio down: the 5th and 95th percentiles of the ratio of medians over
   * bootstrap resamples of the two scenarios' samples (see ratioSpread).
   */
  readonly interval?: readonly [number, number];
  /** The median over passes of the ratio of the two samples each pass took (see ratioSpread). */
  readonly paired?: number;
}

const round = (x: number, d: number): number => Math.round(x * 10 ** d) / 10 ** d;

export function scenarioResult(
  s: ScenarioSpec,
  files: number,
  bytes: number,
  runsMs: number[],
  runsCpuMs: number[],
  busy: BusyReport | undefined,
  reason?: string,
  runsKthread?: readonly (KThreadCpu | null)[],
): ScenarioResult {
  const base = { id: s.id, label: s.label, family: s.family, cache: s.cache, threads: s.threads, files, bytes };
  if (reason !== undefined || runsMs.length === 0) {
    return {
      ...base,
      available: false,
      reason: reason ?? 'not measured',
      runsMs: [],
      runsCpuMs: [],
      medianMs: null,
      mibps: null,
      mibPerCpuSecond: null,
      busy: null,
      bimodal: null,
    };
  }
  const mibps = (ms: number): number => round(bytes / MiB / (ms / 1000), 1);
  const med = median(runsMs);
  return {
    ...base,
    available: true,
    runsMs: runsMs.map((x) => round(x, 3)),
    runsCpuMs: runsCpuMs.map((x) => round(x, 3)),
    medianMs: round(med, 3),
    mibps: { median: mibps(med), min: mibps(Math.max(...runsMs)), max: mibps(Math.min(...runsMs)) },
    mibPerCpuSecond: runsCpuMs.length > 0 ? mibps(Math.max(median(runsCpuMs), 0.001)) : null,
    busy: busy ?? null,
    bimodal: bimodality(runsMs),
    ...kthreadFigures(runsCpuMs, runsKthread, mibps),
  };
}

function kthreadFigures(
  runsCpuMs: readonly number[],
  runsKthread: readonly (KThreadCpu | null)[] | undefined,
  mibps: (ms: number) => number,
): Pick<ScenarioResult, 'runsKthreadMs' | 'mibPerCpuSecondWithKthreads'> {
  if (!runsKthread || runsKthread.length !== runsCpuMs.length || runsKthread.some((k) => k === null)) return {};
  const ks = runsKthread as readonly KThreadCpu[];
  const all = runsCpuMs.map((c, i) => c + ks[i].erofs + ks[i].loop);
  return {
    runsKthreadMs: ks.map((k) => ({
      erofs: round(k.erofs, 3),
      loop: round(k.loop, 3),
      erofsMax: round(k.erofsMax, 3),
      loopMax: round(k.loopMax, 3),
      other: round(k.other, 3),
    })),
    mibPerCpuSecondWithKthreads: all.length > 0 ? mibps(Math.max(median(all), 0.001)) : null,
  };
}

export function ratioResult(rs: RatioSpec, byId: ReadonlyMap<string, ScenarioResult>): RatioResult {
  const a = byId.get(rs.num);
  const b = byId.get(rs.den);
  const target = rs.target ?? null;
  if (!a?.mibps || !b?.mibps) {
    const missing = [a, b].filter((x) => !x?.mibps).map((x) => `${x?.id}: ${x?.reason ?? 'not measured'}`);
    return {
      id: rs.id,
      label: rs.label,
      value: null,
      cpuValue: null,
      target,
      verdict: target === null ? 'info' : 'n/a',
      reason: missing.join('; '),
    };
  }
  const value = round(a.mibps.median / b.mibps.median, 3);
  const cpuValue =
    a.mibPerCpuSecond !== null && b.mibPerCpuSecond !== null ? round(a.mibPerCpuSecond / b.mibPerCpuSecond, 3) : null;
  const verdict: Verdict = target === null ? 'info' : value >= target ? 'PASS' : 'MISS';
  const spread = ratioSpread(a.bytes, a.runsMs, b.bytes, b.runsMs);
  const r = { id: rs.id, label: rs.label, value, cpuValue, target, verdict, ...spread };
  return verdict === 'MISS' ? { ...r, limit: limitOf(rs, a, b, byId) } : r;
}

/** Resamples of the bootstrap: enough that its 5th and 95th percentiles move by well under 0.01×. */
export const BOOTSTRAP_ROUNDS = 2000;

/** Fewer samples than this a scenario give no interval and no paired figure (`--quick` takes 2). */
export const SPREAD_MIN_SAMPLES = 3;

/**
 * How much one run says about the ratio (bytes A per ms) / (bytes B per ms) of medians, from the samples.
 * Sample i of every scenario is taken in the same repetition of the bench (the same pass of it): for two
 * scenarios of one family call (2 workers and 1, shared and unshared) seconds apart, for scenarios of two
 * families (ours and the kernel's tree) within one repetition, the families' order rotating.
 *  - `interval`: the 5th and 95th percentiles of that ratio over BOOTSTRAP_ROUNDS resamples. With as many
 *    samples on both sides, a resample draws passes (sample i of both together), so that what moved both
 *    alike in a pass moves both alike in the resample; otherwise each side's samples are drawn on their
 *    own. On a machine whose speed wanders between samples this is wide, and a target inside it is one
 *    this run cannot decide;
 *  - `paired`: with as many samples on both sides, the median of the per-pass ratios: a change of the
 *    machine's speed from one repetition to the next cancels out of each, which the ratio of medians
 *    does not see (within a repetition, only as far as the two samples are close in time).
 * Neither changes a verdict: verdicts are the ratio of medians, as the targets are stated.
 */
export function ratioSpread(
  bytesA: number,
  msA: readonly number[],
  bytesB: number,
  msB: readonly number[],
): { interval?: [number, number]; paired?: number } {
  if (msA.length < SPREAD_MIN_SAMPLES || msB.length < SPREAD_MIN_SAMPLES) return {};
  const aligned = msA.length === msB.length;
  // Seeded (the stress harness's generator), so that one run's samples always give the same interval.
  const rng = new Rng(0x15ba7e);
  const ra: number[] = new Array<number>(msA.length);
  const rb: number[] = new Array<number>(msB.length);
  const ratios: number[] = [];
  for (let k = 0; k < BOOTSTRAP_ROUNDS; k++) {
    for (let i = 0; i < msA.length; i++) {
      const j = rng.int(msA.length);
      ra[i] = msA[j];
      if (aligned) rb[i] = msB[j];
    }
    if (!aligned) for (let i = 0; i < msB.length; i++) rb[i] = msB[rng.int(msB.length)];
    ratios.push(bytesA / median(ra) / (bytesB / median(rb)));
  }
  ratios.sort((x, y) => x - y);
  // As many resamples below the interval as above it.
  const cut = Math.floor(0.05 * ratios.length);
  const out: { interval: [number, number]; paired?: number } = {
    interval: [round(ratios[cut], 3), round(ratios[ratios.length - 1 - cut], 3)],
  };
  if (aligned) out.paired = round(median(msA.map((x, i) => bytesA / x / (bytesB / msB[i]))), 3);
  return out;
}

/**
 * What this run measured that explains a MISS: the same ratio per CPU-second (if that meets the target,
 * the wall-clock miss is CPU time the bench did not get), how many CPUs other processes held meanwhile,
 * and for a 2-thread / 1 ratio what the machine's bare copy gains from a second thread.
 */
function limitOf(
  rs: RatioSpec,
  a: ScenarioResult,
  b: ScenarioResult,
  byId: ReadonlyMap<string, ScenarioResult>,
): string {
  const parts: string[] = [];
  const cpu = a.mibPerCpuSecond !== null && b.mibPerCpuSecond !== null ? a.mibPerCpuSecond / b.mibPerCpuSecond : null;
  if (cpu !== null)
    parts.push(`per CPU-second ${cpu.toFixed(2)}× (${cpu >= (rs.target ?? 0) ? 'meets' : 'misses'} the target)`);
  const other = (r: ScenarioResult): string => (r.busy ? r.busy.otherCpus.toFixed(2) : '?');
  parts.push(`other processes held ${other(a)} CPUs during ${a.id}, ${other(b)} during ${b.id}`);
  if (a.family === b.family && a.threads !== b.threads) {
    const m1 = byId.get('mem.copy.1t')?.mibps?.median;
    const m2 = byId.get('mem.copy.2t')?.mibps?.median;
    if (m1 && m2)
      parts.push(`the machine's bare 4 KiB copy gains ${(m2 / m1).toFixed(2)}× from a second thread in this run`);
    if (a.busy) parts.push(`${a.id} used ${a.busy.benchCpus.toFixed(2)} CPUs of the 2 it needs`);
  }
  return parts.join('; ');
}
