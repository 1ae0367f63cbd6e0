// Reproducible output: the image is a function of the source, the timestamp and the uuid only.
// Also: mkfs never touches its source, and progress reports climb to their total.
import anyTest, { type TestFn } from 'ava';
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EROFS_SUPER_OFFSET, EROFS_SUPER_SIZE } from '@ishare/core/format';
import { mkfs } from '@ishare/core';
import { hasCommand, makeEdgeTree, removeDir, snapshotTree, tempDir } from '../../../test/helpers/trees.ts';
import { asObject } from './mkfs-helpers.ts';

interface Ctx {
  dir: string;
  src: string;
}
const test = anyTest as TestFn<Ctx>;
const UUID = 'c0ffee00-1234-4abc-8def-0123456789ab';

test.before((t) => {
  const dir = tempDir('ishare-mkfs-repro-');
  const src = join(dir, 'src');
  mkdirSync(src);
  makeEdgeTree(src, { longName: 255 });
  t.context = { dir, src };
});

test.after.always((t) => {
  if (t.context.dir) removeDir(t.context.dir);
});

for (const bs of [4096, 512]) {
  test(`bs ${bs}: same source, timestamp and uuid give identical bytes`, async (t) => {
    const { dir, src } = t.context;
    const a = join(dir, `a-${bs}.img`);
    const b = join(dir, `b-${bs}.img`);
    await mkfs({ out: a, source: src, blockSize: bs, timestamp: 1_700_000_000, uuid: UUID });
    await mkfs({ out: b, source: src, blockSize: bs, timestamp: 1_700_000_000, uuid: UUID });
    t.true(readFileSync(a).equals(readFileSync(b)));
  });
}

test('without a timestamp the build time comes from the source, so a fixed uuid is enough', async (t) => {
  const { dir, src } = t.context;
  const a = join(dir, 'nots-a.img');
  const b = join(dir, 'nots-b.img');
  await mkfs({ out: a, source: src, uuid: UUID });
  await mkfs({ out: b, source: src, uuid: UUID });
  t.true(readFileSync(a).equals(readFileSync(b)));
});

test('a tar source is reproducible too', async (t) => {
  if (!hasCommand('tar')) return void (t.log('skipped: no tar command'), t.pass());
  const { dir, src } = t.context;
  const archive = join(dir, 'r.tar');
  execFileSync('tar', ['--format=pax', '--xattrs', '--xattrs-include=*', '-C', src, '-cf', archive, '.']);
  await mkfs({ out: join(dir, 'ta.img'), source: archive, timestamp: 5, uuid: UUID });
  await mkfs({ out: join(dir, 'tb.img'), source: archive, timestamp: 5, uuid: UUID });
  t.true(readFileSync(join(dir, 'ta.img')).equals(readFileSync(join(dir, 'tb.img'))));
});

test('a different uuid changes only the superblock; no uuid gives a random one', async (t) => {
  const { dir, src } = t.context;
  const a = join(dir, 'u1.img');
  const b = join(dir, 'u2.img');
  const c = join(dir, 'u3.img');
  await mkfs({ out: a, source: src, timestamp: 7, uuid: UUID });
  await mkfs({ out: b, source: src, timestamp: 7, uuid: '00000000-0000-0000-0000-000000000001' });
  await mkfs({ out: c, source: src, timestamp: 7 });
  const [x, y, z] = [readFileSync(a), readFileSync(b), readFileSync(c)];
  t.is(x.length, y.length);
  const diff: number[] = [];
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) diff.push(i);
  t.true(diff.length > 0);
  t.true(
    diff.every((i) => i >= EROFS_SUPER_OFFSET && i < EROFS_SUPER_OFFSET + EROFS_SUPER_SIZE),
    `differs at ${diff.slice(0, 5).join(',')}`,
  );
  t.false(x.equals(z));
  t.is(x.subarray(EROFS_SUPER_OFFSET + EROFS_SUPER_SIZE).compare(z.subarray(EROFS_SUPER_OFFSET + EROFS_SUPER_SIZE)), 0);
});

test('the source is left exactly as it was', async (t) => {
  const { dir, src } = t.context;
  const stamp = (): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const p of snapshotTree(src).keys()) {
      const st = lstatSync(join(src, p), { bigint: true });
      out[p] = `${st.mode} ${st.mtimeNs} ${st.ctimeNs} ${st.size} ${st.nlink}`;
    }
    return out;
  };
  const before = { snap: asObject(snapshotTree(src)), st: stamp() };
  await mkfs({ out: join(dir, 'untouched.img'), source: src });
  t.deepEqual({ snap: asObject(snapshotTree(src)), st: stamp() }, before);
});

test('progress climbs monotonically to its total (source bytes)', async (t) => {
  const { dir, src } = t.context;
  const seen: [number, number][] = [];
  await mkfs({ out: join(dir, 'progress.img'), source: src, onProgress: (d, n) => seen.push([d, n]) });
  t.true(seen.length > 2);
  const total = seen[0][1];
  let bytes = 0;
  for (const e of snapshotTree(src).values()) if (e.type === 'file') bytes += e.size;
  // Hard links count once.
  bytes -= Buffer.byteLength('hard linked\n');
  t.is(total, bytes);
  for (let i = 1; i < seen.length; i++) t.true(seen[i][0] >= seen[i - 1][0] && seen[i][1] === total);
  t.deepEqual(seen[seen.length - 1], [total, total]);
});
