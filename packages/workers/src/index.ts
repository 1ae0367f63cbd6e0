export { ReaderPool } from './pool.ts';
export type { PoolOptions, ReadSummary } from './pool.ts';
export type { ReaderTask, ReaderResult, ReadFilesTask, RangesTask } from './tasks.ts';
