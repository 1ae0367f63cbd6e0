// `pnpm bench` end to end on a small pair of trees in --quick mode: it must run every scenario it can,
// say why it skipped the ones it cannot, and write results whose shape and figures make sense. No
// timing is asserted: only that figures are positive numbers and that every pass read every byte.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { seededBytes, tempDir, removeDir } from './helpers/trees.ts';
import { dockerSaveLegacy, gnuTarOf, packDir } from '../packages/core/test/helpers/oci.ts';

const REPO = fileURLToPath(new URL('../', import.meta.url));
const TSX = join(REPO, 'node_modules', '.bin', 'tsx');

function writeTree(root: string, v: number): number {
  let bytes = 0;
  const put = (rel: string, data: Buffer | string): void => {
    const p = join(root, rel);
    mkdirSync(join(p, '..'), { recursive: true });
    writeFileSync(p, data);
    bytes += Buffer.byteLength(data);
  };
  put('lib/big.bin', seededBytes(600_000, 1));
  put('lib/mid.bin', seededBytes(130_001, 2 + v));
  put('lib/page', seededBytes(4096, 3));
  put('etc/version', `v${v}\n`);
  put('empty', '');
  for (let i = 0; i < 12; i++) put(`docs/d${i}.txt`, seededBytes(500 + i * 900, 10 + i));
  return bytes;
}

function bench(args: string[], env: NodeJS.ProcessEnv): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(TSX, ['--conditions=source', join(REPO, 'bench', 'run.ts'), ...args], {
    cwd: REPO,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 240_000,
  });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

interface Scenario {
  id: string;
  available: boolean;
  reason?: string;
  files: number;
  bytes: number;
  runsMs: number[];
  runsCpuMs: number[];
  medianMs: number | null;
  mibPerCpuSecond: number | null;
  mibps: { median: number; min: number; max: number } | null;
  busy: { busyCpus: number; benchCpus: number; otherCpus: number } | null;
}

interface Ratio {
  id: string;
  value: number | null;
  cpuValue: number | null;
  target: number | null;
  verdict: string;
}

test('bench --quick on a small pair: JSON shape, every pass read every byte, positive figures', async (t) => {
  const dir = tempDir('ishare-bench-');
  try {
    const a = join(dir, 'a');
    const b = join(dir, 'b');
    const bytes = writeTree(a, 1) + writeTree(b, 2);
    const out = join(dir, 'results');
    const r = bench(['--quick', '--source', `${a},${b}`, '--out', out], { ISHARE_CACHE: join(dir, 'cache') });
    t.log(r.stderr.trim());
    t.is(r.status, 0, r.stderr);
    t.regex(r.stdout, /median MiB\/s/);
    t.regex(r.stdout, /ours\.warm\.2w \/ tree\.warm\.2t/);

    const files = readdirSync(out).filter((f) => f.endsWith('.json'));
    t.true(files.includes('latest.json'));
    const stamped = files.filter((f) => f !== 'latest.json');
    t.is(stamped.length, 1, 'one timestamped results file');
    const latest = readFileSync(join(out, 'latest.json'), 'utf8');
    t.is(readFileSync(join(out, stamped[0]), 'utf8'), latest);
    // The Markdown report: the command, then what the run printed (its tables), beside the JSON with --out.
    const report = readFileSync(join(out, 'read.md'), 'utf8');
    t.true(report.startsWith('# `pnpm bench --quick'), report.slice(0, 80));
    t.true(report.includes(r.stdout.slice(0, r.stdout.indexOf('\nresults: '))), 'the report holds the printed run');

    const j = JSON.parse(latest) as {
      version: number;
      machine: { cpus: number; node: string; loadAverageStart: number[] };
      options: { reps: number; passes: number };
      data: { files: number; bytes: number };
      scenarios: Scenario[];
      ratios: Ratio[];
      skipped: Record<string, string>;
      oursColdCounters: Record<string, number> | null;
    };
    t.is(j.version, 1);
    t.true(j.machine.cpus > 0);
    t.is(j.machine.node, process.version);
    t.is(j.machine.loadAverageStart.length, 3);
    t.is(j.options.reps, 2);
    t.is(j.options.passes, 1);
    t.is(j.data.files, 2 * 17);
    t.is(j.data.bytes, bytes);

    const ids = j.scenarios.map((s) => s.id);
    for (const id of [
      'ours.fill.1w',
      'ours.fill.2w',
      'ours.warm.1w',
      'ours.warm.2w',
      'ours.warm.main',
      'tree.warm.1t',
      'tree.warm.2t',
      'tree.warm.main',
    ]) {
      t.true(ids.includes(id), id);
      t.true(j.scenarios.find((s) => s.id === id)!.available, `${id} measured`);
    }
    for (const s of j.scenarios) {
      t.is(s.bytes, bytes, s.id);
      if (s.available) {
        t.is(s.runsMs.length, 2, s.id);
        t.true(
          s.runsMs.every((x) => Number.isFinite(x) && x > 0),
          s.id,
        );
        t.is(s.runsCpuMs.length, 2, s.id);
        t.true(
          s.runsCpuMs.every((x) => Number.isFinite(x) && x >= 0),
          s.id,
        );
        t.true(s.mibPerCpuSecond !== null && s.mibPerCpuSecond > 0, s.id);
        // /proc/stat may be missing (not Linux): then null, never a made-up figure.
        if (s.busy !== null) t.true(s.busy.busyCpus >= 0 && s.busy.benchCpus >= 0 && s.busy.otherCpus >= 0, s.id);
        t.true(
          s.mibps !== null &&
            s.mibps.median > 0 &&
            s.mibps.min > 0 &&
            s.mibps.min <= s.mibps.median &&
            s.mibps.median <= s.mibps.max,
          s.id,
        );
      } else {
        // A skip must say why.
        t.true(typeof s.reason === 'string' && s.reason.length > 0, `${s.id} skipped without a reason`);
        t.log(`${s.id}: ${s.reason}`);
      }
    }
    for (const q of j.ratios) {
      t.true(['PASS', 'MISS', 'n/a', 'info'].includes(q.verdict), q.id);
      if (q.value !== null) t.true(q.value > 0 && q.cpuValue !== null && q.cpuValue > 0, q.id);
      if (q.target !== null && q.value !== null) t.is(q.verdict, q.value >= q.target ? 'PASS' : 'MISS', q.id);
    }
    const cold = j.scenarios.find((s) => s.id === 'ours.cold.1w')!;
    if (cold.available) t.true((j.oursColdCounters?.DEVICE_PAGES ?? 0) > 0, 'the cold pass read from the device');
  } finally {
    removeDir(dir);
  }
});

test('bench --images --no-loop --no-evict: the figures it cannot take are skipped with their reasons', (t) => {
  const dir = tempDir('ishare-bench-');
  try {
    const a = join(dir, 'a');
    writeTree(a, 1);
    const cache = join(dir, 'cache');
    // Build the image through one bench run over the tree, then hand the image itself in.
    t.is(
      bench(['--reps', '1', '--source', a, '--out', join(dir, 'r1'), '--no-loop', '--no-evict'], {
        ISHARE_CACHE: cache,
      }).status,
      0,
    );
    const img = join(
      cache,
      readdirSync(cache).find((f) => f.endsWith('.img'))!,
    );
    const r = bench(
      ['--reps', '1', '--copies', '1', '--images', img, '--out', join(dir, 'r2'), '--no-loop', '--no-evict'],
      {},
    );
    t.is(r.status, 0, r.stderr);
    const j = JSON.parse(readFileSync(join(dir, 'r2', 'latest.json'), 'utf8')) as {
      scenarios: Scenario[];
      ratios: Ratio[];
    };
    const by = new Map(j.scenarios.map((s) => [s.id, s]));
    t.true(by.get('ours.warm.1w')!.available);
    t.true(by.get('ours.fill.2w')!.available);
    t.false(by.get('ours.cold.1w')!.available);
    t.regex(by.get('ours.cold.1w')!.reason!, /--no-evict/);
    t.regex(by.get('tree.warm.1t')!.reason!, /no source trees/);
    t.regex(by.get('loop.fill.1t')!.reason!, /--no-loop/);
    t.is(j.ratios.find((q) => q.id === 'ours.warm.1w / tree.warm.1t')!.verdict, 'n/a');
    t.regex(r.stdout, /no source trees/);
  } finally {
    removeDir(dir);
  }
});

test('bench --compress lz4hc: compressed images of the trees are read by every available scenario', (t) => {
  const dir = tempDir('ishare-bench-z-');
  try {
    const srcs = [join(dir, 'a'), join(dir, 'b')];
    let bytes = 0;
    srcs.forEach((s, v) => {
      for (let i = 0; i < 6; i++) {
        const p = join(s, 'docs', `t${i}.txt`);
        mkdirSync(join(p, '..'), { recursive: true });
        const text = Array.from({ length: 2000 + i * 900 }, (_, k) => `${v}:${i}:${k} compressible line\n`).join('');
        writeFileSync(p, text);
        bytes += Buffer.byteLength(text);
      }
    });
    const r = bench(
      [
        '--reps',
        '1',
        '--copies',
        '1',
        '--warm-rounds',
        '1',
        '--source',
        srcs.join(','),
        '--compress',
        'lz4hc',
        '--out',
        join(dir, 'r'),
        '--no-loop',
        '--no-evict',
      ],
      { ISHARE_CACHE: join(dir, 'cache') },
    );
    t.is(r.status, 0, r.stderr);
    t.regex(r.stdout, /compressed -zlz4hc/);
    const j = JSON.parse(readFileSync(join(dir, 'r', 'latest.json'), 'utf8')) as { scenarios: Scenario[] };
    const by = new Map(j.scenarios.map((s) => [s.id, s]));
    for (const id of ['ours.fill.1w', 'ours.fill.2w', 'ours.warm.1w']) {
      const s = by.get(id)!;
      t.true(s.available, id);
      t.is(s.files, 12);
      t.is(s.bytes, bytes);
    }
    const bad = bench(['--compress', 'lzo'], {});
    t.is(bad.status, 2);
    t.regex(bad.stderr, /^bench: --compress must be one of lz4, lz4hc, deflate, zstd/);
  } finally {
    removeDir(dir);
  }
});

test('bench: bad options exit 2 with one line and the usage', (t) => {
  const r = bench(['--reps', '0'], {});
  t.is(r.status, 2);
  t.regex(r.stderr, /^bench: --reps must be from 1 to 1000\n/);
  t.regex(r.stderr, /usage: pnpm bench/);
  const r2 = bench(['--source', 'a,b', '--images', 'c,d'], {});
  t.is(r2.status, 2);
  t.regex(r2.stderr, /not both/);
});

test("bench --source with docker save archives: the images are the containers', every byte read, tree figures skipped with the reason", (t) => {
  const dir = tempDir('ishare-bench-');
  try {
    let bytes = 0;
    const sources: string[] = [];
    for (const v of [1, 2]) {
      const tree = join(dir, `t${v}`);
      bytes += writeTree(tree, v);
      dockerSaveLegacy(join(dir, `save${v}`), [gnuTarOf(tree)], `app:${v}`);
      packDir(join(dir, `save${v}`), join(dir, `app${v}.tar`));
      sources.push(join(dir, `app${v}.tar`));
    }
    const out = join(dir, 'results');
    const r = bench(
      [
        '--reps',
        '1',
        '--passes',
        '1',
        '--copies',
        '1',
        '--source',
        sources.join(','),
        '--platform',
        'linux/amd64',
        '--out',
        out,
        '--no-loop',
        '--no-evict',
      ],
      { ISHARE_CACHE: join(dir, 'cache') },
    );
    t.is(r.status, 0, r.stderr);
    const j = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as {
      data: { files: number; bytes: number };
      scenarios: Scenario[];
    };
    t.is(j.data.files, 2 * 17);
    t.is(j.data.bytes, bytes);
    t.true(j.scenarios.find((s) => s.id === 'ours.warm.1w')!.available);
    const tree = j.scenarios.find((s) => s.id === 'tree.warm.1t')!;
    t.false(tree.available);
    t.regex(tree.reason ?? '', /container image/);
  } finally {
    removeDir(dir);
  }
});
