// How busy the machine was while the bench's timed samples ran, and how much of that was the bench: on
// a shared 2-core machine the other processes' CPU use is what moves wall-clock figures (and a 2-thread
// speed-up needs two idle cores). From /proc/stat (all CPUs) and this process's own CPU time; Linux
// only. Kernel threads working for our reads (the loop device's workers) count as "other".
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

// USER_HZ: /proc/stat counts in clock ticks of 1/100 s on every Linux architecture Node runs on.
const TICKS_PER_SECOND = 100;

interface Sample {
  readonly wallMs: number;
  /** Ticks of all CPUs busy (user, nice, system, irq, softirq, steal). */
  readonly busyTicks: number;
  /** This process's CPU (all threads), µs. */
  readonly ownCpuUs: number;
}

export interface BusyReport {
  readonly seconds: number;
  /** Average CPUs busy over the interval, whoever used them. */
  readonly busyCpus: number;
  /** Of which this bench process (all its threads). */
  readonly benchCpus: number;
  readonly otherCpus: number;
}

function busyTicks(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal ...
    return f[0] + f[1] + f[2] + f[5] + f[6] + (f[7] ?? 0);
  } catch {
    return NaN;
  }
}

export function sample(): Sample {
  const c = process.cpuUsage();
  return { wallMs: performance.now(), busyTicks: busyTicks(), ownCpuUs: c.user + c.system };
}

/** Sums of intervals (the timed samples of one scenario, say): /proc/stat ticks are 10 ms coarse. */
export class BusyMeter {
  private wallMs = 0;
  private ticks = 0;
  private ownUs = 0;

  add(from: Sample, to: Sample = sample()): void {
    this.wallMs += to.wallMs - from.wallMs;
    this.ticks += to.busyTicks - from.busyTicks;
    this.ownUs += to.ownCpuUs - from.ownCpuUs;
  }

  /** Undefined where /proc/stat cannot be read or nothing was added. */
  report(): BusyReport | undefined {
    const seconds = this.wallMs / 1000;
    if (!Number.isFinite(this.ticks) || seconds <= 0) return undefined;
    const r = (x: number): number => Math.round(x * 100) / 100;
    const busy = this.ticks / TICKS_PER_SECOND / seconds;
    const own = this.ownUs / 1e6 / seconds;
    return { seconds: r(seconds), busyCpus: r(busy), benchCpus: r(own), otherCpus: r(Math.max(0, busy - own)) };
  }
}
