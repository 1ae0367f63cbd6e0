// The planted bugs of the stress harness (`--inject`), one file each: every one is a variant of one
// production step, installed in the step tables the production code calls through
// (fs/erofs/ishare.ts ishareSteps, fs/erofs/data.ts dataSteps, vfs/pagecache.ts pagecacheSteps,
// vfs/super.ts superSteps, vfs/inode.ts inodeSteps, mm/memcontrol.ts memcgSteps). Without `--inject` the tables hold the correct steps: the code a user runs is
// the code a clean stress run tests.
import { ishareSteps, ISHARE_STEPS } from '../../fs/erofs/ishare.ts';
import { dataSteps, DATA_STEPS } from '../../fs/erofs/data.ts';
import { pagecacheSteps, PAGECACHE_STEPS } from '../../vfs/pagecache.ts';
import { memcgSteps, MEMCG_STEPS } from '../../mm/memcontrol.ts';
import { superSteps, SUPER_STEPS } from '../../vfs/super.ts';
import { inodeSteps, INODE_STEPS } from '../../vfs/inode.ts';
import type { BugCategory, PlantedBug } from './types.ts';
import { NO_IGRAB } from './NO_IGRAB.ts';
import { PROC_COUNT_NOLOCK } from './PROC_COUNT_NOLOCK.ts';
import { REALINODE_UNSET } from './REALINODE_UNSET.ts';
import { NO_IPUT } from './NO_IPUT.ts';
import { EARLY_UPTODATE } from './EARLY_UPTODATE.ts';
import { BACKING_DEL_NOLOCK } from './BACKING_DEL_NOLOCK.ts';
import { CROSS_DOMAIN } from './CROSS_DOMAIN.ts';
import { SKIP_SIZE_CHECK } from './SKIP_SIZE_CHECK.ts';
import { REALINODE_EVICTING } from './REALINODE_EVICTING.ts';
import { UNMOUNT_BUSY } from './UNMOUNT_BUSY.ts';
import { PROC_COUNT_UNDERFLOW } from './PROC_COUNT_UNDERFLOW.ts';
import { FADVISE_INUSE } from './FADVISE_INUSE.ts';
import { ISHARE_EVICT_MAPPED } from './ISHARE_EVICT_MAPPED.ts';
import { MEMCG_REPARENT_NOLOCK } from './MEMCG_REPARENT_NOLOCK.ts';
import { MEMCG_COMMIT_LATE } from './MEMCG_COMMIT_LATE.ts';
import { MEMCG_RECHARGE_TAIL_MARKED } from './MEMCG_RECHARGE_TAIL_MARKED.ts';

export type { BugCategory, PlantedBug } from './types.ts';

/** Planted bugs (bit mask, the arena's INJECT word). Each breaks one rule of the design on purpose. */
export const BUG = {
  NO_IGRAB: 1 << 0,
  PROC_COUNT_NOLOCK: 1 << 1,
  REALINODE_UNSET: 1 << 2,
  NO_IPUT: 1 << 3,
  EARLY_UPTODATE: 1 << 4,
  BACKING_DEL_NOLOCK: 1 << 5,
  CROSS_DOMAIN: 1 << 6,
  SKIP_SIZE_CHECK: 1 << 7,
  REALINODE_EVICTING: 1 << 8,
  UNMOUNT_BUSY: 1 << 9,
  PROC_COUNT_UNDERFLOW: 1 << 10,
  FADVISE_INUSE: 1 << 11,
  ISHARE_EVICT_MAPPED: 1 << 12,
  MEMCG_REPARENT_NOLOCK: 1 << 13,
  MEMCG_COMMIT_LATE: 1 << 14,
  MEMCG_RECHARGE_TAIL_MARKED: 1 << 15,
} as const;
export type BugName = keyof typeof BUG;

export const BUGS: Readonly<Record<BugName, PlantedBug>> = {
  NO_IGRAB,
  PROC_COUNT_NOLOCK,
  REALINODE_UNSET,
  NO_IPUT,
  EARLY_UPTODATE,
  BACKING_DEL_NOLOCK,
  CROSS_DOMAIN,
  SKIP_SIZE_CHECK,
  REALINODE_EVICTING,
  UNMOUNT_BUSY,
  PROC_COUNT_UNDERFLOW,
  FADVISE_INUSE,
  ISHARE_EVICT_MAPPED,
  MEMCG_REPARENT_NOLOCK,
  MEMCG_COMMIT_LATE,
  MEMCG_RECHARGE_TAIL_MARKED,
};
const NAMES = Object.keys(BUG) as BugName[];

export const BUG_DESCRIPTIONS = Object.fromEntries(NAMES.map((n) => [n, BUGS[n].description])) as Record<
  BugName,
  string
>;
export const BUG_CATEGORY = Object.fromEntries(NAMES.map((n) => [n, BUGS[n].category])) as Record<BugName, BugCategory>;

/**
 * Make this thread's step tables hold the correct steps, then install the variant of each bug in `mask`
 * — highest bit first, so where two bugs replace one step the lower bit's wins (NO_IGRAB over
 * REALINODE_EVICTING).
 */
export function installBugs(mask: number): void {
  Object.assign(ishareSteps, ISHARE_STEPS);
  Object.assign(dataSteps, DATA_STEPS);
  Object.assign(pagecacheSteps, PAGECACHE_STEPS);
  Object.assign(superSteps, SUPER_STEPS);
  Object.assign(inodeSteps, INODE_STEPS);
  Object.assign(memcgSteps, MEMCG_STEPS);
  for (let i = NAMES.length - 1; i >= 0; i--) if (mask & BUG[NAMES[i]]) BUGS[NAMES[i]].install();
}
