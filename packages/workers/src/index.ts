export { ReaderPool } from './pool.ts';
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
