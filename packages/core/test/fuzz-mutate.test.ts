// The fuzzer's mutators: regions are located where the reader says the structures are, every mutator
// changes exactly the bytes it logs and those lie in the region kind it was aimed at, and an image is
// a pure function of (run seed, index).
import anyTest, { type TestFn } from 'ava';
import { DE, DIRENT_SIZE, EROFS_SUPER_OFFSET, ErofsImage, DATALAYOUT } from '@ishare/core/format';
import {
  generateImage,
  imageRng,
  locateRegions,
  mutateImage,
  prepareSeed,
  Prng,
  type MutationOp,
  type RegionKind,
  type SeedImage,
} from '@ishare/core/fuzz';
import { testSeeds } from './fuzz-seeds.ts';

const test = anyTest as TestFn<{ seeds: SeedImage[]; cleanup: () => void }>;

test.before(async (t) => {
  const s = await testSeeds();
  for (const why of s.skipped) console.log(`fuzz-mutate: ${why}`);
  t.context = { seeds: s.seeds.map((x) => prepareSeed(x.name, x.bytes)), cleanup: s.cleanup };
});
test.after.always((t) => t.context.cleanup());

function seedNamed(t: { context: { seeds: SeedImage[] } }, name: string): SeedImage | undefined {
  return t.context.seeds.find((s) => s.name === name);
}

test('the PRNG is deterministic per (seed, index) and spreads neighbouring indexes', (t) => {
  const a = imageRng(1, 5);
  const b = imageRng(1, 5);
  const xs = Array.from({ length: 8 }, () => a.u32());
  t.deepEqual(
    Array.from({ length: 8 }, () => b.u32()),
    xs,
  );
  t.notDeepEqual(
    Array.from({ length: 8 }, () => imageRng(1, 6).u32()),
    xs,
  );
  t.notDeepEqual(
    Array.from({ length: 8 }, () => imageRng(2, 5).u32()),
    xs,
  );
  const r = new Prng(42);
  for (let i = 0; i < 1000; i++) {
    const v = r.int(7);
    t.true(Number.isInteger(v) && v >= 0 && v < 7);
  }
});

test('regions: every inode, directory block, dirent, xattr body and chunk table the reader knows', (t) => {
  for (const seed of t.context.seeds) {
    const img = ErofsImage.fromBuffer(seed.bytes);
    const nids = new Set<number>();
    let dirBlocks = 0;
    let dirents = 0;
    let chunked = 0;
    let withXattrs = 0;
    for (const { inode } of img.walk()) {
      if (nids.has(inode.nid)) continue;
      nids.add(inode.nid);
      if (inode.xattrSize > 0) withXattrs++;
      if (inode.layout === DATALAYOUT.CHUNK_BASED && inode.size > 0) chunked++;
      if (inode.type === 'dir') {
        dirBlocks += Math.ceil(inode.size / img.blockSize);
        dirents +=
          img.readdir(inode).length -
          (img.readdir(inode)[0]?.name === '.' && (img.inode(inode.nid) as { dotOmitted?: boolean }).dotOmitted
            ? 1
            : 0);
      }
    }
    const count = (k: RegionKind): number => seed.map.regions.filter((r) => r.kind === k).length;
    t.is(count('superblock'), 1, seed.name);
    t.is(count('inode'), nids.size, seed.name);
    t.is(seed.map.inodes.length, nids.size, seed.name);
    t.is(count('dir-block'), dirBlocks, seed.name);
    t.is(seed.map.dirents.length, dirents, seed.name);
    t.is(count('chunk-table'), chunked, seed.name);
    t.is(count('xattr-ibody'), withXattrs, seed.name);
    // Each inode region starts where the reader parsed that inode.
    for (const r of seed.map.regions.filter((x) => x.kind === 'inode')) {
      const nid = Number(/nid (\d+)/.exec(r.label)![1]);
      t.is(img.inode(nid).iloc, r.start);
    }
    // Each dirent record's nid names an inode of the image.
    for (const d of seed.map.dirents) {
      const nid = Number(Buffer.from(seed.bytes.subarray(d.at + DE.nid, d.at + DE.nid + 8)).readBigUInt64LE());
      t.true(nids.has(nid) || nid === img.sb.rootNid, `${seed.name}: dirent at ${d.at}`);
    }
  }
  const kinds = new Set(t.context.seeds.flatMap((s) => s.map.regions.map((r) => r.kind)));
  for (const k of [
    'superblock',
    'inode',
    'xattr-ibody',
    'dir-block',
    'inline-tail',
    'data',
    'shared-xattr',
    'chunk-table',
    'prefix-table',
  ] as const) {
    t.true(kinds.has(k), `some seed has a ${k} region`);
  }
});

test('multi-block directories are located block by block', (t) => {
  const seed = seedNamed(t, 'ishare-mkfs-1024')!;
  const many = seed.map.regions.filter((r) => r.kind === 'dir-block' && r.label.includes('/many'));
  t.true(many.length >= 4, `${many.length} blocks`);
  for (const r of many) t.true(r.end - r.start <= 1024);
});

function diffRanges(a: Uint8Array, b: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) out.push(i);
  return out;
}

const AIMED: [MutationOp, RegionKind][] = [];
for (const op of ['bitflip', 'byte', 'field'] as const) {
  for (const k of [
    'superblock',
    'inode',
    'xattr-ibody',
    'shared-xattr',
    'dir-block',
    'chunk-table',
    'inline-tail',
    'prefix-table',
  ] as const)
    AIMED.push([op, k]);
}

test('bit flips, byte sets and field smashes change bytes only inside the region kind they aim at', (t) => {
  for (const [op, kind] of AIMED) {
    let tried = 0;
    for (const seed of t.context.seeds) {
      if (!seed.map.regions.some((r) => r.kind === kind)) continue;
      for (let i = 0; i < 20; i++) {
        const m = mutateImage(seed, new Prng(1000 + i, tried), {
          ops: [op],
          regions: [kind],
          count: 1,
          fixChecksum: false,
        });
        tried++;
        t.is(m.bytes.length, seed.bytes.length);
        const changed = diffRanges(seed.bytes, m.bytes);
        t.true(changed.length > 0, `${op} on ${kind} changed something`);
        for (const p of changed) {
          t.true(
            m.mutations.some((x) => p >= x.at && p < x.at + x.len),
            `${op}/${kind}: byte ${p} changed but not logged`,
          );
          t.true(
            seed.map.regions.some((r) => r.kind === kind && p >= r.start && p < r.end),
            `${op}/${kind}: byte ${p} outside every ${kind} region`,
          );
        }
        for (const x of m.mutations) t.is(x.kind, kind);
      }
    }
    t.true(tried > 0, `some seed has a ${kind} region for ${op}`);
  }
});

test('crosslink rewrites one dirent nid; swap-dirents exchanges two records of one block', (t) => {
  const seed = seedNamed(t, 'ishare-mkfs-4096')!;
  for (let i = 0; i < 50; i++) {
    const m = mutateImage(seed, new Prng(7, i), { ops: ['crosslink'], count: 1, fixChecksum: false });
    const nidField = m.mutations[0];
    const d = seed.map.dirents.find((x) => x.at + DE.nid === nidField.at);
    t.truthy(d, 'the nid field of a located dirent');
    t.is(nidField.len, 8);
    t.false(
      Buffer.from(seed.bytes.subarray(nidField.at, nidField.at + 8)).equals(
        Buffer.from(m.bytes.subarray(nidField.at, nidField.at + 8)),
      ),
    );
    for (const p of diffRanges(seed.bytes, m.bytes)) t.true(p >= d!.at && p < d!.at + DIRENT_SIZE);
  }
  for (let i = 0; i < 50; i++) {
    const m = mutateImage(seed, new Prng(8, i), { ops: ['swap-dirents'], count: 1, fixChecksum: false });
    t.is(m.mutations.length, 2);
    const [a, b] = m.mutations;
    const da = seed.map.dirents.find((x) => x.at === a.at)!;
    const db = seed.map.dirents.find((x) => x.at === b.at)!;
    t.is(da.blockStart, db.blockStart);
    t.deepEqual(m.bytes.subarray(a.at, a.at + a.len), seed.bytes.subarray(b.at, b.at + b.len));
    t.deepEqual(m.bytes.subarray(b.at, b.at + b.len), seed.bytes.subarray(a.at, a.at + a.len));
  }
});

test('truncation shortens the image; block copies and fills change one whole block', (t) => {
  for (const seed of t.context.seeds) {
    const bs = seed.map.blockSize;
    for (let i = 0; i < 20; i++) {
      const tr = mutateImage(seed, new Prng(9, i), { ops: ['truncate'], count: 1, fixChecksum: false });
      t.true(tr.bytes.length < seed.bytes.length);
      t.is(tr.mutations[0].at, tr.bytes.length);
      t.is(tr.mutations[0].at + tr.mutations[0].len, seed.bytes.length);
      t.deepEqual(tr.bytes, seed.bytes.subarray(0, tr.bytes.length));
      for (const op of ['dup-block', 'zero-block'] as const) {
        const m = mutateImage(seed, new Prng(10, i), { ops: [op], count: 1, fixChecksum: false });
        const x = m.mutations[0];
        t.is(x.at % bs, 0);
        const changed = diffRanges(seed.bytes, m.bytes);
        t.true(changed.length > 0, `${op} changed something`);
        for (const p of changed) t.true(p >= x.at && p < x.at + x.len);
      }
    }
  }
});

test('an image is a pure function of (seeds, run seed, index); the checksum is recomputed when asked', (t) => {
  const seeds = t.context.seeds;
  for (let i = 0; i < 30; i++) {
    const a = generateImage(seeds, 11, i);
    const b = generateImage(seeds, 11, i);
    t.is(a.seed, b.seed);
    t.deepEqual(a.mutations, b.mutations);
    t.deepEqual(a.bytes, b.bytes);
  }
  const withSum = seeds.find((s) => s.map.hasChecksum)!;
  t.truthy(withSum, 'a seed with a superblock checksum');
  const m = mutateImage(withSum, new Prng(3), { ops: ['field'], regions: ['inode'], count: 1, fixChecksum: true });
  const inBlock0 = m.mutations[0].at < withSum.map.blockSize;
  if (inBlock0) t.true(m.checksumFixed);
  // Fixed or not, the seed itself is untouched and still parses.
  t.notThrows(() => locateRegions(withSum.bytes));
  t.true(m.bytes.length >= EROFS_SUPER_OFFSET);
});

test('grow-file makes a chunk-based file gigabytes long with the same table; its data moves, still readable', (t) => {
  const seed = seedNamed(t, 'synth-512')!;
  let grown = 0;
  for (let i = 0; i < 40; i++) {
    const m = mutateImage(seed, new Prng(12, i), { ops: ['grow-file'], count: 1, fixChecksum: true });
    const sizeMut = m.mutations.find((x) => x.target.endsWith('i_size'))!;
    t.truthy(sizeMut);
    const nid = Number(/nid (\d+)/.exec(sizeMut.target)![1]);
    const before = ErofsImage.fromBuffer(seed.bytes).inode(nid);
    const img = ErofsImage.fromBuffer(m.bytes);
    const after = img.inode(nid);
    t.true(after.size > before.size, `${before.size} -> ${after.size}`);
    if (
      after.layout === DATALAYOUT.CHUNK_BASED &&
      after.size > 2 ** 32 &&
      m.mutations.some((x) => x.kind === 'chunk-table')
    ) {
      // All leading chunks are holes now; the tail is the original last chunk's bytes.
      const orig = ErofsImage.fromBuffer(seed.bytes).readFile(before);
      const cs0 = seed.map.blockSize * 2 ** (before.chunkFormat & 0x1f);
      const lastLen = before.size - Math.floor((before.size - 1) / cs0) * cs0;
      t.deepEqual(img.read(after, after.size - lastLen, lastLen), orig.subarray(orig.length - lastLen));
      t.deepEqual(img.read(after, 0, 16), new Uint8Array(16));
      grown++;
    }
  }
  t.true(grown > 0, 'some grown file is past 4 GiB and readable');
});
