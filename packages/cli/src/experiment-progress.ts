// A progress bar for the experiment's phases, on stderr, only for a person watching a terminal (never
// in --json mode, never into a pipe or a log): stdout stays the result alone.
import cliProgress from 'cli-progress';
import type { ExperimentProgress } from '@ishare/workers';

export interface PhaseBar {
  readonly onProgress: ((p: ExperimentProgress) => void) | undefined;
  stop(): void;
}

export function phaseBar(enabled: boolean, prefix = ''): PhaseBar {
  if (!enabled || !process.stderr.isTTY) return { onProgress: undefined, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${prefix}{phase} [{bar}] {value}/{total} {unit}`,
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  // A new bar for each phase and for each step of one (its mounts, then its reads).
  let phase: string | undefined;
  return {
    onProgress: (p) => {
      const step = `${p.phase}/${p.unit}`;
      if (step !== phase) {
        if (phase !== undefined) bar.stop();
        phase = step;
        bar.start(Math.max(1, p.total), p.done, { phase: p.phase.padEnd(8), unit: p.unit });
      } else {
        bar.update(p.done);
      }
    },
    stop: () => {
      if (phase !== undefined) bar.stop();
    },
  };
}
