// The fuzz checker and runner: a clean seed checks ok with every file verified; the classification
// rules (typed one-line error / crash / out-of-bounds / wrong data); a short deterministic fuzz over
// our and mkfs.erofs's seeds with no crash, hang, oob or wrong data; the hang detector terminates a
// worker stuck in an infinite loop; a dead worker is a crash; a saved image replays to its outcome.
import anyTest, { type TestFn } from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErofsError } from '@ishare/core';
import { ErofsImage } from '@ishare/core/format';
import {
  buildOracle,
  checkImage,
  FuzzKernel,
  generateImage,
  mutateImage,
  prepareSeed,
  Prng,
  replayImage,
  runFuzz,
  untouchedFiles,
} from '@ishare/core/fuzz';
import { Finding, Recorder } from '../src/fuzz/outcome.ts';
import { removeDir, tempDir } from '../../../test/helpers/trees.ts';
import { testSeeds } from './fuzz-seeds.ts';

interface Ctx {
  seeds: { name: string; bytes: Uint8Array }[];
  dir: string;
  cleanup: () => void;
}
const test = anyTest as TestFn<Ctx>;
const STUB = new URL('./fuzz-stub-worker.ts', import.meta.url).href;

test.before(async (t) => {
  const s = await testSeeds();
  for (const why of s.skipped) console.log(`fuzz-run: ${why}`);
  t.context = { seeds: s.seeds, dir: tempDir('ishare-fuzz-run-'), cleanup: s.cleanup };
});
test.after.always((t) => {
  t.context.cleanup();
  removeDir(t.context.dir);
});

test('every seed checks ok in both passes, every file verified against the seed itself', (t) => {
  const kernel = new FuzzKernel(join(t.context.dir, 'clean.img'));
  try {
    for (const s of t.context.seeds) {
      const oracle = buildOracle(s.bytes);
      const out = checkImage({ bytes: s.bytes, oracle, touched: [] }, { kernel });
      t.is(out.kind, 'ok', `${s.name}: ${out.message}`);
      t.is(out.verified, oracle.files.length, s.name);
      t.true(out.filesRead >= 2 * oracle.files.length, `${s.name}: reader and kernel read every file`);
      t.is(out.typedErrors, 0);
    }
  } finally {
    kernel.close();
  }
});

test('untouched files: a touched range excludes exactly the files depending on it; a superblock hit excludes all', (t) => {
  const s = t.context.seeds[0];
  const oracle = buildOracle(s.bytes);
  const f = oracle.files.find((x) => x.data.length > 0)!;
  const [lo] = f.deps[f.deps.length - 1];
  const left = untouchedFiles(oracle, [[lo, 1]]);
  t.false(left.some((x) => x.nid === f.nid));
  t.true(left.length >= oracle.files.length - 3, 'only files sharing that byte are excluded');
  t.deepEqual(untouchedFiles(oracle, [[1024 + 40, 4]]), []);
});

test('classification: typed one-line errors go on, other throws are crashes, short device reads are oob', (t) => {
  const rec = new Recorder();
  rec.note(new ErofsError('ECORRUPT', 'bad thing', 10), 'reader');
  rec.note(new ErofsError('ENOENT', 'second'), 'kernel');
  t.is(rec.out.kind, 'error');
  t.is(rec.out.code, 'ECORRUPT');
  t.is(rec.out.typedErrors, 2);
  const spans = new ErofsError('EIO', 'x');
  Object.defineProperty(spans, 'message', { value: 'two\nlines' });
  t.is(t.throws(() => rec.note(spans, 'reader'), { instanceOf: Finding })?.kind, 'crash');
  t.is(t.throws(() => rec.note(new TypeError('boom'), 'reader'), { instanceOf: Finding })?.kind, 'crash');
  t.is(t.throws(() => rec.note(new RangeError('boom'), 'kernel'), { instanceOf: Finding })?.kind, 'crash');
  const oob = t.throws(() => rec.note(new ErofsError('ETRUNCATED', 'short device read from /x.img', 4096), 'kernel'), {
    instanceOf: Finding,
  });
  t.is(oob?.kind, 'oob');
  // The same code from the reader's range check is a refused read, not an out-of-bounds one.
  t.notThrows(() =>
    rec.note(
      new ErofsError('ETRUNCATED', 'read of 4 bytes past the end of the image (image is 10 bytes)', 12),
      'reader',
    ),
  );
});

test('a truncated seed gives a typed error, never a crash, in both passes', (t) => {
  const kernel = new FuzzKernel(join(t.context.dir, 'trunc.img'));
  try {
    for (const s of t.context.seeds) {
      for (const len of [0, 100, 1024 + 64, 4096, s.bytes.length - 1]) {
        const out = checkImage({ bytes: s.bytes.subarray(0, Math.max(0, len)) }, { kernel });
        t.is(out.kind, 'error', `${s.name} cut at ${len}: ${out.message}`);
        t.false(/\n/.test(out.message ?? ''));
      }
    }
  } finally {
    kernel.close();
  }
});

test('a short deterministic fuzz over our and mkfs.erofs seeds: no crash, hang, oob or wrong data', async (t) => {
  const names = t.context.seeds.map((s) => s.name);
  t.true(names.some((n) => n.startsWith('ishare-mkfs')));
  if (!names.some((n) => n.startsWith('mkfs.erofs'))) t.log('mkfs.erofs not installed: our and synthetic seeds only');
  const out = join(t.context.dir, 'failures');
  const r = await runFuzz({
    seeds: t.context.seeds,
    count: 400,
    seed: 20241124,
    workers: 2,
    outDir: out,
    timeoutMs: 10_000,
  });
  t.log(
    `${r.images} images in ${(r.elapsedMs / 1000).toFixed(1)} s: ${JSON.stringify(r.counts)}; ${r.verifiedUntouched} untouched files verified`,
  );
  t.is(r.images, 400);
  t.deepEqual(
    r.failures.map((f) => `#${f.index} ${f.kind}: ${f.message}`),
    [],
  );
  t.is(r.counts.crash + r.counts.hang + r.counts.oob + r.counts.wrong, 0);
  t.true(r.counts.error > 0, 'mutations are caught as typed errors');
  t.true(r.counts.ok > 0, 'some mutations leave a readable image');
  t.true(r.verifiedUntouched > 0);
  t.true(r.topErrors.length > 0);
  t.is(
    Object.values(r.bySeed).reduce((n, c) => n + Object.values(c).reduce((a, b) => a + b, 0), 0),
    400,
  );
  t.false(existsSync(out), 'nothing saved when nothing failed');
  // Deterministic: the same run seed gives the same outcomes.
  const again = await runFuzz({ seeds: t.context.seeds, count: 60, seed: 20241124, workers: 1 });
  const first = await runFuzz({ seeds: t.context.seeds, count: 60, seed: 20241124, workers: 2 });
  t.deepEqual(again.counts, first.counts);
  t.deepEqual(again.topErrors, first.topErrors);
});

test('fingerprint damage (prefix id out of range, bogus prefix record, value of the wrong length or prefix): a typed error or a refusal, never a crash or wrong data', (t) => {
  const kernel = new FuzzKernel(join(t.context.dir, 'fp.img'));
  const seen = { error: 0, ok: 0, valueHits: 0 };
  try {
    for (const s of t.context.seeds) {
      const seed = prepareSeed(s.name, s.bytes);
      if (seed.map.fingerprints.length === 0) continue;
      const oracle = buildOracle(s.bytes);
      for (let i = 0; i < 24; i++) {
        const m = mutateImage(seed, new Prng(1000 + i), { ops: ['fingerprint'], count: 1, fixChecksum: true });
        const touched = m.mutations.map((x) => [x.at, x.len] as [number, number]);
        const out = checkImage({ bytes: m.bytes, oracle, touched }, { kernel });
        const what = `${s.name} #${i} ${m.mutations.map((x) => `${x.target}: ${x.detail}`).join('; ')}`;
        t.true(out.kind === 'ok' || out.kind === 'error', `${what} -> ${out.kind}: ${out.message}`);
        t.false(/\n/.test(out.message ?? ''));
        if (out.kind === 'error') seen.error++;
        else seen.ok++;
        // Damage that keeps the entry's padded size (prefix bytes, a value of 37 or 38 bytes) leaves the
        // xattr body parseable: then the value itself must be refused.
        if (m.mutations.some((x) => x.target.startsWith('fingerprint value prefix') || /-> 3[78]$/.test(x.detail))) {
          seen.valueHits++;
          // The damaged value is refused: no file of the image reports it as a digest.
          const img = ErofsImage.fromBuffer(m.bytes);
          const bad = [...img.walk()].filter(({ inode }) => img.fingerprintResult(inode).status === 'bad');
          t.true(bad.length >= 1, `${what}: refused`);
        }
      }
    }
  } finally {
    kernel.close();
  }
  t.log(JSON.stringify(seen));
  t.true(seen.error > 0 && seen.ok > 0 && seen.valueHits > 0, JSON.stringify(seen));
});

test('the hang detector terminates a worker stuck in a loop; a dead worker counts as a crash; the run goes on', async (t) => {
  const out = join(t.context.dir, 'stub-failures');
  const r = await runFuzz({
    seeds: t.context.seeds,
    count: 8,
    seed: 5,
    workers: 2,
    timeoutMs: 4000,
    outDir: out,
    workerModule: STUB,
  });
  t.is(r.images, 8);
  t.is(r.counts.hang, 1);
  t.is(r.counts.crash, 1);
  const hang = r.failures.find((f) => f.kind === 'hang')!;
  t.is(hang.index, 2);
  t.regex(hang.message, /no answer within 4000 ms/);
  const crash = r.failures.find((f) => f.kind === 'crash')!;
  t.is(crash.index, 4);
  t.regex(crash.message, /worker died: TypeError/);
  // Saved for replay: the image regenerated from (seed, index), with its mutations described.
  t.true(existsSync(hang.file!));
  t.deepEqual(
    new Uint8Array(readFileSync(hang.file!)),
    generateImage(
      t.context.seeds.map((s) => prepareSeed(s.name, s.bytes)),
      5,
      2,
    ).bytes,
  );
  const txt = readFileSync(hang.file!.replace(/\.img$/, '.txt'), 'utf8');
  t.regex(txt, /run seed 5, image index 2/);
  t.regex(txt, /outcome: hang/);
  // Replaying the saved image with the real checker gives its real outcome (no hang there).
  const replay = await replayImage(new Uint8Array(readFileSync(hang.file!)), { timeoutMs: 10_000 });
  t.true(replay.kind === 'ok' || replay.kind === 'error', replay.kind);
  // And the stub's loop is caught on replay too.
  const stuck = await runFuzz({
    seeds: t.context.seeds,
    count: 1,
    start: 2,
    seed: 5,
    workers: 1,
    timeoutMs: 500,
    workerModule: STUB,
  });
  t.is(stuck.counts.hang, 1);
});
