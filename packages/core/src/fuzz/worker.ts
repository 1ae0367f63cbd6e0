// The fuzz worker's side of the protocol: build the seeds' maps and oracles once, then answer one
// message per image. Everything about an image is regenerated here from (run seed, index), so the
// messages carry numbers, not images, and a terminated worker loses nothing the runner cannot redo.
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { join } from 'node:path';
import { checkImage } from './check.ts';
import { FuzzKernel } from './kernel-pass.ts';
import { generateImage, prepareSeed, type SeedImage } from './mutate.ts';
import { buildOracle, type SeedOracle } from './oracle.ts';
import type { CheckOutcome } from './outcome.ts';

/** fsck.erofs's time limit per image in the differential pass (added to the image's own limit). */
export const DEFAULT_FSCK_TIMEOUT_MS = 5000;

export interface WorkerInit {
  readonly module: string;
  readonly seeds: readonly { readonly name: string; readonly bytes: Uint8Array }[];
  readonly runSeed: number;
  readonly scratchDir: string;
  readonly readCap: number;
  readonly kernel: boolean;
  /** Upstream fsck.erofs for the differential pass, and its time limit per image. */
  readonly fsck?: string;
  readonly fsckTimeoutMs?: number;
}

export type WorkerTask =
  { readonly type: 'check'; readonly index: number } | { readonly type: 'replay'; readonly bytes: Uint8Array };

export type WorkerMessage =
  | { readonly type: 'ready' }
  | { readonly type: 'result'; readonly index: number; readonly seed: string; readonly outcome: CheckOutcome };

export type TaskCheck = (task: WorkerTask) => { seed: string; outcome: CheckOutcome };

/** The real checker: regenerate image `index`, check it against its seed's oracle. */
export function defaultCheck(init: WorkerInit): TaskCheck {
  const seeds: SeedImage[] = init.seeds.map((s) => prepareSeed(s.name, s.bytes));
  const oracles = new Map<string, SeedOracle>(seeds.map((s) => [s.name, buildOracle(s.bytes)]));
  const kernel = init.kernel
    ? new FuzzKernel(join(init.scratchDir, `worker-${process.pid}-${threadId}.img`))
    : undefined;
  const differential =
    init.fsck !== undefined
      ? {
          fsck: init.fsck,
          scratch: join(init.scratchDir, `diff-${process.pid}-${threadId}`),
          timeoutMs: init.fsckTimeoutMs ?? DEFAULT_FSCK_TIMEOUT_MS,
        }
      : undefined;
  const opts = { kernel, readCap: init.readCap, ...(differential ? { differential } : {}) };
  return (task) => {
    if (task.type === 'replay') {
      return { seed: 'replay', outcome: checkImage({ bytes: task.bytes }, opts) };
    }
    const img = generateImage(seeds, init.runSeed, task.index);
    const touched = img.mutations.map((m) => [m.at, m.len] as const);
    return { seed: img.seed, outcome: checkImage({ bytes: img.bytes, oracle: oracles.get(img.seed), touched }, opts) };
  };
}

/** Run the worker loop with `makeCheck` (tests pass a stand-in to prove hangs are caught). */
export function serve(makeCheck: (init: WorkerInit) => TaskCheck): void {
  const port = parentPort;
  if (port === null) throw new Error('fuzz worker module loaded outside a worker thread');
  const init = workerData as WorkerInit;
  const check = makeCheck(init);
  port.on('message', (task: WorkerTask) => {
    const index = task.type === 'check' ? task.index : -1;
    const { seed, outcome } = check(task);
    const msg: WorkerMessage = { type: 'result', index, seed, outcome };
    port.postMessage(msg);
  });
  port.postMessage({ type: 'ready' } satisfies WorkerMessage);
}
