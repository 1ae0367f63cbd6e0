// `pnpm bench --layout layers`: what the per-layer layout of containerd's EROFS snapshotter costs our
// reads. The same container image is mounted flat (one image of the merged tree) and as one blob per
// layer under the read-only overlay (fs/overlay/), in one kernel; every regular file is read through
// each, interleaved per repetition: fill (page cache dropped, every page read from the device) and warm
// (every page cached, so the cost left is open — the overlay's lookup — and the copy). Targets: layers ≥
// 0.9× flat for both, ratios of medians measured in the same run. Also, as context, a cold lookup of
// every path on freshly parsed images (flat: the image's own walk; layers: through every layer).
//
// Default data: the bundled typescript-5.6.2 tree split into a three-layer OCI image (package files;
// half of lib/; the other half of lib/ plus whiteouts of five files of the layer below), so a lookup
// passes through every layer. --source IMAGE: a container image of your own.
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { System } from '@ishare/core';
import { ErofsImage } from '@ishare/core/format';
import { Overlay, erofsNameiOps } from '@ishare/core/kernel';
import { prepareInputs } from '../packages/cli/src/image-cache.ts';
import { bundledSourceDirs } from '../packages/cli/src/bundled.ts';
import { gnuTarOf, ociLayout } from '../packages/core/test/helpers/oci.ts';
import type { BenchOptions } from './args.ts';
import { benchCacheDir } from './derive.ts';
import { MiB } from './stats.ts';

const TARGET = 0.9;

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

/** The bundled tree as a three-layer OCI image (built once into the bench cache). */
function layeredImageOf(src: string, log: (s: string) => void): string {
  const key = createHash('sha256').update(`layout-v1\0${src}`).digest('hex').slice(0, 16);
  const dir = join(benchCacheDir(), `layout-oci-${key}`);
  if (existsSync(join(dir, 'index.json'))) return dir;
  log(`building a three-layer OCI image of ${src} in ${dir}`);
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  const parts = [join(tmp, 'l1'), join(tmp, 'l2'), join(tmp, 'l3')];
  const files = filesUnder(src);
  const lib = files.filter((f) => f.startsWith('lib/'));
  const hidden = lib.filter((_, i) => i % 2 === 0).slice(0, 5);
  for (const f of files) {
    const layer = !f.startsWith('lib/') ? 0 : lib.indexOf(f) % 2 === 0 ? 1 : 2;
    mkdirSync(join(parts[layer], f, '..'), { recursive: true });
    cpSync(join(src, f), join(parts[layer], f));
  }
  for (const f of hidden) {
    mkdirSync(join(parts[2], f, '..'), { recursive: true });
    writeFileSync(
      join(
        parts[2],
        f.replace(/[^/]+$/, (n) => `.wh.${n}`),
      ),
      '',
    );
  }
  ociLayout(join(tmp, 'oci'), { layers: parts.map(gnuTarOf), compression: 'none' });
  renameSync(join(tmp, 'oci'), dir);
  rmSync(tmp, { recursive: true, force: true });
  return dir;
}

interface Sample {
  fill: number;
  warm: number;
}

export async function runLayoutBench(o: BenchOptions, log: (s: string) => void): Promise<number> {
  const input = o.sources?.[0] ?? layeredImageOf(bundledSourceDirs()[0], log);
  const onBuild = (i: string, image: string): void => log(`building ${image} from ${i}`);
  const [flat] = await prepareInputs([input], { onBuild, ...(o.platform ? { platform: o.platform } : {}) });
  const [layered] = await prepareInputs([input], {
    onBuild,
    layout: 'layers',
    ...(o.platform ? { platform: o.platform } : {}),
  });
  const blobs = layered.layers ?? [layered.image];
  const flatImg = ErofsImage.open(flat.image);
  const paths: string[] = [];
  let bytes = 0;
  for (const { path, inode } of flatImg.walk()) {
    if (inode.type !== 'file') continue;
    paths.push(path);
    bytes += inode.size;
  }
  flatImg.close();
  const sys = System.create({
    poolBytes: Math.ceil((bytes * 2.2) / MiB + 64) * MiB,
    inodeSlots: 8 * paths.length + 4096,
  });
  const fm = sys.mount(flat.image).mount;
  const lm = [...blobs].reverse().map((b) => sys.mount(b).mount);
  const buf = Buffer.allocUnsafe(o.chunk);
  const readAll = (layers: boolean): number => {
    let n = 0;
    for (const p of paths) {
      const f = layers ? sys.openOverlay(lm, p) : sys.open(fm, p);
      try {
        for (let pos = 0; pos < f.size;) {
          const r = sys.read(f, pos, buf.length, buf, 0);
          if (r === 0) break;
          pos += r;
          n += r;
        }
      } finally {
        sys.close(f);
      }
    }
    if (n !== bytes) throw new Error(`read ${n} bytes, the files hold ${bytes}`);
    return n;
  };
  // A warm pass over this data takes ~10 ms: enough rounds that a sample is not one scheduler tick.
  const rounds = o.warmRounds ?? (o.quick ? 5 : 20);
  const measure = (layers: boolean): Sample => {
    sys.dropCaches();
    const t0 = performance.now();
    readAll(layers);
    const t1 = performance.now();
    for (let i = 0; i < rounds; i++) readAll(layers);
    const t2 = performance.now();
    return { fill: bytes / MiB / ((t1 - t0) / 1000), warm: (rounds * bytes) / MiB / ((t2 - t1) / 1000) };
  };
  const samples: Record<'flat' | 'layers', Sample[]> = { flat: [], layers: [] };
  log(
    `${paths.length} files, ${(bytes / MiB).toFixed(1)} MiB; ${blobs.length} layers; ${o.reps} repetitions (+1 warm-up)`,
  );
  for (let rep = 0; rep <= o.reps; rep++) {
    // Interleaved, the order alternating, so a burst of load on the machine hits both alike.
    const order: ('flat' | 'layers')[] = rep % 2 ? ['layers', 'flat'] : ['flat', 'layers'];
    for (const mode of order) {
      for (let k = 0; k < o.passes; k++) {
        const s = measure(mode === 'layers');
        if (rep > 0) samples[mode].push(s);
      }
    }
  }
  for (const m of lm) sys.unmount(m);
  sys.unmount(fm);
  sys.detach();

  // Cold lookups, as context: every path resolved on freshly parsed images.
  const lookup = (layers: boolean): number => {
    const imgs = layers ? [...blobs].reverse().map((b) => ErofsImage.open(b)) : [ErofsImage.open(flat.image)];
    const t0 = performance.now();
    if (layers) {
      const ovl = new Overlay(imgs.map(erofsNameiOps));
      for (const p of paths) ovl.resolve(p);
    } else for (const p of paths) imgs[0].resolve(p);
    const ms = performance.now() - t0;
    for (const i of imgs) i.close();
    return ms;
  };
  const lookups = { flat: [] as number[], layers: [] as number[] };
  for (let rep = 0; rep < Math.max(3, o.reps); rep++) {
    lookups.flat.push(lookup(false));
    lookups.layers.push(lookup(true));
  }

  const med = (mode: 'flat' | 'layers', k: keyof Sample): number => median(samples[mode].map((s) => s[k]));
  const rows = (['fill', 'warm'] as const).map((k) => {
    const ratio = med('layers', k) / med('flat', k);
    return {
      what: k,
      flat: med('flat', k),
      layers: med('layers', k),
      ratio,
      verdict: ratio >= TARGET ? 'PASS' : 'MISS',
    };
  });
  const lk = { flat: median(lookups.flat), layers: median(lookups.layers) };
  const lines = [
    `layout: ${input} — ${paths.length} files, ${(bytes / MiB).toFixed(1)} MiB, ${blobs.length} layers; 1 thread, ${o.reps} reps × ${o.passes} passes, warm = ${rounds} rounds`,
    '| reads | flat MiB/s | layers MiB/s | layers / flat | target | verdict |',
    '|---|---:|---:|---:|---:|---|',
    ...rows.map(
      (r) =>
        `| ${r.what} | ${r.flat.toFixed(1)} | ${r.layers.toFixed(1)} | ${r.ratio.toFixed(2)}× | ≥ ${TARGET}× | ${r.verdict} |`,
    ),
    `| cold lookup of every path (context) | ${lk.flat.toFixed(1)} ms | ${lk.layers.toFixed(1)} ms | ${(lk.flat / lk.layers).toFixed(2)}× | | info |`,
    '',
    'Ratios of medians measured side by side in this run (the machine may be shared: compare the ratios, not the MiB/s across runs).',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  mkdirSync(o.outDir, { recursive: true });
  const doc = { kind: 'layout', input, files: paths.length, bytes, layers: blobs.length, rows, lookupMs: lk, samples };
  writeFileSync(join(o.outDir, `layout-${Date.now()}.json`), `${JSON.stringify(doc, null, 2)}\n`);
  mkdirSync(o.reportDir, { recursive: true });
  writeFileSync(join(o.reportDir, 'layout.md'), `# pnpm bench --layout layers\n\n${lines.join('\n')}\n`);
  return 0;
}
