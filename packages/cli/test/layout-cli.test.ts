// The per-layer layout on the command line: `mkfs --layers` writes a blob per layer (named by diff_id)
// and the fsmeta, reusing blobs; `compare --layout layers` reads through the overlay and `--layout
// fsmeta` mounts the fsmeta with the blobs as devices (the figures
// themselves are packages/workers/test/layouts.test.ts's), and `stress --layout fsmeta` stresses those
// mounts; bad input is one line, exit 2, nothing left.
import test from 'ava';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ishare, json, isOneErrorLine } from './helpers/run.ts';
import { layerTar, ociLayout, sha256 } from '../../core/test/helpers/oci.ts';
import type { CompareJson } from '../src/commands/compare.ts';
import { runStressCommand, type StressCliOptions } from '../src/commands/stress.ts';
import { upstreamTool } from '../../../test/helpers/erofs-utils.ts';
import { UsageError } from '../src/errors.ts';

const STRESS: StressCliOptions = {
  policy: 'processing',
  seed: 1,
  jitter: 0.02,
  poolMib: 16,
  decoys: false,
  chaos: false,
  domain: 'stress',
  lockChecks: true,
  raceDetector: true,
  invariants: true,
};

test('mkfs --layers, then compare --layout layers of two images sharing a base layer', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ishare-layout-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const base = await layerTar([
    { name: 'lib/', type: 'directory' },
    { name: 'lib/libc.so', data: 'c'.repeat(9000) },
  ]);
  const topA = await layerTar([
    { name: 'lib/', type: 'directory' },
    { name: 'lib/.wh.libc.so', data: '' },
    { name: 'a', data: 'a'.repeat(5000) },
  ]);
  const topB = await layerTar([{ name: 'b', data: 'b'.repeat(100) }]);
  ociLayout(join(dir, 'A'), { layers: [base, topA] });
  ociLayout(join(dir, 'B'), { layers: [base, topB] });
  const a = await ishare(['mkfs', '--layers', join(dir, 'out'), join(dir, 'A')]);
  t.is(a.status, 0, a.stderr);
  const b = await ishare(['mkfs', '--layers', '--json', join(dir, 'out'), join(dir, 'B')]);
  t.is(b.status, 0, b.stderr);
  const rb = json<{ layers: { file: string; built: boolean }[]; fsmeta: string }>(b);
  t.is(rb.layers[0].file, join(dir, 'out', `sha256-${sha256(base)}.erofs`), 'named by the diff_id');
  t.false(rb.layers[0].built, "B reuses A's base blob");
  t.true(existsSync(rb.fsmeta));
  t.is(readdirSync(join(dir, 'out')).filter((n) => n.endsWith('.erofs')).length, 5, '3 blobs, 2 fsmetas');

  const c = await ishare(
    ['compare', '--layout', 'layers', '--workers', '1', '--json', join(dir, 'A'), join(dir, 'B')],
    {
      ISHARE_CACHE: join(dir, 'cache'),
    },
  );
  t.is(c.status, 0, c.stderr);
  const doc = json<CompareJson>(c);
  t.is(doc.layout, 'layers');
  t.deepEqual(doc.inputs[0].layers?.[0], doc.inputs[1].layers?.[0], 'one blob file for the shared layer');
  // A sees /a (2 pages; its libc.so is whited out), B sees /lib/libc.so (3 pages) and /b (1 page).
  t.is(doc.noShare.pageCacheBytes, 6 * 4096);

  // fsmeta: the same blobs (from the cache) are each image's devices, in layer order, under its fsmeta.
  const f = await ishare(
    ['compare', '--layout', 'fsmeta', '--workers', '1', '--json', join(dir, 'A'), join(dir, 'B')],
    { ISHARE_CACHE: join(dir, 'cache') },
  );
  t.is(f.status, 0, f.stderr);
  const fdoc = json<CompareJson>(f);
  t.is(fdoc.layout, 'fsmeta');
  t.deepEqual(
    fdoc.inputs.map((i) => i.devices),
    doc.inputs.map((i) => i.layers),
    'the layer blobs are the devices',
  );
  t.regex(fdoc.inputs[0].image, /fsmeta-[0-9a-f]{64}\.erofs$/);
  t.is(fdoc.noShare.pageCacheBytes, 6 * 4096, 'the merged tree: the same files as through the overlay');

  // stress --layout fsmeta (in-process: no third spawn): both fsmetas mounted with their blobs as devices
  // (the base blob a device of both), every mount and chaos remount given them again; the byte oracle
  // is upstream fsck.erofs's extraction of each fsmeta with --device. A short run, every detector on.
  const env = process.env.ISHARE_CACHE;
  process.env.ISHARE_CACHE = join(dir, 'cache');
  let r: Awaited<ReturnType<typeof runStressCommand>>;
  try {
    r = await runStressCommand([join(dir, 'A'), join(dir, 'B')], {
      ...STRESS,
      layout: 'fsmeta',
      workers: 2,
      seconds: 2,
      chaos: true,
      fsck: upstreamTool('fsck.erofs'),
    });
  } finally {
    if (env === undefined) delete process.env.ISHARE_CACHE;
    else process.env.ISHARE_CACHE = env;
  }
  t.is(r.violation, undefined, r.violation?.message);
  t.deepEqual(
    r.references.map((x) => [x.image, x.origin]),
    fdoc.inputs.map((i) => [i.image, 'fsck.erofs extraction']),
  );
  t.true(r.reads > 0, 'the workers read');
  t.true(r.chaos.remount > 0, 'chaos remounted an fsmeta (with its devices)');
});

test('--layers and --layout refuse what they cannot use: one line, exit 2, nothing written', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ishare-layout-bad-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'f.tar'), await layerTar([{ name: 'x', data: 'x' }]));
  const m = await ishare(['mkfs', '--layers', join(dir, 'out'), join(dir, 'f.tar')]);
  t.is(m.status, 2);
  t.true(isOneErrorLine(m.stderr), m.stderr);
  t.regex(m.stderr, /needs a container image/);
  t.false(existsSync(join(dir, 'out')));
  const c = await ishare(['compare', '--layout', 'layers', join(dir, 'f.tar'), join(dir, 'f.tar')], {
    ISHARE_CACHE: join(dir, 'cache'),
  });
  t.is(c.status, 2);
  t.true(isOneErrorLine(c.stderr), c.stderr);
  t.regex(c.stderr, /no input is a container image/);
  // stress as compare: refused before anything is built (in-process: no second spawn).
  await t.throwsAsync(runStressCommand([join(dir, 'f.tar')], { ...STRESS, layout: 'fsmeta' }), {
    instanceOf: UsageError,
    message: /^--layout fsmeta: no input is a container image/,
  });
});
