// Container images on the command line: what the README shows — `docker save` two versions of an
// image, `ishare compare a.tar b.tar` — with the figures the source trees dictate, the cache keyed by
// the manifest, --platform, and bad input as one line that names the image and the layer.
import test from 'ava';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ishare, json, isOneErrorLine } from './helpers/run.ts';
import {
  buildPair,
  expectedNoShare,
  expectedShare,
  writeVersion,
  type Pair,
} from '../../workers/test/helpers/pair-trees.ts';
import { removeDir } from '../../../test/helpers/trees.ts';
import { upstreamTool } from '../../../test/helpers/erofs-utils.ts';
import {
  dockerSaveLegacy,
  gnuTarOf,
  layerTar,
  ociLayout,
  packDir,
  putImage,
  writeIndex,
} from '../../core/test/helpers/oci.ts';
import type { CompareJson } from '../src/commands/compare.ts';

let pair: Pair;
let env: NodeJS.ProcessEnv = {};
let cache = '';
let saved: [string, string];

test.before(async () => {
  pair = await buildPair();
  cache = join(pair.dir, 'cache');
  env = { ISHARE_CACHE: cache };
  // a.tar: version 1 in one layer. b.tar: version 1, then a layer that makes it version 2 — the
  // whole v2 tree plus a whiteout for the file v2 moved away (as `docker build` would record it).
  const l1 = gnuTarOf(pair.srcs[0]);
  const stage = join(pair.dir, 'stage');
  mkdirSync(stage);
  writeVersion(stage, 2);
  writeFileSync(join(stage, 'data', '.wh.moved-v1'), '');
  const l2 = gnuTarOf(stage);
  dockerSaveLegacy(join(pair.dir, 'save-a'), [l1], 'app:1.0');
  dockerSaveLegacy(join(pair.dir, 'save-b'), [l1, l2], 'app:1.1');
  saved = [join(pair.dir, 'a.tar'), join(pair.dir, 'b.tar')];
  packDir(join(pair.dir, 'save-a'), saved[0]);
  packDir(join(pair.dir, 'save-b'), saved[1]);
});
test.after.always(() => {
  if (pair) removeDir(pair.dir);
});

test.serial(
  'compare a.tar b.tar (docker save archives): the figures the source trees dictate; a second run reuses the images',
  async (t) => {
    const r = await ishare(['compare', saved[0], saved[1], '--json', '--workers', '2'], env);
    t.is(r.status, 0, r.stderr);
    const d = json<CompareJson>(r);
    t.is(d.noShare.pageCacheBytes, expectedNoShare(pair.srcs));
    t.is(d.share.pageCacheBytes, expectedShare(pair.srcs));
    t.deepEqual(
      d.inputs.map((i) => [i.kind, i.built, i.label]),
      [
        ['oci', true, 'a'],
        ['oci', true, 'b'],
      ],
    );
    const again = json<CompareJson>(await ishare(['compare', saved[0], saved[1], '--json', '--workers', '2'], env));
    t.deepEqual(
      again.inputs.map((i) => i.built),
      [false, false],
    );
    t.deepEqual(
      again.inputs.map((i) => i.image),
      d.inputs.map((i) => i.image),
    );
    t.is(again.share.pageCacheBytes, d.share.pageCacheBytes);
  },
);

test.serial('stress takes the saved images too', async (t) => {
  // A container image has no tree on disk: the byte oracle's bytes come from upstream fsck.erofs --extract.
  const r = await ishare(
    [
      'stress',
      saved[0],
      saved[1],
      '--ops',
      '2000',
      '--workers',
      '2',
      '--pool-mib',
      '1',
      '--no-decoys',
      '--json',
      '--fsck',
      upstreamTool('fsck.erofs'),
    ],
    env,
  );
  t.is(r.status, 0, r.stderr);
  const rep = json<{ ops: number; violation?: unknown; servedBy: unknown[] }>(r);
  t.true(rep.ops > 0);
  t.is(rep.violation, undefined);
  t.is(rep.servedBy.length, 2);
});

test.serial(
  'a corrupt layer: one line naming the image and the layer, exit 2, nothing left in the cache',
  async (t) => {
    const bad = join(pair.dir, 'bad');
    dockerSaveLegacy(bad, [await layerTar([{ name: 'f', data: 'x'.repeat(10_000) }])], 'bad:1');
    // Flip a byte of the layer's data: the config's diff_id no longer matches.
    const id = readdirSync(bad).find((n) => /^[0-9a-f]{64}$/.test(n))!;
    const p = join(bad, id, 'layer.tar');
    const b = readFileSync(p);
    b[700] ^= 0xff;
    writeFileSync(p, b);
    packDir(bad, join(pair.dir, 'bad.tar'));
    const badCache = join(pair.dir, 'bad-cache');
    const r = await ishare(['compare', join(pair.dir, 'bad.tar'), saved[0], '--json'], { ISHARE_CACHE: badCache });
    t.is(r.status, 2);
    t.true(isOneErrorLine(r.stderr), r.stderr);
    t.regex(
      r.stderr,
      new RegExp(
        `^ishare: image ${join(pair.dir, 'bad.tar').replace(/[.]/g, '\\.')} \\(bad:1\\): layer 1/1 \\(sha256:[0-9a-f]{12}\\): uncompressed tar does not match the config's diff_id`,
      ),
    );
    t.is(r.text, '');
    t.deepEqual(existsSync(badCache) ? readdirSync(badCache) : [], [], 'no image and no temp file in the cache');
  },
);

test.serial('mkfs and read take --platform for a multi-arch layout; errors list the platforms', async (t) => {
  const layout = join(pair.dir, 'multi');
  const amd = putImage(layout, { layers: [await layerTar([{ name: 'arch', data: 'amd64\n' }])] });
  const arm = putImage(layout, {
    layers: [await layerTar([{ name: 'arch', data: 'arm64\n' }])],
    architecture: 'arm64',
    variant: 'v8',
  });
  writeIndex(layout, [
    { ...amd, platform: { os: 'linux', architecture: 'amd64' } },
    { ...arm, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
  ]);
  const out = join(pair.dir, 'multi.img');
  const none = await ishare(['mkfs', out, layout], env);
  t.is(none.status, 2);
  t.true(isOneErrorLine(none.stderr), none.stderr);
  t.is(
    none.stderr,
    `ishare: image ${layout}: holds 2 images (linux/amd64, linux/arm64/v8): pick one with --platform os/arch[/variant]\n`,
  );
  t.false(existsSync(out));
  const ok = await ishare(['mkfs', '--platform', 'linux/arm64', out, layout], env);
  t.is(ok.status, 0, ok.stderr);
  t.regex(ok.text, /^flattened 1 layers of .* \(oci-layout, linux\/arm64\/v8, sha256:[0-9a-f]{64}\)\n/);
  const cat = await ishare(['cat', out, '/arch'], env);
  t.is(cat.text, 'arm64\n');
  const read = await ishare(['read', '--platform', 'linux/amd64', layout, '--json'], env);
  t.is(read.status, 0, read.stderr);
  const bogus = await ishare(['read', '--platform', 'linux', layout], env);
  t.is(bogus.status, 2);
  t.true(isOneErrorLine(bogus.stderr), bogus.stderr);
  const notContainer = await ishare(['read', '--platform', 'linux/amd64', pair.srcs[0]], env);
  t.is(notContainer.status, 2);
  t.is(notContainer.stderr, 'ishare: --platform: no input is a container image\n');
});

test.serial('mkfs of bad container images: exit 2, one line naming the image and the layer, no output', async (t) => {
  const base = await layerTar([{ name: 'ok', data: 'ok\n' }]);
  const cases: [string, Buffer][] = [
    ['dotdot', await layerTar([{ name: 'a/../../x', data: 'x' }])],
    ['absolute', await layerTar([{ name: '/x', data: 'x' }])],
    ['whiteout', await layerTar([{ name: '.wh..', data: '' }])],
  ];
  for (const [name, layer] of cases) {
    const layout = join(pair.dir, `bad-${name}`);
    ociLayout(layout, { layers: [base, layer] });
    const out = join(pair.dir, `bad-${name}.img`);
    const r = await ishare(['mkfs', out, layout], env);
    t.is(r.status, 2, name);
    t.true(isOneErrorLine(r.stderr), r.stderr);
    t.true(r.stderr.startsWith(`ishare: image ${layout} (latest): layer 2/2 (sha256:`), r.stderr);
    t.false(existsSync(out), name);
    t.deepEqual(
      readdirSync(pair.dir).filter((n) => n.startsWith(`bad-${name}.img`)),
      [],
      'no temp file beside the output',
    );
  }
});
