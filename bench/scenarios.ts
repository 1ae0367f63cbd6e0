// What the bench measures and how the figures are compared. Ids read as family.cache.threads:
//  ours.*  our page cache through the ReaderPool (Nw) or in the main thread (main);
//  tree.*  Node reading the source trees through the kernel (Nt: N reader threads; main: main thread);
//  loop.*  Node reading a read-only loop mount of the images (the kernel's own EROFS);
//  mem.copy.*  no file at all: copying a shared buffer of the data's size in 4 KiB pieces from JS,
//          what a second thread gains for the bare copy our page cache does per page;
//  share.*  our page cache, the same images mounted with inode_share (each copy of the data in its own
//          domain_id, so sharing happens within a copy, between the images, as it would in one host);
//  verify.*  the share set again with the `verify` mount option, in domains of its own (v<copy>, so it
//          never shares pages with share.*): each file's whole content is hashed against its fingerprint
//          when its inode is filled, before it may share — the price of refusing poisoned caches;
//  disjoint.* / disjoint-share.*  images with no content in common (versions of the trees with every
//          file changed), mounted without and with inode_share: what sharing costs when it saves nothing.
// cold: nothing of the data cached anywhere (our cache dropped and the image files evicted from the
// kernel's cache; the tree's files evicted; the loop mount remounted with the images evicted);
// view: warm, but zero-copy — pinned views of the cached frames handed out and released (System.view),
// the bytes not copied (what an mmap of the file gives a reader);
// fill: the file system's cache empty while the image file is in the kernel's cache (our dropCaches;
// a loop remount) — the cost of filling a cache when the device is fast; warm: everything cached.

export type Family = 'ours' | 'tree' | 'loop' | 'mem' | 'share' | 'verify' | 'disjoint' | 'disjoint-share';
export type CacheState = 'cold' | 'fill' | 'warm' | 'view';

export interface ScenarioSpec {
  readonly id: string;
  readonly family: Family;
  readonly cache: CacheState;
  /** Reader threads; 'main' reads in the main thread. */
  readonly threads: number | 'main';
  readonly label: string;
}

const FAMILY_LABEL: Record<Family, string> = {
  ours: 'ours',
  tree: 'kernel, tree',
  loop: 'kernel, loop mount',
  mem: 'machine: 4 KiB copies of a buffer the size of the data',
  share: 'ours, inode_share on',
  verify: 'ours, inode_share + verify on',
  disjoint: 'ours, images with nothing in common',
  'disjoint-share': 'ours, images with nothing in common, inode_share on',
};
const WORKER_FAMILIES: ReadonlySet<Family> = new Set(['ours', 'share', 'verify', 'disjoint', 'disjoint-share']);

function spec(family: Family, cache: CacheState, threads: number | 'main'): ScenarioSpec {
  const suffix = threads === 'main' ? 'main' : `${threads}${WORKER_FAMILIES.has(family) ? 'w' : 't'}`;
  const label = family === 'mem' ? FAMILY_LABEL.mem : `${FAMILY_LABEL[family]}, ${cache}`;
  return {
    id: family === 'mem' ? `mem.copy.${suffix}` : `${family}.${cache}.${suffix}`,
    family,
    cache,
    threads,
    label,
  };
}

export const SCENARIOS: readonly ScenarioSpec[] = [
  spec('ours', 'cold', 1),
  spec('ours', 'cold', 2),
  spec('ours', 'fill', 1),
  spec('ours', 'fill', 2),
  spec('ours', 'warm', 1),
  spec('ours', 'warm', 2),
  spec('ours', 'warm', 'main'),
  spec('ours', 'view', 1),
  spec('ours', 'view', 2),
  spec('tree', 'cold', 1),
  spec('tree', 'cold', 2),
  spec('tree', 'warm', 1),
  spec('tree', 'warm', 2),
  spec('tree', 'warm', 'main'),
  spec('loop', 'cold', 1),
  spec('loop', 'cold', 2),
  spec('loop', 'fill', 1),
  spec('loop', 'fill', 2),
  spec('loop', 'warm', 1),
  spec('loop', 'warm', 2),
  spec('mem', 'warm', 1),
  spec('mem', 'warm', 2),
  spec('share', 'fill', 1),
  spec('share', 'fill', 2),
  spec('share', 'warm', 1),
  spec('share', 'warm', 2),
  spec('verify', 'fill', 1),
  spec('verify', 'fill', 2),
  spec('verify', 'warm', 1),
  spec('verify', 'warm', 2),
  spec('disjoint', 'fill', 1),
  spec('disjoint', 'fill', 2),
  spec('disjoint', 'warm', 1),
  spec('disjoint', 'warm', 2),
  spec('disjoint-share', 'fill', 1),
  spec('disjoint-share', 'fill', 2),
  spec('disjoint-share', 'warm', 1),
  spec('disjoint-share', 'warm', 2),
];

export interface RatioSpec {
  readonly id: string;
  readonly num: string;
  readonly den: string;
  /** Target (issue 9); undefined: shown for context only. */
  readonly target?: number;
  readonly label: string;
}

function r(num: string, den: string, label: string, target?: number): RatioSpec {
  return { id: `${num} / ${den}`, num, den, target, label };
}

// Targets of issue 9 (ratios of medians measured in the same run); no target: context.
export const RATIOS: readonly RatioSpec[] = [
  r('ours.warm.1w', 'tree.warm.1t', 'warm vs kernel (tree), 1 thread', 1.0),
  r('ours.warm.2w', 'tree.warm.2t', 'warm vs kernel (tree), 2 threads', 1.0),
  r('ours.warm.1w', 'loop.warm.1t', 'warm vs kernel (loop), 1 thread', 1.0),
  r('ours.warm.2w', 'loop.warm.2t', 'warm vs kernel (loop), 2 threads', 1.0),
  r('ours.warm.main', 'tree.warm.main', 'warm in-process vs kernel (tree), main thread'),
  r('ours.warm.2w', 'ours.warm.1w', 'ours warm, 2 workers / 1', 1.7),
  r('ours.fill.2w', 'ours.fill.1w', 'ours fill, 2 workers / 1', 1.5),
  r('ours.fill.1w', 'loop.fill.1t', 'fill vs kernel fill (loop), 1 thread', 1.0),
  r('ours.fill.2w', 'loop.fill.2t', 'fill vs kernel fill (loop), 2 threads', 1.0),
  r('ours.cold.1w', 'tree.cold.1t', 'cold vs kernel cold (tree), 1 thread', 0.9),
  r('ours.cold.2w', 'tree.cold.2t', 'cold vs kernel cold (tree), 2 threads', 0.9),
  r('ours.cold.1w', 'loop.cold.1t', 'cold vs kernel cold (loop), 1 thread', 0.9),
  r('ours.cold.2w', 'loop.cold.2t', 'cold vs kernel cold (loop), 2 threads', 0.9),
  r('share.fill.1w', 'ours.fill.1w', 'bundled pair: shared fill vs unshared, 1 worker', 1.0),
  r('share.fill.2w', 'ours.fill.2w', 'bundled pair: shared fill vs unshared, 2 workers', 1.0),
  r('share.warm.1w', 'ours.warm.1w', 'bundled pair: shared warm vs unshared, 1 worker'),
  r('share.warm.2w', 'ours.warm.2w', 'bundled pair: shared warm vs unshared, 2 workers'),
  r('verify.fill.1w', 'share.fill.1w', 'cost of verify: shared fill with / without, 1 worker'),
  r('verify.fill.2w', 'share.fill.2w', 'cost of verify: shared fill with / without, 2 workers'),
  r('verify.warm.1w', 'share.warm.1w', 'cost of verify: shared warm with / without, 1 worker'),
  r('verify.warm.2w', 'share.warm.2w', 'cost of verify: shared warm with / without, 2 workers'),
  r('disjoint-share.warm.1w', 'disjoint.warm.1w', 'nothing in common: shared warm vs unshared, 1 worker', 0.95),
  r('disjoint-share.warm.2w', 'disjoint.warm.2w', 'nothing in common: shared warm vs unshared, 2 workers', 0.95),
  r('disjoint-share.fill.1w', 'disjoint.fill.1w', 'nothing in common: shared fill vs unshared, 1 worker', 0.95),
  r('disjoint-share.fill.2w', 'disjoint.fill.2w', 'nothing in common: shared fill vs unshared, 2 workers', 0.95),
  r('ours.view.1w', 'tree.warm.1t', 'zero-copy views vs kernel warm read (tree), 1 thread'),
  r('ours.view.2w', 'tree.warm.2t', 'zero-copy views vs kernel warm read (tree), 2 threads'),
  r('ours.cold.2w', 'ours.cold.1w', 'ours cold, 2 workers / 1'),
  r('ours.warm.1w', 'ours.warm.main', 'ours warm, pool (1 worker) / in-process'),
  r('tree.cold.2t', 'tree.cold.1t', 'kernel cold (tree), 2 threads / 1'),
  r('tree.warm.2t', 'tree.warm.1t', 'kernel warm (tree), 2 threads / 1'),
  r('loop.fill.2t', 'loop.fill.1t', 'kernel fill (loop), 2 threads / 1'),
  r('mem.copy.2t', 'mem.copy.1t', 'machine: JS 4 KiB copies, 2 threads / 1'),
];
