// Whole-file claims against split readahead, interleaved in one process so that load drifts alike for
// both: each round drops the cache and fills every regular file of the images with the pool's 2 workers
// (`readClaimed`, split 0 then split BYTES, in alternating order), then reads them warm the same two
// ways. Prints per mode the median wall ms and the median process CPU (all threads: the workers' CPU is
// the process's) per fill — on a busy machine the CPU per MiB is the figure that holds, the wall time
// only shows a second worker's gain when a second CPU is free — and what the last fill decoded.
// Usage: tsx --conditions=source bench/split-ab.ts IMG... (ROUNDS=N default 7, SPLIT=BYTES default 1 MiB,
// WORKERS=N default 2)
import { System } from '../packages/core/src/index.ts';
import { ReaderPool } from '../packages/workers/src/index.ts';

const images = process.argv.slice(2);
if (images.length === 0) {
  process.stderr.write('usage: tsx --conditions=source bench/split-ab.ts IMG... (ROUNDS=N SPLIT=BYTES WORKERS=N)\n');
  process.exit(2);
}
const rounds = Number(process.env.ROUNDS ?? 7);
const split = Number(process.env.SPLIT ?? 1 << 20);
const workers = Number(process.env.WORKERS ?? 2);
const sys = System.create({ poolMiB: 512 });
const pool = new ReaderPool(sys, { workers });
const sets = images.map((p) => {
  const { mount } = sys.mount(p);
  return { mount, paths: sys.listFiles(mount).map((f) => f.path) };
});
const modes = [0, split];
const fill = new Map<number, number[]>(modes.map((m) => [m, []]));
const fillCpu = new Map<number, number[]>(modes.map((m) => [m, []]));
const warm = new Map<number, number[]>(modes.map((m) => [m, []]));
const lastBytes = new Map<number, Map<number, number>>();
const dec = new Map<number, { pclusters: number; waits: number; attached: number }>();
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
try {
  await Promise.all(Array.from({ length: workers }, () => pool.run({ kind: 'ranges', mount: 0, ranges: [] })));
  await pool.readClaimed(sets); // warm-up (not counted)
  for (let r = 0; r < rounds; r++) {
    for (const m of r % 2 === 0 ? modes : [...modes].reverse()) {
      sys.dropCaches();
      const c0 = sys.stats().counters;
      const u0 = process.cpuUsage();
      let t0 = performance.now();
      const a = await pool.readClaimed(sets, { split: m });
      fill.get(m)!.push(performance.now() - t0);
      const u = process.cpuUsage(u0);
      fillCpu.get(m)!.push((u.user + u.system) / 1000);
      if (a.perThreadBytes) lastBytes.set(m, a.perThreadBytes);
      const c = sys.stats().counters;
      dec.set(m, {
        pclusters: c.Z_PCLUSTERS - c0.Z_PCLUSTERS,
        waits: c.Z_PCLUSTER_WAITS - c0.Z_PCLUSTER_WAITS,
        attached: c.Z_PCLUSTER_SKIPPED - c0.Z_PCLUSTER_SKIPPED,
      });
      t0 = performance.now();
      const b = await pool.readClaimed(sets, { split: m });
      warm.get(m)!.push(performance.now() - t0);
      if (a.errors.length + b.errors.length > 0) throw new Error(a.errors.concat(b.errors)[0]);
    }
  }
  const mib = sets.reduce((s, x) => s + sys.listFiles(x.mount).reduce((t, f) => t + f.size, 0), 0) / 2 ** 20;
  for (const m of modes) {
    const d = dec.get(m)!;
    process.stdout.write(
      `split ${m}: threads ${JSON.stringify([...(lastBytes.get(m) ?? [])].map(([, v]) => v))}; fill ${median(fill.get(m)!).toFixed(0)} ms (${(mib / (median(fill.get(m)!) / 1000)).toFixed(1)} MiB/s, ` +
        `${(mib / (median(fillCpu.get(m)!) / 1000)).toFixed(1)} MiB per CPU-second), ` +
        `warm ${median(warm.get(m)!).toFixed(1)} ms (${(mib / (median(warm.get(m)!) / 1000)).toFixed(0)} MiB/s); ` +
        `last fill ${d.pclusters} pclusters decoded, ${d.waits} waits, ${d.attached} attached\n`,
    );
  }
  process.stdout.write(
    `split/whole: fill ${(median(fill.get(0)!) / median(fill.get(split)!)).toFixed(2)}x, ` +
      `warm ${(median(warm.get(0)!) / median(warm.get(split)!)).toFixed(2)}x faster (${rounds} rounds, ${workers} workers, ${mib.toFixed(1)} MiB)\n`,
  );
} finally {
  await pool.destroy();
  sys.detach();
}
