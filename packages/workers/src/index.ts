export { ReaderPool } from './pool.ts';
// The emitted .d.ts uses Node's types (Buffer, worker_threads, streams): this directive, kept in
// dist/index.d.ts, makes a consumer's compiler load @types/node without "types": ["node"] in its tsconfig
// (TypeScript 6+ loads no @types package by default).
/// <reference types="node" preserve="true" />
export type { PoolOptions, ReadSummary } from './pool.ts';
export type { ReaderTask, ReaderResult, ReadFilesTask, ReadClaimedTask, RangesTask } from './tasks.ts';
export {
  runRead,
  runCompare,
  checkMeasurement,
  checkMemory,
  DEFAULT_DOMAIN_ID,
  ExperimentError,
  PoolTooSmallError,
  MemoryLimitError,
  AUTO_POOL_CAP_MIB,
  MAX_POOL_MIB,
  MAX_WORKERS,
} from './experiment.ts';
export { memoryBudget, describeBudget, parseMeminfo, parseProcCgroup, parseMountinfo, cgroupDir } from './memory.ts';
export type { MemoryBudget, MemorySource } from './memory.ts';
export type {
  ExperimentOptions,
  RunReadOptions,
  ExperimentProgress,
  Phase,
  PhaseStats,
  ImageStats,
  FileResidency,
  ReadResult,
  CompareResult,
  ServedBy,
  TraceSummary,
} from './experiment.ts';
export { parseTrace, parseTraceDetailed, normalizePath, TraceError } from './trace.ts';
export type { TraceOp, TraceFormat, ParsedTrace } from './trace.ts';
export { runStress } from './stress/controller.ts';
export type { StressOptions, StressReport } from './stress/controller.ts';
export { buildDecoys } from './stress/decoys.ts';
export { StressReferenceError } from './stress/reference.ts';
