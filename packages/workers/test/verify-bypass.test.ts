// `verify` that cannot be bypassed, with real worker threads on one arena. The oracle is the source
// trees (sha256 of the files mkfs read), never our reader's output.
//  - Mixed mounts: a verifying mount and a mount without verify in ONE domain, the latter holding files
//    whose fingerprints are forged to claim the verifying image's content. Whichever reads first, the
//    verifying mount's readers get exactly its source bytes, and the forger gets its own.
//  - Rename-over: the image file is replaced by a forged image (same layout, every fingerprint claiming
//    the original's content) after mount and while reads go on; every read, in the main thread and in
//    workers whose first use of the mount comes after the rename, still returns the original image's
//    bytes — the mount opened its image once, and nothing reads it by path again.
import test from 'ava';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { System, mkfs } from '@ishare/core';
import { forgeFingerprint } from '@ishare/core/stress';
import { ReaderPool } from '../src/index.ts';
import { removeDir, seededBytes, tempDir } from '../../../test/helpers/trees.ts';

const SIZES = [1, 4095, 4096, 9_000, 40_000, 131_072, 200_001, 333_333];

interface Trees {
  readonly dir: string;
  readonly paths: string[];
  /** sha256 of each path's source bytes, by image name. */
  readonly hashes: Record<'victim' | 'forger', string[]>;
  readonly sources: Record<'victim' | 'forger', Buffer[]>;
}

/**
 * victim.img: files of seeded bytes. forger.img: the same names and sizes (so the same layout), other
 * bytes, and every fingerprint forged to claim the victim file of the same name.
 */
async function buildTrees(): Promise<Trees> {
  const dir = tempDir('ishare-verify-bypass-');
  const paths = SIZES.map((_, i) => `/d/f${i}`);
  const victim = SIZES.map((n, i) => seededBytes(n, 100 + i));
  const forger = SIZES.map((n, i) => seededBytes(n, 200 + i));
  for (const [name, data] of [
    ['victim', victim],
    ['forger', forger],
  ] as const) {
    mkdirSync(join(dir, name, 'd'), { recursive: true });
    data.forEach((d, i) => writeFileSync(join(dir, name, paths[i]), d));
    await mkfs({ out: join(dir, `${name}.img`), source: join(dir, name), timestamp: 0 });
  }
  for (let i = 0; i < SIZES.length; i++) forgeFingerprint(join(dir, 'forger.img'), forger[i], victim[i]);
  const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
  return {
    dir,
    paths,
    hashes: { victim: victim.map(sha), forger: forger.map(sha) },
    sources: { victim, forger },
  };
}

const treesP = buildTrees();
test.after.always(async () => removeDir((await treesP).dir));

/** Paths whose hash is not the source's: 0 means every byte read was the source tree's. */
function wrongFiles(hashes: readonly string[] | undefined, want: readonly string[]): string[] {
  return want.flatMap((h, i) => (hashes?.[i] === h ? [] : [`file ${i}: ${hashes?.[i] ?? 'missing'}`]));
}

/** Read every path (in order, repeats allowed) in the workers, one task each; the sha256 of each read. */
async function readWorkers(pool: ReaderPool, m: number, paths: readonly string[]): Promise<string[]> {
  const rs = await Promise.all(paths.map((p) => pool.run({ kind: 'readFiles', mount: m, paths: [p], hash: true })));
  const errors = rs.flatMap((r) => r.errors);
  if (errors.length > 0) throw new Error(`worker reads failed: ${errors.join('; ')}`);
  return rs.map((r) => r.hashes?.[0] ?? '');
}

function readMain(sys: System, m: number, paths: readonly string[]): Buffer[] {
  return paths.map((p) => {
    const f = sys.open(m, p);
    try {
      return sys.readAll(f);
    } finally {
      sys.close(f);
    }
  });
}

for (const first of ['forger', 'victim', 'together'] as const) {
  test.serial(
    `mixed mounts in one domain, worker threads: the verifying mount reads only its source bytes (${first} first)`,
    async (t) => {
      const tr = await treesP;
      const sys = System.create({ poolMiB: 32 });
      const pool = new ReaderPool(sys, { workers: 2 });
      try {
        const victim = sys.mount(join(tr.dir, 'victim.img'), { inodeShare: true, domainId: 'd', verify: true }).mount;
        const forger = sys.mount(join(tr.dir, 'forger.img'), { inodeShare: true, domainId: 'd' }).mount;
        const read = (m: number): Promise<string[]> => readWorkers(pool, m, tr.paths);
        let rv: string[], rf: string[];
        if (first === 'forger') {
          rf = await read(forger);
          rv = await read(victim);
        } else if (first === 'victim') {
          rv = await read(victim);
          rf = await read(forger);
        } else [rv, rf] = await Promise.all([read(victim), read(forger)]);
        t.deepEqual(wrongFiles(rv, tr.hashes.victim), [], 'verifying mount: 0 forged bytes');
        t.deepEqual(wrongFiles(rf, tr.hashes.forger), [], "the forger reads its own bytes, not the victim's");
        // The main thread, after the pages are gone: device reads again, through the same shared inodes.
        sys.dropCaches();
        const main = readMain(sys, victim, tr.paths);
        t.true(
          main.every((b, i) => b.equals(tr.sources.victim[i])),
          'main thread: the source bytes',
        );
        const c = sys.stats().counters;
        t.is(c.ISHARE_VERIFY_REFUSED, 0, 'no forged file is on the verifying mount');
        t.true(c.ISHARE_VERIFIED >= tr.paths.length, `every victim file proved its content (${c.ISHARE_VERIFIED})`);
        t.true(c.ISHARE_FILLED >= 2 * tr.paths.length, 'both mounts share (among their own kind)');
      } finally {
        await pool.destroy();
        sys.detach();
      }
    },
  );
}

test.serial(
  'an image renamed over after mount and during reads: main thread and workers read the original bytes',
  async (t) => {
    const tr = await treesP;
    const live = join(tr.dir, 'live.img');
    const swap = join(tr.dir, 'swap.img');
    copyFileSync(join(tr.dir, 'victim.img'), live);
    const sys = System.create({ poolMiB: 32 });
    let pool: ReaderPool | undefined;
    try {
      const m = sys.mount(live, { inodeShare: true, domainId: 'd', verify: true }).mount;
      // Replaced before any thread (this one included) parsed the image or read a page of it.
      copyFileSync(join(tr.dir, 'forger.img'), swap);
      renameSync(swap, live);
      const main = readMain(sys, m, tr.paths);
      t.true(
        main.every((b, i) => b.equals(tr.sources.victim[i])),
        'main thread, first use after the rename: the original bytes',
      );
      // Workers that first touch the mount now, with the page cache emptied: every page from the device.
      sys.dropCaches();
      pool = new ReaderPool(sys, { workers: 2 });
      t.deepEqual(wrongFiles(await readWorkers(pool, m, tr.paths), tr.hashes.victim), [], 'workers: 0 forged bytes');
      // Renamed over again while the workers read (several rounds, pages dropped between them).
      for (let round = 0; round < 4; round++) {
        const reading = readWorkers(pool, m, [...tr.paths, ...tr.paths]);
        copyFileSync(join(tr.dir, round % 2 ? 'victim.img' : 'forger.img'), swap);
        if (round % 2 === 0) renameSync(swap, live);
        sys.dropCaches();
        const mid = readMain(sys, m, tr.paths);
        t.true(
          mid.every((b, i) => b.equals(tr.sources.victim[i])),
          `round ${round}: main thread reads the original bytes`,
        );
        t.deepEqual(
          wrongFiles(await reading, [...tr.hashes.victim, ...tr.hashes.victim]),
          [],
          `round ${round}: workers read the original bytes`,
        );
        sys.dropCaches();
      }
      const c = sys.stats().counters;
      t.is(c.ISHARE_VERIFY_REFUSED, 0, 'no read saw the forged image: nothing failed its proof');
      t.true(c.ISHARE_VERIFIED >= tr.paths.length, `the original files proved their content (${c.ISHARE_VERIFIED})`);
    } finally {
      await pool?.destroy();
      sys.detach();
    }
  },
);
