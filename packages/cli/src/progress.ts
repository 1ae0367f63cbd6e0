// Progress for a person watching a terminal, one way for every command that can take more than a few
// seconds (mkfs, extract, fsck, the image builds of read/compare/stress; the experiment's phases have
// experiment-progress.ts, on the same library): a cli-progress bar on stderr when stderr is a TTY,
// nothing at all otherwise — into a pipe or a log, or with --json, stderr stays empty unless something
// fails, and then it holds the one error line. A bar clears itself when it stops, so it never leaves a
// status line in front of that error line either. cli-progress redraws from update() itself
// (synchronousUpdate), so a bar moves under synchronous work too (extract, fsck).
import cliProgress from 'cli-progress';
import { humanBytes } from './format.ts';

export interface Progress {
  /** `done` of `total` units so far; the first call shows the bar. */
  readonly update: (done: number, total: number) => void;
  /** Remove the bar (idempotent). */
  stop(): void;
}

const NONE: Progress = { update: () => {}, stop: () => {} };

/** Is there a person to show progress to? Only a terminal on stderr, and never in --json mode. */
export function showsProgress(json: boolean | undefined): boolean {
  return json !== true && process.stderr.isTTY;
}

export function progressBar(enabled: boolean, label: string, unit: 'bytes' | 'inodes' | 'steps'): Progress {
  if (!enabled || !process.stderr.isTTY) return NONE;
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${label} [{bar}] {percentage}% {doneText} / {totalText}`,
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  const text = (n: number): string => (unit === 'bytes' ? humanBytes(n) : `${n} ${unit}`);
  let started = false;
  let stopped = false;
  return {
    update: (done, total) => {
      if (stopped) return;
      const payload = { doneText: text(done), totalText: text(total) };
      if (!started) {
        bar.start(Math.max(1, total), done, payload);
        started = true;
      } else {
        bar.setTotal(Math.max(1, total));
        bar.update(done, payload);
      }
    },
    stop: () => {
      if (started && !stopped) bar.stop();
      stopped = true;
    },
  };
}
