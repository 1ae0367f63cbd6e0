// What the experiment commands (read, compare, demo) share: loading the pool lazily (other commands
// start without it), reading a trace file, and turning the experiment's refusals into usage errors.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ExperimentOptions, ParsedTrace } from '@ishare/workers';
import { fileError, UsageError } from './errors.ts';
import { inputLabel } from './image-cache.ts';

export type WorkersModule = typeof import('@ishare/workers');

export async function loadWorkers(): Promise<WorkersModule> {
  return await import('@ishare/workers');
}

/** A trace file as ops; a malformed ranges line or a trace with no reads is bad input (exit 2). */
export function readTraceFile(w: WorkersModule, path: string): ParsedTrace {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw fileError(path, e);
  }
  let parsed: ParsedTrace;
  try {
    parsed = w.parseTraceDetailed(text);
  } catch (e) {
    if (e instanceof w.TraceError) throw new UsageError(`${path}: ${e.message}`);
    throw e;
  }
  if (parsed.ops.length === 0) {
    throw new UsageError(
      `${path}: no reads found (expected "PATH OFFSET LENGTH" lines or strace -e trace=openat,read,pread64 output)`,
    );
  }
  return parsed;
}

/** Run an experiment step; a pool too small, too few images or bad settings become one usage line. */
export async function asUsage<T>(w: WorkersModule, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof w.ExperimentError) throw new UsageError(e.message);
    throw e;
  }
}

/** The traces of one run: one for every image, or one per image (`--trace IMG=FILE`). */
export interface RunTraces {
  /** For ExperimentOptions: `trace` (one for all) or `traces` (index-aligned with the inputs). */
  readonly options: Pick<ExperimentOptions, 'trace' | 'traces'>;
  /** Every distinct trace file read, for the report (format, unresolved strace lines). */
  readonly parsed: readonly { file: string; trace: ParsedTrace }[];
}

/** Which input `key` names: as given, the same path, or its short label (`redis-7.2.4` for redis-7.2.4.tar). */
function matchInput(key: string, inputs: readonly string[]): number | undefined {
  const exact = inputs.indexOf(key);
  if (exact >= 0) return exact;
  const byPath = inputs.findIndex((x) => resolve(x) === resolve(key));
  if (byPath >= 0) return byPath;
  const byLabel = inputs.map((x, i) => [inputLabel(x), i] as const).filter(([l]) => l === key);
  return byLabel.length === 1 ? byLabel[0][1] : undefined;
}

/**
 * `--trace FILE` (every image not named otherwise) and `--trace IMG=FILE` (that image only), as the
 * seed runs one container per image with its own workload. A value is IMG=FILE when the part before an
 * `=` names one of the inputs; a file whose own name has an `=` still works as a plain trace.
 */
export function readTraces(
  w: WorkersModule,
  specs: readonly string[] | undefined,
  inputs: readonly string[],
): RunTraces | undefined {
  if (specs === undefined || specs.length === 0) return undefined;
  let common: string | undefined;
  const perInput = new Map<number, string>();
  for (const spec of specs) {
    let target: number | undefined;
    let file = spec;
    for (let eq = spec.indexOf('='); eq > 0 && target === undefined; eq = spec.indexOf('=', eq + 1)) {
      const i = matchInput(spec.slice(0, eq), inputs);
      if (i !== undefined && spec.length === eq + 1) throw new UsageError(`--trace ${spec}: no trace file after '='`);
      if (i !== undefined) {
        target = i;
        file = spec.slice(eq + 1);
      }
    }
    if (target === undefined && spec.includes('=') && !existsSync(spec)) {
      throw new UsageError(
        `--trace ${spec}: ${spec.slice(0, spec.indexOf('='))} is not one of the images given (expected IMG=FILE or FILE)`,
      );
    }
    if (target === undefined) {
      if (common !== undefined)
        throw new UsageError(
          `--trace ${spec}: a trace for every image was already given (${common}); name the image: --trace IMG=FILE`,
        );
      common = file;
    } else {
      if (perInput.has(target))
        throw new UsageError(`--trace ${spec}: ${inputs[target]} already has a trace (${perInput.get(target)})`);
      perInput.set(target, file);
    }
  }
  const cache = new Map<string, ParsedTrace>();
  const load = (file: string): ParsedTrace => {
    let t = cache.get(file);
    if (t === undefined) {
      t = readTraceFile(w, file);
      cache.set(file, t);
    }
    return t;
  };
  if (perInput.size === 0 && common !== undefined) {
    const trace = load(common);
    return { options: { trace: trace.ops }, parsed: [{ file: common, trace }] };
  }
  const traces = inputs.map((input, i) => {
    const file = perInput.get(i) ?? common;
    if (file === undefined)
      throw new UsageError(
        `no trace for ${input}: give --trace ${input}=FILE, or a --trace FILE for the images not named`,
      );
    return load(file).ops;
  });
  return { options: { traces }, parsed: [...cache].map(([file, trace]) => ({ file, trace })) };
}
