// How much memory this process may still take: the tighter of the machine (/proc/meminfo MemAvailable)
// and its memory cgroup (v2 memory.max, or v1 memory.limit_in_bytes), minus what the cgroup already
// holds that cannot be reclaimed. The experiment sizes a page pool against it up front: a pool that
// does not fit would get the process OOM-killed half way (exit 137, no message) instead of refused.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const MiB = 1024 * 1024;
/** cgroup v1 writes "no limit" as a page-rounded 2^63 − 1; anything this large is no limit. */
const NO_LIMIT = 2 ** 60;

export interface MemorySource {
  /** 'MemAvailable', 'cgroup memory.max' (v2) or 'cgroup memory.limit_in_bytes' (v1). */
  readonly name: string;
  /** The limit itself (cgroups only). */
  readonly limitBytes?: number;
  /** Charged to the cgroup now and not reclaimable (cgroups only). */
  readonly usedBytes?: number;
  /** What is left for new allocations. */
  readonly availableBytes: number;
  /** The cgroup directory read (cgroups only). */
  readonly path?: string;
}

export interface MemoryBudget {
  /** The least of the sources' available bytes; Infinity when nothing could be read. */
  readonly availableBytes: number;
  readonly sources: MemorySource[];
}

/** /proc/meminfo's MemAvailable in bytes (the kernel's estimate of memory startable without swapping). */
export function parseMeminfo(text: string): number | undefined {
  const m = /^MemAvailable:\s+(\d+)\s+kB$/m.exec(text);
  return m ? Number(m[1]) * 1024 : undefined;
}

/** The memory cgroup paths of /proc/self/cgroup: the v2 unified path and the v1 memory controller's. */
export function parseProcCgroup(text: string): { v2?: string; v1?: string } {
  const out: { v2?: string; v1?: string } = {};
  for (const line of text.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    if (m[1] === '0' && m[2] === '') out.v2 = m[3];
    else if (m[2].split(',').includes('memory')) out.v1 = m[3];
  }
  return out;
}

/** Where the cgroup hierarchies are mounted (mount point and the hierarchy path it shows), from mountinfo. */
export function parseMountinfo(text: string): {
  v2?: { root: string; mount: string };
  v1?: { root: string; mount: string };
} {
  const out: { v2?: { root: string; mount: string }; v1?: { root: string; mount: string } } = {};
  for (const line of text.split('\n')) {
    const [pre, post] = line.split(' - ');
    if (pre === undefined || post === undefined) continue;
    const f = pre.split(' ');
    const [fstype, , superOpts] = post.split(' ');
    const root = f[3];
    const mount = f[4];
    if (root === undefined || mount === undefined) continue;
    if (fstype === 'cgroup2' && !out.v2) out.v2 = { root, mount };
    else if (fstype === 'cgroup' && (superOpts ?? '').split(',').includes('memory') && !out.v1)
      out.v1 = { root, mount };
  }
  return out;
}

/** A cgroup's directory from its path in the hierarchy and where (which part of) the hierarchy is mounted. */
export function cgroupDir(path: string, m: { root: string; mount: string }): string {
  const rel = m.root === '/' ? path : path.startsWith(m.root) ? path.slice(m.root.length) : path;
  return join(m.mount, rel);
}

/** "key value" lines (memory.stat) as numbers. */
export function parseStat(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [k, v] = line.split(' ');
    if (k && v !== undefined && /^\d+$/.test(v)) out.set(k, Number(v));
  }
  return out;
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** cgroup v2: the tightest of this cgroup and its ancestors (each one's limit applies). */
function v2Sources(dir: string, top: string): MemorySource[] {
  const out: MemorySource[] = [];
  for (let d = dir; d.startsWith(top); d = join(d, '..')) {
    const max = read(join(d, 'memory.max'))?.trim();
    if (max !== undefined && max !== 'max' && /^\d+$/.test(max)) {
      const limit = Number(max);
      const current = Number(read(join(d, 'memory.current'))?.trim() ?? '0');
      // Clean file cache is given back under pressure; count only what stays.
      const stat = parseStat(read(join(d, 'memory.stat')) ?? '');
      const reclaimable = stat.get('inactive_file') ?? 0;
      const used = Math.max(0, current - reclaimable);
      out.push({
        name: 'cgroup memory.max',
        limitBytes: limit,
        usedBytes: used,
        availableBytes: Math.max(0, limit - used),
        path: d,
      });
    }
    if (d === top) break;
  }
  return out;
}

/** cgroup v1: hierarchical_memory_limit already folds in the ancestors' limits. */
function v1Sources(dir: string): MemorySource[] {
  const stat = parseStat(read(join(dir, 'memory.stat')) ?? '');
  const own = Number(read(join(dir, 'memory.limit_in_bytes'))?.trim() ?? 'NaN');
  const limit = Math.min(stat.get('hierarchical_memory_limit') ?? Infinity, Number.isFinite(own) ? own : Infinity);
  if (!(limit < NO_LIMIT)) return [];
  const usage = Number(read(join(dir, 'memory.usage_in_bytes'))?.trim() ?? '0');
  const reclaimable = stat.get('total_inactive_file') ?? stat.get('inactive_file') ?? 0;
  const used = Math.max(0, usage - reclaimable);
  return [
    {
      name: 'cgroup memory.limit_in_bytes',
      limitBytes: limit,
      usedBytes: used,
      availableBytes: Math.max(0, limit - used),
      path: dir,
    },
  ];
}

/** What this process may still allocate, and from which figures. Never throws: unknown is Infinity. */
export function memoryBudget(): MemoryBudget {
  const sources: MemorySource[] = [];
  const avail = parseMeminfo(read('/proc/meminfo') ?? '');
  if (avail !== undefined) sources.push({ name: 'MemAvailable', availableBytes: avail });
  const cg = parseProcCgroup(read('/proc/self/cgroup') ?? '');
  const mounts = parseMountinfo(read('/proc/self/mountinfo') ?? '');
  if (cg.v2 !== undefined && mounts.v2) sources.push(...v2Sources(cgroupDir(cg.v2, mounts.v2), mounts.v2.mount));
  if (cg.v1 !== undefined && mounts.v1) sources.push(...v1Sources(cgroupDir(cg.v1, mounts.v1)));
  const availableBytes = sources.reduce((m, s) => Math.min(m, s.availableBytes), Infinity);
  return { availableBytes, sources };
}

function mib(n: number): string {
  return `${Math.floor(n / MiB)} MiB`;
}

/** "cgroup memory.max 256 MiB with 40 MiB in use; MemAvailable 21042 MiB": every figure the budget came from. */
export function describeBudget(b: MemoryBudget): string {
  return b.sources
    .map((s) =>
      s.limitBytes !== undefined
        ? `${s.name} ${mib(s.limitBytes)} with ${mib(s.usedBytes ?? 0)} in use`
        : `${s.name} ${mib(s.availableBytes)}`,
    )
    .join('; ');
}
