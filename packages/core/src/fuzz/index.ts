// The EROFS image fuzzer: structure-aware mutations of valid images, a checker that demands a typed
// error or correct data from the reader and the kernel, and a runner that bounds each image in time.
export { Prng, imageRng } from './prng.ts';
export { locateRegions, fileDependencies, REGION_KINDS } from './regions.ts';
export type { ImageMap, Region, RegionKind, Field, DirentLoc, InodeLoc } from './regions.ts';
export { prepareSeed, mutateImage, generateImage, describeMutations, MUTATION_OPS } from './mutate.ts';
export type { SeedImage, Mutation, MutatedImage, MutateOptions, MutationOp } from './mutate.ts';
export { buildOracle, untouchedFiles } from './oracle.ts';
export type { SeedOracle, PristineFile } from './oracle.ts';
export { checkImage } from './check.ts';
export { differentialPass, KNOWN_UPSTREAM_BUGS } from './differential.ts';
export type { DifferentialConfig, DiffOutcome, DiffStatus, Disagreement } from './differential.ts';
export type { CheckInput, CheckOptions } from './check.ts';
export { FuzzKernel } from './kernel-pass.ts';
export { DEFAULT_READ_CAP } from './reader-pass.ts';
export { OUTCOME_KINDS, FAILING_KINDS, normalizeMessage } from './outcome.ts';
export type { CheckOutcome, OutcomeKind, Phase } from './outcome.ts';
export {
  runFuzz,
  replayImage,
  isFailing,
  upstreamOnly,
  DEFAULT_TIMEOUT_MS,
  DEFAULT_WORKERS,
  MAX_SAVED,
} from './runner.ts';
export type { FuzzOptions, FuzzReport, FuzzFailure, DifferentialReport, DifferentialFinding } from './runner.ts';
export { buildCorpus, writeFuzzTree, readImage } from './corpus.ts';
export type { Corpus, CorpusImage } from './corpus.ts';
