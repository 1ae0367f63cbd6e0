// The kernel's own threads working for a read. A loop-mounted EROFS image is not read only by the
// threads that call read(): the loop device's I/O runs in a loop kworker (`kworker/uN:M-loopK`), and
// EROFS decompresses a readahead's pclusters in its workqueue (`z_erofs_decompressqueue_work` on the
// "erofs_worker" workqueue, `kworker/uN:M-erofs_worker`; per-CPU `erofs_worker/N` kthreads with
// CONFIG_EROFS_FS_PCPU_KTHREAD) when the bio completes — on 6.18 most of an lz4hc fill's decompression
// ran there, not in the reader (docs/compressed.md). So a figure of the kernel's CPU per MiB must add
// them. A kernel thread is a child of kthreadd (pid 2); its CPU comes from /proc/PID/schedstat (ns,
// not the 10 ms ticks of /proc/PID/stat). A kworker's name says the workqueue it last ran for, so a
// thread is charged to EROFS or loop when its name said so before or after the interval. Linux only.
import { readdirSync, readFileSync } from 'node:fs';

export interface KThreadCpu {
  /** EROFS decompression workers (name contains "erofs"), ms. */
  readonly erofs: number;
  /** Loop device workers (name contains "loop"), ms. */
  readonly loop: number;
  /** Every other kernel thread (ksoftirqd, rcu, other workqueues: partly other processes' work), ms. */
  readonly other: number;
}

type Snapshot = ReadonlyMap<string, { readonly comm: string; readonly ns: number }>;

/** The kernel threads' names and CPU now; null where /proc does not say (not Linux, no schedstat). */
export function kthreadSnapshot(): Snapshot | null {
  const m = new Map<string, { comm: string; ns: number }>();
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return null;
  }
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const ppid = Number(stat.slice(close + 2).split(' ')[1]);
      if (pid !== '2' && ppid !== 2) continue;
      const ns = Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]);
      m.set(pid, { comm: stat.slice(stat.indexOf('(') + 1, close), ns });
    } catch {
      // gone meanwhile, or no schedstat
    }
  }
  return m.size > 0 ? m : null;
}

/** CPU the kernel threads used between two snapshots, by what they worked for. */
export function kthreadDelta(a: Snapshot | null, b: Snapshot | null): KThreadCpu | null {
  if (!a || !b) return null;
  let erofs = 0;
  let loop = 0;
  let other = 0;
  for (const [pid, t] of b) {
    const before = a.get(pid);
    const ms = (t.ns - (before?.ns ?? 0)) / 1e6;
    if (!(ms > 0)) continue;
    const names = `${before?.comm ?? ''} ${t.comm}`;
    if (names.includes('erofs')) erofs += ms;
    else if (/kworker.*loop|\bloop\d/.test(names)) loop += ms;
    else other += ms;
  }
  return { erofs, loop, other };
}
