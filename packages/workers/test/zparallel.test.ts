// Parallel readahead of one big file (ReaderPool.readClaimed with `split`): two real worker threads read
// stripes of the same file at once. Images by upstream mkfs.erofs 1.9.3; expected figures from the
// source tree and from upstream dump.erofs (the file's extent list), never from our reader:
// - compressed (-zlz4hc, 64 KiB pclusters, extents capped at 128 KiB so every extent ends on a page
//   boundary): every byte, and each pcluster decoded exactly once whatever the interleaving (a reader
//   that meets a pcluster another is decoding waits and attaches to it: pclusterAttach);
// - a pcluster held busy while the pool reads: two readers sleep on it, one decodes it once released,
//   the other attaches;
// - plain: every byte, one device read per page;
// - page-sized stripes over a tree of many files, plain and lz4hc: slots published and reused hundreds of
//   times while both workers claim from them; every file once, every byte, one frame per page.
// Outcomes do not depend on timing: only how the work spreads does (logged, not asserted).
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { System } from '@ishare/core';
import { ReaderPool } from '@ishare/workers';
import { zpclLock, zpclUnlock, zpclWord } from '@ishare/core/kernel';
import { textBytes } from '../../../test/helpers/compress-tree.ts';
import { removeDir, seededBytes, tempDir } from '../../../test/helpers/trees.ts';
import { upstreamTool } from '../../../test/helpers/erofs-utils.ts';
import { edgeImage } from '../../core/test/helpers/images.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const PAGE = 4096;
const STRIPE = 256 * 1024;

interface Extent {
  la: number;
  llen: number;
  pa: number;
}

/** The file's extents as upstream dump.erofs lists them, and the count it states. */
function upstreamExtents(image: string, path: string): { extents: Extent[]; found: number } {
  const dump = execFileSync(upstreamTool('dump.erofs'), ['-e', `--path=${path}`, image], { encoding: 'utf8' });
  const extents = [...dump.matchAll(/^\s*\d+:\s+(\d+)\.\.\s*(\d+)\s*\|\s*(\d+)\s*:\s*(\d+)\.\./gm)].map((m) => ({
    la: Number(m[1]),
    llen: Number(m[3]),
    pa: Number(m[4]),
  }));
  return { extents, found: Number(/(\d+) extents found/.exec(dump)?.[1] ?? -1) };
}

function mkfs(image: string, src: string, args: readonly string[]): void {
  execFileSync(upstreamTool('mkfs.erofs'), ['-T0', ...args, image, src], { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** The file as the page cache now holds it, read from the main thread (hits only: checked by the caller). */
function cached(sys: System, mount: number, path: string): Buffer {
  const f = sys.open(mount, path);
  try {
    return sys.readAll(f);
  } finally {
    sys.close(f);
  }
}

const dir = tempDir('ishare-zparallel-');
const src = join(dir, 'src');
mkdirSync(src);
const big = textBytes(2_000_000, 11);
writeFileSync(join(src, 'big.txt'), big);
writeFileSync(join(src, 'small.txt'), textBytes(9_000, 12));
const zimage = join(dir, 'z.img');
mkfs(zimage, src, ['-zlz4hc', '-C65536', '--max-extent-bytes=131072']);
const psrc = join(dir, 'plain');
mkdirSync(psrc);
const pbig = seededBytes(3_000_000 + 123, 13);
writeFileSync(join(psrc, 'big.bin'), pbig);
const pimage = join(dir, 'p.img');
mkfs(pimage, psrc, []);

const sys = System.create({ poolMiB: 64 });
const pool = new ReaderPool(sys, { workers: 2 });
// Both threads up before the first measured run, so that the stripes can spread (not asserted).
test.before(async () => {
  await Promise.all([0, 1].map(() => pool.run({ kind: 'ranges', mount: 0, ranges: [] })));
});
test.after.always(async () => {
  await pool.destroy();
  sys.detach();
  removeDir(dir);
});

test.serial('a compressed file read by two workers at once: every byte, each pcluster decoded once', async (t) => {
  const { extents, found } = upstreamExtents(zimage, '/big.txt');
  t.is(extents.length, found);
  t.true(extents.length >= 8, `${found} extents: enough stripes to share`);
  t.true(
    extents.every((e) => e.la % PAGE === 0),
    'every extent starts on a page (so no page needs two pclusters)',
  );
  const { mount } = sys.mount(zimage);
  try {
    sys.dropCaches();
    sys.resetStats();
    const r = await pool.readClaimed([{ mount, paths: ['/big.txt', '/small.txt'] }], { split: STRIPE, chunk: 65536 });
    t.deepEqual(r.errors, []);
    t.is(r.files, 2);
    t.is(r.bytes, big.length + 9_000);
    t.log(`bytes per thread ${JSON.stringify([...(r.perThreadBytes ?? [])])}`);
    const c = sys.stats().counters;
    const smallPcl = upstreamExtents(zimage, '/small.txt').found;
    t.is(c.Z_PCLUSTERS, found + smallPcl, `each pcluster decoded once (${found} + ${smallPcl} extents)`);
    const pages = Math.ceil(big.length / PAGE) + Math.ceil(9_000 / PAGE);
    t.is(sys.stats().filePages, pages);
    t.is(c.DEVICE_PAGES, pages);
    t.log(`waits ${c.Z_PCLUSTER_WAITS}, attached ${c.Z_PCLUSTER_SKIPPED}`);
    t.true(cached(sys, mount, '/big.txt').equals(big), 'the cache holds the source bytes');
    t.is(sys.stats().counters.DEVICE_PAGES, pages, 'read back from the cache only');
  } finally {
    sys.dropCaches();
    sys.unmount(mount);
  }
});

test.serial('a pcluster busy while two workers need it: both wait, it is decoded once, one attaches', async (t) => {
  const { extents, found } = upstreamExtents(zimage, '/big.txt');
  const { mount } = sys.mount(zimage);
  const words = extents.map((e) => zpclWord(sys.arena, mount, 2 * e.pa));
  // A middle extent whose lock stripe no other extent of the file shares (the stripes hash addresses).
  const pick = extents.findIndex((_, i) => i >= 2 && words.indexOf(words[i]) === words.lastIndexOf(words[i]));
  const distinct = new Set(words).size === words.length;
  let word = -1;
  try {
    t.true(pick >= 0, 'an extent with a lock stripe of its own');
    const e = extents[pick];
    sys.dropCaches();
    sys.resetStats();
    word = words[pick];
    zpclLock(sys.arena, word);
    const all = pool.readClaimed([{ mount, paths: ['/big.txt'] }], { split: STRIPE, chunk: 65536 });
    const deadline = Date.now() + 60_000;
    while (sys.stats().counters.Z_PCLUSTER_WAITS < 1 && Date.now() < deadline) await sleep(20);
    // A second reader of that extent: queued behind the run, or one of its own readers got there first.
    const one = pool.run({ kind: 'ranges', mount, ranges: [['/big.txt', e.la, e.llen]], hash: true });
    while (sys.stats().counters.Z_PCLUSTER_WAITS < 2 && Date.now() < deadline) await sleep(20);
    const waits = sys.stats().counters.Z_PCLUSTER_WAITS;
    zpclUnlock(sys.arena, word);
    word = -1;
    const [r, r1] = await Promise.all([all, one]);
    t.true(waits >= 2, `two readers slept on the held pcluster (${waits})`);
    t.deepEqual(r.errors, []);
    t.deepEqual(r1.errors, []);
    t.is(r.bytes, big.length);
    const c = sys.stats().counters;
    t.is(c.Z_PCLUSTERS, found, 'each pcluster decoded once');
    t.true(c.Z_PCLUSTER_SKIPPED >= 1, 'a reader attached to the decode it waited for');
    // Every wait ends in a decode or an attach; only the first reader of the held pcluster decodes (when no
    // other extent shares a lock stripe, no wait is for anything else).
    if (distinct) t.is(c.Z_PCLUSTER_SKIPPED, c.Z_PCLUSTER_WAITS - 1, 'every other wait attached');
    else t.log('two extents share a lock stripe: waits for the other are not counted here');
    t.true(cached(sys, mount, '/big.txt').equals(big));
  } finally {
    if (word >= 0) zpclUnlock(sys.arena, word);
    sys.dropCaches();
    sys.unmount(mount);
  }
});

test.serial('a plain file read by two workers at once: every byte, one device read per page', async (t) => {
  const { mount } = sys.mount(pimage);
  try {
    sys.dropCaches();
    sys.resetStats();
    const r = await pool.readClaimed([{ mount, paths: ['/big.bin'] }], { split: STRIPE, chunk: 65536 });
    t.deepEqual(r.errors, []);
    t.is(r.files, 1);
    t.is(r.bytes, pbig.length);
    t.log(`bytes per thread ${JSON.stringify([...(r.perThreadBytes ?? [])])}`);
    const pages = Math.ceil(pbig.length / PAGE);
    t.is(sys.stats().filePages, pages);
    t.is(sys.stats().counters.DEVICE_PAGES, pages);
    t.true(cached(sys, mount, '/big.bin').equals(pbig));
    t.is(sys.stats().counters.DEVICE_PAGES, pages, 'read back from the cache only');
  } finally {
    sys.dropCaches();
    sys.unmount(mount);
  }
});

test.serial('a file is cut for readahead only: cold into stripes, not once every page of it is cached', (t) => {
  const { mount } = sys.mount(pimage);
  try {
    sys.dropCaches();
    const f = sys.open(mount, '/big.bin');
    try {
      const pages = Math.ceil(pbig.length / PAGE);
      const cold = sys.readSplits(f, STRIPE);
      t.is(cold[cold.length - 1], pbig.length);
      t.is(cold.length - 1, Math.ceil(pbig.length / STRIPE), 'stripes of STRIPE bytes while nothing is cached');
      sys.readahead(f, 0, PAGE * (pages - 1));
      t.is(sys.fincore(f).pages, pages - 1);
      t.is(sys.readSplits(f, STRIPE).length, cold.length, 'one page missing: still cut');
      sys.readAll(f);
      t.is(sys.fincore(f).pages, pages);
      t.deepEqual(sys.readSplits(f, STRIPE), [0, pbig.length], 'every page cached: read whole by one thread');
    } finally {
      sys.close(f);
    }
  } finally {
    sys.dropCaches();
    sys.unmount(mount);
  }
});

test.serial(
  'page-sized stripes over many files, plain and lz4hc: every file once, every byte, one frame per page',
  async (t) => {
    for (const args of [[], ['-zlz4hc']]) {
      const img = edgeImage(args, { bigDir: false });
      const { mount } = sys.mount(img.image);
      try {
        const paths = sys.listFiles(mount).map((f) => f.path);
        // Sizes from the source tree; hard links cache their pages once.
        let bytes = 0;
        let pages = 0;
        const seen = new Set<number>();
        for (const p of paths) {
          const st = statSync(join(img.src, p));
          bytes += st.size;
          if (!seen.has(st.ino)) pages += Math.ceil(st.size / PAGE);
          seen.add(st.ino);
        }
        sys.dropCaches();
        sys.resetStats();
        const r = await pool.readClaimed([{ mount, paths }], { split: PAGE, chunk: 8192 });
        t.deepEqual(r.errors, []);
        t.is(r.files, paths.length);
        t.is(r.bytes, bytes);
        t.is(sys.stats().filePages, pages, `${args.join(' ') || 'plain'}: one frame per page`);
        if (args.length === 0) t.is(sys.stats().counters.DEVICE_PAGES, pages, 'one device read per page');
        // Warm, as pinned views: the same bytes, nothing read again.
        const before = sys.stats().counters.DEVICE_PAGES;
        const v = await pool.readClaimed([{ mount, paths }], { split: PAGE, view: true });
        t.is(v.bytes, bytes);
        t.is(sys.stats().counters.DEVICE_PAGES, before);
        for (const p of paths.slice(0, 40))
          t.true(cached(sys, mount, p).equals(readFileSync(join(img.src, p))), `${p}: the source bytes`);
      } finally {
        sys.dropCaches();
        sys.unmount(mount);
        removeDir(img.dir);
      }
    }
  },
);
