// The differential fuzz pass: upstream fsck.erofs 1.9.3 --extract as a second reader. A short sampled
// run in CI (the long one is `ishare fuzz --differential`), the pass's own ability to see a
// disagreement, and the first finding it made (a dirent name holding a NUL byte).
import anyTest, { type TestFn } from 'ava';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { mkfs } from '@ishare/core';
import { ErofsImage, fsckExtract, regularFilesUnder } from '@ishare/core/format';
import {
  checkImage,
  differentialPass,
  KNOWN_UPSTREAM_BUGS,
  runFuzz,
  upstreamOnly,
  writeFuzzTree,
} from '@ishare/core/fuzz';
import { readerPass } from '../src/fuzz/reader-pass.ts';
import { Recorder } from '../src/fuzz/outcome.ts';
import { removeDir, tempDir } from '../../../test/helpers/trees.ts';
import { upstreamTool } from '../../../test/helpers/erofs-utils.ts';
import { synthSeed, testSeeds } from './fuzz-seeds.ts';

interface Ctx {
  seeds: { name: string; bytes: Uint8Array }[];
  dir: string;
  fsck: string;
  cleanup: () => void;
}
const test = anyTest as TestFn<Ctx>;

test.before(async (t) => {
  const s = await testSeeds();
  const dir = tempDir('ishare-fuzz-diff-');
  // Our mkfs without fingerprints too: upstream 1.9.3 reads those whatever our fingerprint layout.
  const src = join(dir, 'tree');
  writeFuzzTree(src);
  const plain = join(dir, 'plain.img');
  await mkfs({
    out: plain,
    source: src,
    timestamp: 1_700_000_000,
    uuid: '00000000-0000-4000-8000-000000000002',
    fingerprint: false,
  });
  s.seeds.push({ name: 'ishare-mkfs-nofp', bytes: new Uint8Array(readFileSync(plain)) });
  t.context = { seeds: s.seeds, dir, fsck: upstreamTool('fsck.erofs'), cleanup: s.cleanup };
});
test.after.always((t) => {
  t.context.cleanup();
  removeDir(t.context.dir);
});

test('a sampled differential run: where both accept, every file agrees with upstream fsck.erofs', async (t) => {
  const out = join(t.context.dir, 'failures');
  const r = await runFuzz({
    seeds: t.context.seeds,
    count: 80,
    seed: 20261129,
    workers: 2,
    outDir: out,
    kernel: false,
    fsck: t.context.fsck,
    timeoutMs: 10_000,
  });
  const d = r.differential!;
  t.log(
    `${r.images} images: ${d.compared} both accepted (${d.files} files compared), ${d.upstreamRejected} upstream refused, ${d.oursRejected} ours refused, ${d.skipped} skipped`,
  );
  t.true(d.compared >= 10, `compared ${d.compared}`);
  t.true(d.files > 1000);
  t.is(d.compared + d.upstreamRejected + d.oursRejected + d.skipped, 80);
  // Every disagreement is a finding; those a known upstream bug explains are reported, not failing.
  t.deepEqual(
    d.findings
      .filter((f) => !upstreamOnly(f))
      .map((f) => `#${f.index} ${f.disagreements.map((x) => `${x.path} ${x.kind} ${x.detail}`).join('; ')}`),
    [],
  );
  t.is(d.upstreamBugs, d.findings.length);
  if (d.upstreamBugs)
    t.log(`${d.upstreamBugs} images hit the known upstream bug: ${KNOWN_UPSTREAM_BUGS.TRAILING_HOLE}`);
  t.deepEqual(r.failures, []);
});

test('found by the differential pass, an upstream bug: fsck.erofs 1.9.3 --extract cuts a file that ends in a hole', (t) => {
  // The synthetic seed's /chunks: 12 blocks of 512, data only in block 4, chunk-based with null chunks.
  const bytes = synthSeed();
  const rec = new Recorder();
  const reader = readerPass(bytes, rec, 8 << 20);
  t.is(rec.out.typedErrors, 0);
  const d = differentialPass(bytes, reader, 0, 8 << 20, {
    fsck: t.context.fsck,
    scratch: join(t.context.dir, 'scratch-hole'),
    timeoutMs: 10_000,
  });
  t.is(d.status, 'compared');
  t.deepEqual(
    d.disagreements.map((x) => [x.path, x.kind, x.upstreamBug]),
    [['/chunks', 'size', KNOWN_UPSTREAM_BUGS.TRAILING_HOLE]],
  );
  t.regex(d.disagreements[0].detail, /our reader 6144 bytes, fsck.erofs 3072/);
});

test('the pass reports a file whose bytes differ from the extraction, and files only one side has', (t) => {
  const bytes = t.context.seeds.find((s) => s.name === 'ishare-mkfs-nofp')!.bytes;
  const rec = new Recorder();
  const reader = readerPass(bytes, rec, 8 << 20);
  t.is(rec.out.typedErrors, 0);
  // Stand in for a reader bug: one file's bytes as if read wrong, one file missing from its walk.
  const victim = reader.files.find((f) => f.size > 100)!;
  const wrong = new Uint8Array(reader.data.get(victim.nid)!);
  wrong[50] ^= 1;
  reader.data.set(victim.nid, wrong);
  const dropped = reader.files.find((f) => f.path !== victim.path)!;
  reader.files.splice(reader.files.indexOf(dropped), 1);
  const d = differentialPass(bytes, reader, 0, 8 << 20, {
    fsck: t.context.fsck,
    scratch: join(t.context.dir, 'scratch'),
    timeoutMs: 10_000,
  });
  t.is(d.status, 'compared');
  t.deepEqual(
    d.disagreements.map((x) => [x.path, x.kind]).sort(),
    [
      [victim.path, 'content'],
      [dropped.path, 'only-upstream'],
    ].sort(),
  );
  t.regex(d.disagreements.find((x) => x.kind === 'content')!.detail, /first difference at byte 50/);
});

test('found by the differential pass: a dirent name holding a NUL is ECORRUPT, not a file upstream extracts under another name', async (t) => {
  const src = join(t.context.dir, 'nul');
  mkdirSync(src);
  writeFileSync(join(src, 'f100'), 'hundred');
  writeFileSync(join(src, 'g'), 'gee');
  const image = join(t.context.dir, 'nul.img');
  await mkfs({ out: image, source: src, timestamp: 0, fingerprint: false });
  const bytes = readFileSync(image);
  const at = bytes.indexOf('f100');
  t.true(at > 0 && bytes.indexOf('f100', at + 1) < 0);
  bytes[at + 2] = 0; // "f1\0" + "0"
  writeFileSync(image, bytes);
  // What upstream makes of it: a file named "f1".
  const ex = join(t.context.dir, 'nul-x');
  t.true(fsckExtract(t.context.fsck, image, ex).ok);
  t.deepEqual([...regularFilesUnder(ex).keys()].sort(), ['/f1', '/g']);
  t.throws(() => ErofsImage.fromBuffer(bytes).readdir(ErofsImage.fromBuffer(bytes).root()), {
    message: /not a valid file name \(it holds a NUL or '\/' byte\)/,
  });
  const o = checkImage(
    { bytes },
    {
      readCap: 8 << 20,
      differential: { fsck: t.context.fsck, scratch: join(t.context.dir, 'scratch2'), timeoutMs: 10_000 },
    },
  );
  t.is(o.kind, 'error');
  t.is(o.differential?.status, 'ours-rejected');
});
