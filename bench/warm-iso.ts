// Where a second worker's warm pass loses: the warm read split into its parts, each run by one and by two
// raw worker threads (no pool) over the same files, files claimed from one shared counter, K passes per
// run. Per run: wall time and each thread's on-CPU time (nanoseconds, /proc/thread-self/schedstat), so
// per CPU-second figures hold on a busy machine. Modes: full (open, read in 128 KiB calls, close), read
// (files opened once beforehand, reads only), open (open + close, no read).
// Usage: tsx --conditions=source bench/warm-iso.ts IMG... (COPIES=N default 6, K=N passes per run
// default 20, ROUNDS=N default 5, MODES=full,read,open, SHARE=1: inode_share, copy c in domain c<c>,
// FILLS=1: each round twice, once over a cache filled by 1 worker and once by 2 (modes `M@fill1`,
// `M@fill2`), to see what the frames' layout a fill leaves costs the warm reads after it; CLAIM=1: each
// round twice, files claimed from one shared counter (`M@list`) and from per-worker ranges with stealing
// as ReaderPool.readClaimed claims them (`M@ranges`, packages/workers/src/ranges.ts))
import { readFileSync } from 'node:fs';
import { Worker, isMainThread, workerData, parentPort } from 'node:worker_threads';
import { System, type ArenaHandle, type OpenFile } from '../packages/core/src/index.ts';
import { FileRanges, fileRangesBuffer } from '../packages/workers/src/ranges.ts';
import { mountCopies } from './copies-system.ts';

interface Init {
  handle: ArenaHandle;
  mounts: Int32Array;
  paths: string[];
  counter: SharedArrayBuffer;
}
interface Cmd {
  mode: string;
  k: number;
  /** Claim from these ranges over the run's n*k items (one range per worker of the run) instead of the counter. */
  ranges?: SharedArrayBuffer;
  workers: number;
}
// On-CPU nanoseconds from schedstat, as ms: /proc/thread-self/stat counts 10 ms ticks, too coarse for runs of ~300 ms.
const cpuMs = (): number => Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e6;

if (isMainThread) {
  const images = process.argv.slice(2);
  const copies = Number(process.env.COPIES ?? 6);
  const k = Number(process.env.K ?? 20);
  const rounds = Number(process.env.ROUNDS ?? 5);
  const modes = (process.env.MODES ?? 'full,read,open').split(',');
  const share = process.env.SHARE === '1';
  const { sys, sets } = mountCopies(images, copies, share);
  const mounts = sets.flatMap((s) => s.paths.map(() => s.mount));
  const paths = sets.flatMap((s) => s.paths);
  const counter = new SharedArrayBuffer(64);
  const init: Init = { handle: sys.handle, mounts: Int32Array.from(mounts), paths, counter };
  const entry = new URL('./warm-iso-entry.mjs', import.meta.url);
  const ws = [0, 1].map(() => new Worker(entry, { workerData: init }));
  await Promise.all(ws.map((w) => new Promise((r) => w.once('message', r))));
  let claimRanges = false;
  const run = async (mode: string, n: number, kk: number): Promise<{ wall: number; cpu: number; read: number }> => {
    Atomics.store(new Int32Array(counter), 0, 0);
    const ranges = claimRanges ? fileRangesBuffer(paths.length * kk, n) : undefined;
    const t = performance.now();
    const rs = await Promise.all(
      ws.slice(0, n).map((w) => {
        w.postMessage({ mode, k: kk, ranges, workers: n } satisfies Cmd);
        return new Promise<[number, number]>((r) => w.once('message', r));
      }),
    );
    return {
      wall: performance.now() - t,
      cpu: rs.reduce((x, y) => x + y[0], 0),
      read: rs.reduce((x, y) => x + y[1], 0),
    };
  };
  for (const m of modes) for (const n of [1, 2]) await run(m, n, 2); // warm-up (JIT, first touch)
  const res: Record<string, { w: number[]; c: number[]; b: number[] }> = {};
  const fills = process.env.FILLS === '1';
  const claims = process.env.CLAIM === '1';
  for (let r = 0; r < rounds * (fills || claims ? 2 : 1); r++) {
    let tag = '';
    if (claims) {
      claimRanges = r % 2 === 1;
      tag = claimRanges ? '@ranges' : '@list';
    }
    if (fills) {
      const fw = r % 2 === 0 ? 1 : 2;
      sys.dropCaches();
      await run('full', fw, 1);
      tag = `@fill${fw}`;
    }
    for (const m of modes)
      for (const n of r % 4 < 2 ? [1, 2] : [2, 1]) {
        const x = await run(m, n, k);
        const e = (res[`${m}${tag}.${n}w`] ??= { w: [], c: [], b: [] });
        e.w.push(x.wall);
        e.c.push(x.cpu);
        e.b.push(x.read);
      }
  }
  if (fills) modes.splice(0, modes.length, ...modes.flatMap((m) => [`${m}@fill1`, `${m}@fill2`]));
  if (claims) modes.splice(0, modes.length, ...modes.flatMap((m) => [`${m}@list`, `${m}@ranges`]));
  const med = (xs: number[]): number => [...xs].sort((p, q) => p - q)[xs.length >> 1];
  for (const m of modes) {
    const a = res[`${m}.1w`];
    const b = res[`${m}.2w`];
    console.log(
      `${m}: 1w ${med(a.w).toFixed(0)} ms wall ${med(a.c).toFixed(0)} ms CPU; 2w ${med(b.w).toFixed(0)} ms wall ${med(b.c).toFixed(0)} ms CPU; ` +
        `2w/1w wall ${(med(a.w) / med(b.w)).toFixed(2)}x, per CPU-second ${(med(a.c) / med(b.c)).toFixed(2)}x` +
        (m.startsWith('open') ? '' : `; 1w ${(med(a.b) / 2 ** 20 / (med(a.w) / 1000)).toFixed(0)} MiB/s`),
    );
  }
  for (const w of ws) await w.terminate();
  sys.detach();
} else {
  const init = workerData as Init;
  const sys = System.attach(init.handle);
  const c = new Int32Array(init.counter);
  const buf = Buffer.allocUnsafe(128 * 1024);
  const n = init.paths.length;
  let open: OpenFile[] | undefined;
  parentPort!.on('message', (cmd: Cmd) => {
    if (cmd.mode === 'read' && !open) open = init.paths.map((p, i) => sys.open(init.mounts[i], p));
    const c0 = cpuMs();
    // Ranges: worker s's range of items covers its own share of the files, pass after pass.
    const items = n * cmd.k;
    const ranges = cmd.ranges ? new FileRanges(cmd.ranges, cmd.workers) : undefined;
    const slot = ranges ? ranges.takeSlot() : 0;
    const fileOf = (i: number): number => {
      if (!ranges) return i % n;
      let s = Math.floor((i * cmd.workers) / items);
      while (Math.floor((s * items) / cmd.workers) > i) s--;
      while (Math.floor(((s + 1) * items) / cmd.workers) <= i) s++;
      const lo = Math.floor((s * n) / cmd.workers);
      const span = Math.floor(((s + 1) * n) / cmd.workers) - lo;
      return lo + ((i - Math.floor((s * items) / cmd.workers)) % span);
    };
    const next = (): number => (ranges ? ranges.claim(slot) : Atomics.add(c, 0, 1));
    let read = 0;
    for (let i = next(); i >= 0 && i < items; i = next()) {
      const x = fileOf(i);
      const f = cmd.mode === 'read' ? open![x] : sys.open(init.mounts[x], init.paths[x]);
      if (cmd.mode !== 'open')
        for (let pos = 0; pos < f.size;) {
          const got = sys.read(f, pos, buf.length, buf, 0);
          if (got === 0) break;
          pos += got;
          read += got;
        }
      if (cmd.mode !== 'read') sys.close(f);
    }
    parentPort!.postMessage([cpuMs() - c0, read]);
  });
  parentPort!.postMessage(0);
}
