// Verdicts over several runs of `pnpm bench` together: each scenario's samples from every run pooled (in
// run order, so that sample i of two scenarios still comes from one pass of one run and the `paired`
// column keeps its meaning), then the ratio table as the bench prints it, from 15 × N samples a
// scenario instead of 15. On a machine whose speed wanders between samples one run pins a ratio down
// only to its 90% interval (docs/benchmarks.md); N runs narrow it.
// Usage: tsx --conditions=source bench/pool.ts RESULTS.json... (2 or more runs of the same data and
// options: bench/results/*.json)
import { readFileSync } from 'node:fs';
import { SCENARIOS, RATIOS } from './scenarios.ts';
import { scenarioResult, ratioResult, type ScenarioResult } from './stats.ts';
import { ratioTable } from './report.ts';
import type { BusyReport } from './machine.ts';

interface RunJson {
  startedAt: string;
  options: Record<string, unknown>;
  data: { label: string; files: number; bytes: number };
  machine: { busy?: { otherCpus: number } | null };
  scenarios: {
    id: string;
    available: boolean;
    files: number;
    bytes: number;
    runsMs: number[];
    runsCpuMs: number[];
    busy?: BusyReport | null;
  }[];
}

function fail(msg: string): never {
  process.stderr.write(`pool: ${msg}\n`);
  process.exit(2);
}

const files = process.argv.slice(2);
if (files.length < 2) fail('usage: tsx --conditions=source bench/pool.ts RESULTS.json RESULTS.json...');
const runs: RunJson[] = files.map((f) => {
  let j: RunJson;
  try {
    j = JSON.parse(readFileSync(f, 'utf8')) as RunJson;
  } catch (e) {
    return fail(`${f}: ${(e as Error).message.split('\n')[0]}`);
  }
  if (!Array.isArray(j.scenarios) || !j.data || !j.options) fail(`${f}: not a results file of pnpm bench`);
  return j;
});
// Pooling is only meaningful over the same work: same data, same options that shape a sample.
const shape = (r: RunJson): string =>
  JSON.stringify([
    r.data.label,
    r.data.files,
    r.data.bytes,
    ...['compress', 'split', 'chunkBytes', 'warmRounds', 'copies'].map((k) => r.options[k] ?? null),
  ]);
for (const [i, r] of runs.entries())
  if (shape(r) !== shape(runs[0])) fail(`${files[i]} measured other data or options than ${files[0]}`);

const pooled: ScenarioResult[] = SCENARIOS.map((spec) => {
  const ss = runs.map((r) => r.scenarios.find((s) => s.id === spec.id));
  const measured = ss.filter((s) => s?.available && s.runsMs.length > 0);
  const first = measured[0];
  if (!first || measured.length !== runs.length)
    return scenarioResult(
      spec,
      0,
      0,
      [],
      [],
      undefined,
      `not measured in every run (${measured.length} of ${runs.length})`,
    );
  return scenarioResult(
    spec,
    first.files,
    first.bytes,
    measured.flatMap((s) => s!.runsMs),
    measured.flatMap((s) => s!.runsCpuMs),
    pooledBusy(measured.map((s) => s!.busy)),
  );
});
/** The runs' CPU figures over all their samples of a scenario: averages weighted by the seconds measured. */
function pooledBusy(bs: readonly (BusyReport | null | undefined)[]): BusyReport | undefined {
  if (bs.some((b) => !b)) return undefined;
  const all = bs as readonly BusyReport[];
  const seconds = all.reduce((n, b) => n + b.seconds, 0);
  if (!(seconds > 0)) return undefined;
  const avg = (k: 'busyCpus' | 'benchCpus' | 'otherCpus'): number =>
    Math.round((all.reduce((n, b) => n + b[k] * b.seconds, 0) / seconds) * 100) / 100;
  return { seconds, busyCpus: avg('busyCpus'), benchCpus: avg('benchCpus'), otherCpus: avg('otherCpus') };
}

const byId = new Map(pooled.map((r) => [r.id, r]));
const n = pooled.find((r) => r.available)?.runsMs.length ?? 0;
const other = runs.map((r) => r.machine.busy?.otherCpus?.toFixed(2) ?? '?').join(', ');
console.log(
  `${runs.length} runs of ${runs[0].data.label} (${runs.map((r) => r.startedAt).join(', ')}), ${n} samples a scenario; other processes held ${other} CPUs during each run's timed samples`,
);
console.log(
  ratioTable(
    RATIOS.map((r) => ratioResult(r, byId)),
    `these ${runs.length} runs`,
  ),
);
