// What the experiment commands (read, compare, demo) share: loading the pool lazily (other commands
// start without it), reading a trace file, and turning the experiment's refusals into usage errors.
import { readFileSync } from 'node:fs';
import type { ParsedTrace } from '@ishare/workers';
import { UsageError } from './errors.ts';

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
    const code = (e as { code?: unknown }).code;
    if (code === 'ENOENT') throw new UsageError(`${path}: no such file`);
    if (code === 'EISDIR') throw new UsageError(`${path}: is a directory, not a trace`);
    throw e;
  }
  let parsed: ParsedTrace;
  try {
    parsed = w.parseTraceDetailed(text);
  } catch (e) {
    if (e instanceof w.TraceError) throw new UsageError(`${path}: ${e.message}`);
    throw e;
  }
  if (parsed.ops.length === 0) {
    throw new UsageError(`${path}: no reads found (expected "PATH OFFSET LENGTH" lines or strace -e trace=openat,read,pread64 output)`);
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
