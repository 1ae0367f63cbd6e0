// The kernel's own threads working for a read. A loop-mounted EROFS image is not read only by the
// threads that call read(): the loop device's I/O runs in a loop kworker (`kworker/uN:M-loopK`), and
// EROFS decompresses a readahead's pclusters in its workqueue (`z_erofs_decompressqueue_work` on the
// "erofs_worker" workqueue, `kworker/uN:M-erofs_worker`; per-CPU `erofs_worker/N` kthreads with
// CONFIG_EROFS_FS_PCPU_KTHREAD) when the bio completes — on 6.18 most of an lz4hc fill's decompression
// ran there, not in the reader (docs/compressed.md). So a figure of the kernel's CPU per MiB must add
// them. A kernel thread is one whose /proc/PID/stat flags carry PF_KTHREAD; its CPU comes from
// /proc/PID/schedstat (ns, not the 10 ms ticks of /proc/PID/stat). Linux only.
//
// What a name can say is limited: a kworker's name gives the workqueue it runs (`+wq`) or last ran
// (`-wq`) work for (wq_worker_comm), so a thread whose name said EROFS (or one of our loop devices) at
// only one end of the interval may have spent part of it on other work. Two figures, then, both
// heuristics: `erofs`/`loop` count only threads named so at both ends (what the verdict uses: mostly an
// undercount of the kernel's work, though a worker of the shared unbound pool named so at both ends may
// have run other work in between), `erofsMax`/`loopMax` also those named so at either end. The
// erofs_worker workqueue serves every EROFS mount on the machine, so a sample taken while an EROFS mount
// other than ours exists in this mount namespace is not charged at all (null): another reader's
// decompression would count as ours (mounts in other namespaces, e.g. containers', cannot be seen). A
// thread that exits during the interval is lost (its CPU cannot be read any more); pids are keyed with
// their start time, so a reused pid is a new thread.
import { readdirSync, readFileSync } from 'node:fs';

export interface KThreadCpu {
  /** EROFS decompression workers named so at both ends of the interval, ms (lower bound). */
  readonly erofs: number;
  /** Workers of our loop devices named so at both ends, ms (lower bound). */
  readonly loop: number;
  /** EROFS workers named so at either end, ms (upper bound). */
  readonly erofsMax: number;
  /** Workers of our loop devices named so at either end, ms (upper bound). */
  readonly loopMax: number;
  /** Every other kernel thread (ksoftirqd, rcu, other workqueues: partly other processes' work), ms. */
  readonly other: number;
}

type Snapshot = ReadonlyMap<string, { readonly comm: string; readonly ns: number }>;

const PF_KTHREAD = 0x00200000;

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
      // Fields from the 3rd (state) on: flags is the 9th, starttime the 22nd.
      const f = stat.slice(close + 2).split(' ');
      if ((Number(f[6]) & PF_KTHREAD) === 0) continue;
      const ns = Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]);
      m.set(`${pid}@${f[19]}`, { comm: stat.slice(stat.indexOf('(') + 1, close), ns });
    } catch {
      // gone meanwhile, or no schedstat
    }
  }
  return m.size > 0 ? m : null;
}

export interface ErofsMounts {
  /** Loop devices under our mount points (`loop3`), from the mount table. */
  readonly loops: readonly string[];
  /** EROFS mounts other than ours. */
  readonly foreign: number;
}

/** The EROFS mounts of this mount namespace: the loop devices behind `ours`, and how many others. */
export function erofsMounts(ours: readonly string[], mountinfo?: string): ErofsMounts {
  let text = mountinfo;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/mountinfo', 'utf8');
    } catch {
      return { loops: [], foreign: 0 };
    }
  }
  const loops: string[] = [];
  let foreign = 0;
  for (const line of text.split('\n')) {
    // "id parent major:minor root mountpoint options [optional...] - fstype source superoptions"
    const dash = line.indexOf(' - ');
    if (dash < 0) continue;
    const [fstype, source] = line.slice(dash + 3).split(' ');
    if (fstype !== 'erofs') continue;
    const at = line.slice(0, dash).split(' ')[4];
    if (at !== undefined && ours.includes(at)) {
      const dev = /^\/dev\/(loop\d+)$/.exec(source ?? '')?.[1];
      if (dev !== undefined) loops.push(dev);
    } else foreign++;
  }
  return { loops, foreign };
}

/** CPU the kernel threads used between two snapshots, by what they worked for (see the header). */
export function kthreadDelta(a: Snapshot | null, b: Snapshot | null, mounts: ErofsMounts): KThreadCpu | null {
  if (!a || !b || mounts.foreign > 0) return null;
  const ourLoop = mounts.loops.length > 0 ? new RegExp(`(^|[-+])(${mounts.loops.join('|')})$`) : null;
  const isLoop = (comm: string): boolean => ourLoop !== null && ourLoop.test(comm);
  let erofs = 0;
  let loop = 0;
  let erofsMax = 0;
  let loopMax = 0;
  let other = 0;
  for (const [key, t] of b) {
    const before = a.get(key);
    const ms = (t.ns - (before?.ns ?? 0)) / 1e6;
    if (!(ms > 0)) continue;
    // A thread born during the interval has only its name at the end.
    const c0 = before?.comm ?? t.comm;
    const e0 = c0.includes('erofs');
    const e1 = t.comm.includes('erofs');
    const l0 = isLoop(c0);
    const l1 = isLoop(t.comm);
    if (e0 || e1) {
      erofsMax += ms;
      if (e0 && e1) erofs += ms;
    } else if (l0 || l1) {
      loopMax += ms;
      if (l0 && l1) loop += ms;
    } else other += ms;
  }
  return { erofs, loop, erofsMax, loopMax, other };
}
