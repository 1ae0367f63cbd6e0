// A host of containers (`ishare host`): one kernel, containers that start, read and stop in a given
// order, each a memory cgroup (with its memory.max) plus the mount of its image (or of each of its layers,
// read through their overlay, for a layered container). The scenario runs
// twice, each time on a fresh kernel: without inode_share, then with it; after the last step the host
// reports, per container, what the kernel charges it (memory.current, memory.stat, memory.events), the
// proportional `split` account, the pages it paid for that others read too and the pages it read that
// others paid for; the dying cgroups and what they pin; and the page cache.
//
// Unlike the plain memory experiment, reclaim is not refused here: a limit, or a pool smaller than the
// data, makes the kernel reclaim, and what that costs (refaults, memory.events) is the measurement.
import { performance } from 'node:perf_hooks';
import { System, PAGE_SIZE, type ChargePolicy, type RealInodePolicy } from '@ishare/core';

export type { ChargePolicy };
import { ReaderPool } from './pool.ts';
import type { ReaderResult } from './tasks.ts';
import type { TraceOp } from './trace.ts';
import {
  buildTasks,
  checkMemory,
  defaultWorkers,
  ExperimentError,
  MAX_POOL_MIB,
  MAX_WORKERS,
  planImages,
  DEFAULT_DOMAIN_ID,
} from './experiment.ts';

const MiB = 1024 * 1024;

export const CHARGE_POLICIES: readonly ChargePolicy[] = ['keep', 'reparent', 'recharge'];

export interface HostContainer {
  readonly name: string;
  /** The EROFS image the container mounts. */
  readonly image: string;
  /**
   * Its extra devices in table order (mount's device=): a container image under `--layout fsmeta` is
   * its fsmeta with the layer blobs as devices. Absent: found by tag beside the image, if it has any.
   */
  readonly devices?: readonly string[];
  /**
   * A layered container (`--layout layers`): its layer blobs, bottom first. Each is mounted once for
   * this container at its start (the same blob file for a layer two images share, as the snapshotter
   * mounts it), its reads go through the read-only overlay of them, and all of them are unmounted at its
   * stop. `image` is then the top layer.
   */
  readonly layers?: readonly string[];
  /** memory.max in bytes (undefined: no limit). */
  readonly memoryMax?: number;
  /** The container's reads (undefined: read every regular file in full). */
  readonly trace?: readonly TraceOp[];
}

export interface HostStep {
  readonly kind: 'start' | 'read' | 'stop';
  /** Index into containers. */
  readonly container: number;
}

export type HostPhaseName = 'no share' | 'share';

export interface HostProgress {
  readonly phase: HostPhaseName;
  /** Steps done of the scenario's steps. */
  readonly done: number;
  readonly total: number;
}

export interface HostOptions {
  readonly containers: readonly HostContainer[];
  readonly steps: readonly HostStep[];
  readonly domainId?: string;
  readonly charge?: ChargePolicy;
  readonly workers?: number;
  readonly policy?: RealInodePolicy;
  /** Page pool in MiB (default: every page the scenario can read, plus headroom: no global reclaim). */
  readonly poolMiB?: number;
  readonly onProgress?: (p: HostProgress) => void;
}

export interface MemoryEvents {
  readonly high: number;
  readonly max: number;
  readonly oom: number;
}

/** memory.stat's file fields (bytes) and counters (pages), as cgroup v2 names them. */
export interface MemoryStat {
  readonly file: number;
  readonly active_file: number;
  readonly inactive_file: number;
  readonly workingset_refault_file: number;
  readonly workingset_activate_file: number;
  readonly pgscan: number;
  readonly pgsteal: number;
}

export interface HostContainerStats {
  readonly name: string;
  /** Running at the end, or stopped (its cgroup removed: dying while it still pins pages, under keep/recharge). */
  readonly state: 'running' | 'stopped';
  /** memory.max in bytes, null: max. */
  readonly memoryMax: number | null;
  /** The kernel's charge (memory.current, file pages only): bytes. */
  readonly memoryCurrent: number;
  /** Each resident page's bytes divided equally among the cgroups that read it while it was resident. */
  readonly splitCharge: number;
  /** Resident pages this container read, in bytes (whoever pays for them). */
  readonly readBytes: number;
  /** Of the pages charged to this container, the bytes of those another container read too. */
  readonly paidShared: number;
  /** Of the pages this container read, the bytes of those charged to another cgroup. */
  readonly freeRead: number;
  /** Pages this container read again after reclaim had evicted them (workingset_refault_file). */
  readonly refaults: number;
  readonly events: MemoryEvents;
  readonly stat: MemoryStat;
}

export interface HostDying {
  readonly name: string;
  /** What the offline cgroup still pins (bytes). */
  readonly memoryCurrent: number;
}

export interface HostPhase {
  readonly inodeShare: boolean;
  readonly containers: HostContainerStats[];
  readonly dying: HostDying[];
  /** Frames holding file data × page size. */
  readonly pageCacheBytes: number;
  /** Charged to the root cgroup (reparented charges; pages added outside any container). */
  readonly rootBytes: number;
  /** Pages reclaimed during the run (limit reclaim and global reclaim). */
  readonly reclaimedPages: number;
  readonly elapsedMs: number;
}

export interface HostResult {
  readonly policy: RealInodePolicy;
  readonly charge: ChargePolicy;
  readonly domainId: string;
  readonly workers: number;
  readonly poolBytes: number;
  readonly pageSize: number;
  readonly noShare: HostPhase;
  readonly share: HostPhase;
  readonly elapsedMs: number;
}

const ZERO_STAT: MemoryStat = {
  file: 0,
  active_file: 0,
  inactive_file: 0,
  workingset_refault_file: 0,
  workingset_activate_file: 0,
  pgscan: 0,
  pgsteal: 0,
};

interface PhaseInput {
  readonly o: HostOptions;
  readonly phase: HostPhaseName;
  readonly plan: ReturnType<typeof planImages>;
  readonly workers: number;
  readonly poolBytes: number;
  readonly policy: RealInodePolicy;
  readonly charge: ChargePolicy;
  readonly domainId: string;
}

async function runHostPhase(p: PhaseInput): Promise<HostPhase> {
  const { containers, steps } = p.o;
  const inodes = p.plan.images.reduce((s, x) => s + x.regularFiles, 0);
  const sys = System.create({
    poolBytes: p.poolBytes,
    inodeSlots: Math.min(1 << 24, Math.max(1024, 2 * inodes + 1024)),
    mountSlots: Math.max(4, p.plan.images.reduce((s, x) => s + (x.layersTop?.length ?? 1), 0) + 1),
    policy: p.policy,
    charge: p.charge,
  });
  const pool = new ReaderPool(sys, { workers: p.workers });
  /** Per container while it runs: its mounts (top first for a layered one). */
  const mounts: (number[] | undefined)[] = containers.map(() => undefined);
  const unmountAll = (ms: readonly number[]): void => {
    for (const m of ms) sys.unmount(m);
  };
  const memcgs: (number | undefined)[] = containers.map(() => undefined);
  const inodeShare = p.phase === 'share';
  try {
    await Promise.all(Array.from({ length: p.workers }, () => pool.run({ kind: 'ranges', mount: 0, ranges: [] })));
    sys.resetStats();
    const t0 = performance.now();
    p.o.onProgress?.({ phase: p.phase, done: 0, total: steps.length });
    for (const [i, step] of steps.entries()) {
      const c = containers[step.container];
      if (step.kind === 'start') {
        // mkdir the cgroup (and write its memory.max), then mount the container's image.
        memcgs[step.container] = sys.memcgCreate(c.name, c.memoryMax !== undefined ? { max: c.memoryMax } : {});
        // A layered container mounts each of its layers (top first, the overlay's order), once for itself.
        const x = p.plan.images[step.container];
        const ms: number[] = [];
        mounts[step.container] = ms;
        for (const image of x.layersTop ?? [c.image])
          ms.push(
            sys.mount(image, {
              inodeShare,
              domainId: p.domainId,
              ...(x.layersTop === undefined && c.devices !== undefined ? { devices: c.devices } : {}),
            }).mount,
          );
      } else if (step.kind === 'read') {
        const ms = mounts[step.container];
        if (ms === undefined) throw new ExperimentError(`${c.name}: read before start`);
        const memcg = memcgs[step.container];
        // Every worker runs the container's reads inside its cgroup, as the container's tasks would.
        const tasks = buildTasks([p.plan.images[step.container]], [ms], p.workers);
        const results: ReaderResult[] = await Promise.all(tasks.map(({ task }) => pool.run({ ...task, memcg })));
        const errors = results.flatMap((r) => r.errors);
        if (errors.length > 0)
          throw new ExperimentError(`${c.name}: ${errors.length} reads failed, first: ${errors[0]}`);
      } else {
        // The container's processes exit (their files closed), its mount goes, then rmdir of its cgroup:
        // what it still pays for follows the charge policy.
        const ms = mounts[step.container];
        mounts[step.container] = undefined;
        if (ms !== undefined) unmountAll(ms);
        const memcg = memcgs[step.container];
        if (memcg !== undefined) sys.memcgRemove(memcg);
        memcgs[step.container] = undefined;
      }
      p.o.onProgress?.({ phase: p.phase, done: i + 1, total: steps.length });
    }
    const elapsedMs = performance.now() - t0;
    const st = sys.stats();
    const list = sys.memcgList();
    const root = list.find((x) => x.id === 0);
    const out: HostPhase = {
      inodeShare,
      containers: containers.map((c, i) => {
        // A running container's cgroup; a stopped one's while it is dying (freed once it pins nothing).
        const id = memcgs[i];
        const m =
          id !== undefined ? list.find((x) => x.id === id && !x.dying) : list.find((x) => x.dying && x.name === c.name);
        return {
          name: c.name,
          state: id !== undefined ? 'running' : 'stopped',
          memoryMax: c.memoryMax ?? null,
          memoryCurrent: m?.memoryCurrent ?? 0,
          splitCharge: m?.splitBytes ?? 0,
          readBytes: m?.readBytes ?? 0,
          paidShared: m?.paidSharedBytes ?? 0,
          freeRead: m?.freeReadBytes ?? 0,
          refaults: m?.stat.workingset_refault_file ?? 0,
          events: m ? { ...m.events } : { high: 0, max: 0, oom: 0 },
          stat: m ? { ...m.stat } : { ...ZERO_STAT },
        };
      }),
      dying: list.filter((x) => x.dying).map((x) => ({ name: x.name, memoryCurrent: x.memoryCurrent })),
      pageCacheBytes: st.pageCacheBytes,
      rootBytes: root?.localBytes ?? 0,
      reclaimedPages: st.counters.RECLAIMED,
      elapsedMs: Math.round(elapsedMs * 10) / 10,
    };
    for (const [i, ms] of mounts.entries()) {
      if (ms === undefined) continue;
      mounts[i] = undefined;
      unmountAll(ms);
    }
    return out;
  } finally {
    for (const ms of mounts) {
      for (const m of ms ?? []) {
        try {
          sys.unmount(m);
        } catch {
          // Already failing: the first error is the one to report.
        }
      }
    }
    await pool.destroy();
    sys.detach();
  }
}

/** Run the scenario without and then with inode_share, each on a fresh kernel. */
export async function runHost(o: HostOptions): Promise<HostResult> {
  if (o.containers.length === 0) throw new ExperimentError('a host needs at least one container');
  const workers = o.workers ?? defaultWorkers();
  if (!Number.isInteger(workers) || workers < 1 || workers > MAX_WORKERS)
    throw new ExperimentError(`workers must be an integer from 1 to ${MAX_WORKERS}, got ${workers}`);
  const policy = o.policy ?? 'processing';
  const charge = o.charge ?? 'keep';
  const domainId = o.domainId ?? DEFAULT_DOMAIN_ID;
  if (o.containers.some((c) => c.layers?.length === 0))
    throw new ExperimentError('a layered container needs at least one layer');
  const plan = planImages(
    o.containers.map((c) => c.image),
    (i) => o.containers[i].layers,
    (i) => o.containers[i].trace,
    (image) => o.containers.find((c) => c.image === image)?.devices,
  );
  // Every page any container can read, once per container: no global reclaim unless asked for.
  const needed = plan.pagesBound * PAGE_SIZE;
  let poolBytes: number;
  if (o.poolMiB !== undefined) {
    if (!(o.poolMiB > 0 && o.poolMiB <= MAX_POOL_MIB))
      throw new ExperimentError(`pool size must be from 1 to ${MAX_POOL_MIB} MiB, got ${o.poolMiB}`);
    poolBytes = Math.max(Math.floor(o.poolMiB * MiB), 16 * PAGE_SIZE);
  } else {
    poolBytes = Math.max(16, Math.ceil((needed * 1.05) / MiB) + 8) * MiB;
  }
  checkMemory(poolBytes, workers, needed, o.poolMiB !== undefined);
  const t0 = performance.now();
  const phase = (name: HostPhaseName): Promise<HostPhase> =>
    runHostPhase({ o, phase: name, plan, workers, poolBytes, policy, charge, domainId });
  const noShare = await phase('no share');
  const share = await phase('share');
  return {
    policy,
    charge,
    domainId,
    workers,
    poolBytes,
    pageSize: PAGE_SIZE,
    noShare,
    share,
    elapsedMs: Math.round((performance.now() - t0) * 10) / 10,
  };
}
