// Memory cgroups (mm/memcontrol.ts), one thread, steps in order: every charge is computed here from the
// source trees alone — a file's pages are ceil(size / 4096); without sharing each distinct source inode
// of an image is paid by the cgroup that reads it first; with inode_share each distinct content of the
// domain (same bytes, so same fingerprint and size) is — and compared exactly with the kernel's figures,
// under both real-inode policies and each charge policy. Then limits: memory.current never passes
// memory.max, reclaim is counted, a page another cgroup's limit evicted refaults in its reader.
import test from 'ava';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { System, type ChargePolicy, type MemcgStat, type RealInodePolicy } from '@ishare/core';
import { memcgCheckQuiescent } from '../src/mm/memcontrol.ts';
import { inodeNrPages } from '../src/vfs/inode.ts';
import { versionPair, type VersionPair } from './helpers/share-trees.ts';
import { sha256 } from './helpers/images.ts';
import { removeDir } from '../../../test/helpers/trees.ts';

const PAGE = 4096;

interface SrcFile {
  readonly path: string;
  readonly pages: number;
  readonly ino: number;
  readonly hash: string;
}

function walk(root: string, rel = ''): SrcFile[] {
  const out: SrcFile[] = [];
  for (const name of readdirSync(join(root, rel)).sort()) {
    const p = `${rel}/${name}`;
    const st = lstatSync(join(root, p));
    if (st.isDirectory()) out.push(...walk(root, p));
    else if (st.isFile()) {
      const bytes = readFileSync(join(root, p));
      out.push({
        path: p,
        pages: Math.ceil(st.size / PAGE),
        ino: st.ino,
        hash: createHash('sha256').update(bytes).digest('hex'),
      });
    }
  }
  return out;
}

/** Page sets of one tree: per distinct content (shared) or per distinct source inode (not shared). */
function units(files: readonly SrcFile[], share: boolean, tree: number): Map<string, number> {
  const m = new Map<string, number>();
  for (const f of files) m.set(share ? `c:${f.hash}` : `i:${tree}:${f.ino}`, f.pages);
  return m;
}

let pairP: Promise<VersionPair> | undefined;
const pair = (): Promise<VersionPair> => (pairP ??= versionPair());
test.after.always(async () => {
  if (pairP) removeDir((await pairP).dir);
});

function readTree(sys: System, m: number): void {
  for (const f of sys.listFiles(m)) {
    const o = sys.open(m, f.path);
    sys.readAll(o);
    sys.close(o);
  }
}

function byName(sys: System): Map<string, MemcgStat> {
  return new Map(sys.memcgList().map((s) => [s.name, s]));
}

/**
 * The scenario: parent P holds A and B; A reads image 1, B image 2; A is removed; B reads image 2
 * again; a new C (under P) reads image 1. Returns the kernel's direct charges (pages) after each phase.
 */
function scenario(p: VersionPair, share: boolean, real: RealInodePolicy, charge: ChargePolicy) {
  const sys = System.create({ poolMiB: 16, policy: real, charge });
  try {
    const [m1, m2] = p.images.map((img) => sys.mount(img, share ? { inodeShare: true, domainId: 'd' } : {}).mount);
    const P = sys.memcgCreate('P');
    const A = sys.memcgCreate('A', { parent: P });
    const B = sys.memcgCreate('B', { parent: P });
    sys.setMemcg(A);
    readTree(sys, m1);
    sys.setMemcg(B);
    readTree(sys, m2);
    sys.setMemcg(0);
    const first = byName(sys);
    sys.memcgRemove(A);
    sys.setMemcg(B);
    readTree(sys, m2);
    const C = sys.memcgCreate('C', { parent: P });
    sys.setMemcg(C);
    readTree(sys, m1);
    sys.setMemcg(0);
    const last = byName(sys);
    const filePages = sys.stats().filePages;
    const violations = memcgCheckQuiescent(sys.arena, filePages);
    return { first, last, filePages, violations };
  } finally {
    sys.setMemcg(0);
    sys.detach();
  }
}

const sum = (m: Map<string, number>, keep: (k: string) => boolean): number =>
  [...m].reduce((s, [k, v]) => (keep(k) ? s + v : s), 0);

for (const real of ['processing', 'any'] as const) {
  for (const share of [false, true]) {
    test(`charges follow the trees: keep, reparent, recharge and split (${share ? 'inode_share' : 'no sharing'}, ${real})`, async (t) => {
      const p = await pair();
      const u1 = units(walk(p.srcs[0]), share, 1);
      const u2 = units(walk(p.srcs[1]), share, 2);
      const only1 = sum(u1, (k) => !u2.has(k));
      const both = sum(u1, (k) => u2.has(k));
      const only2 = sum(u2, (k) => !u1.has(k));
      for (const charge of ['keep', 'reparent', 'recharge'] as const) {
        const r = scenario(p, share, real, charge);
        const pages = (s: MemcgStat | undefined): number => (s ? s.localBytes / PAGE : 0);
        // Before anyone leaves, every policy agrees: the first reader pays.
        t.is(pages(r.first.get('A')), only1 + both, `${charge}: A pays what it read first`);
        t.is(pages(r.first.get('B')), only2, `${charge}: B pays only what A had not read`);
        t.is(
          r.first.get('P')?.memoryCurrent,
          (only1 + both + only2) * PAGE,
          `${charge}: P's memory.current sums its children`,
        );
        // The split: a page read by both is halved.
        t.is(r.first.get('A')?.splitBytes, (only1 + both / 2) * PAGE, `${charge}: A's split`);
        t.is(r.first.get('B')?.splitBytes, (only2 + both / 2) * PAGE, `${charge}: B's split`);
        t.is(r.first.get('A')?.paidSharedBytes, both * PAGE);
        t.is(r.first.get('B')?.freeReadBytes, both * PAGE);
        t.is(r.filePages, only1 + both + only2, `${charge}: the cache holds each page set once`);
        t.deepEqual(r.violations, [], `${charge}: memcg invariants at quiescence`);
        const A = r.last.get('A');
        if (charge === 'keep') {
          t.true(A?.dying, 'keep: A is a dying cgroup');
          t.is(pages(A), only1 + both, 'keep: the dead A still pins everything it paid for');
          t.is(pages(r.last.get('B')), only2);
          t.is(pages(r.last.get('C')), 0, 'keep: C reads for free');
        } else if (charge === 'reparent') {
          t.is(A, undefined, 'reparent: A is gone');
          t.is(pages(r.last.get('P')), only1 + both, "reparent: A's pages moved to P");
          t.is(pages(r.last.get('B')), only2);
          t.is(pages(r.last.get('C')), 0);
        } else {
          t.is(A, undefined, 'recharge: A is gone once every page found a new payer');
          t.is(pages(r.last.get('B')), only2 + both, 'recharge: B paid for the shared pages it read next');
          t.is(pages(r.last.get('C')), only1, 'recharge: C paid for the rest of what A held');
        }
        t.is(r.last.get('P')?.memoryCurrent, (only1 + both + only2) * PAGE, `${charge}: nothing charged twice or lost`);
      }
    });
  }
}

test('memory.max: reading more than the limit reclaims the cgroup itself, never passes the limit, and reads right', async (t) => {
  const p = await pair();
  const sys = System.create({ poolMiB: 16 });
  try {
    const m = sys.mount(p.images[0]).mount;
    const maxPages = 24;
    const L = sys.memcgCreate('L', { max: maxPages * PAGE });
    sys.setMemcg(L);
    let read = 0;
    for (const f of sys.listFiles(m)) {
      const o = sys.open(m, f.path);
      const bytes = sys.readAll(o);
      sys.close(o);
      t.is(sha256(bytes), sha256(readFileSync(join(p.srcs[0], f.path))), f.path);
      read += Math.ceil(f.size / PAGE);
      t.true(sys.memcgStat(L).memoryCurrent <= maxPages * PAGE, `memory.current within memory.max after ${f.path}`);
    }
    sys.setMemcg(0);
    const s = sys.memcgStat(L);
    t.true(read > 2 * maxPages, `the cgroup read ${read} pages through a ${maxPages}-page limit`);
    t.true(s.events.max > 0, 'memory.events max counted');
    t.true(s.stat.pgsteal >= read - maxPages, `pgsteal ${s.stat.pgsteal}: at least the pages that no longer fit`);
    t.true(s.stat.pgscan >= s.stat.pgsteal);
    t.is(s.events.oom, 0);
    t.deepEqual(memcgCheckQuiescent(sys.arena, sys.stats().filePages), []);
  } finally {
    sys.setMemcg(0);
    sys.detach();
  }
});

test('memory.high: a charge over it counts a high event and reclaims back down to it', async (t) => {
  const p = await pair();
  const sys = System.create({ poolMiB: 16 });
  try {
    const m = sys.mount(p.images[0]).mount;
    const highPages = 32;
    const H = sys.memcgCreate('H', { high: highPages * PAGE });
    sys.setMemcg(H);
    const o = sys.open(m, '/lib/libc.so.6'); // 147 pages
    sys.readAll(o);
    sys.close(o);
    sys.setMemcg(0);
    const s = sys.memcgStat(H);
    t.true(s.events.high > 0, 'memory.events high counted');
    t.is(s.events.max, 0, 'no memory.max, no max event');
    t.true(
      s.memoryCurrent <= highPages * PAGE,
      `memory.current ${s.memoryCurrent / PAGE} pages, back under memory.high`,
    );
    t.true(s.stat.pgsteal >= Math.ceil(600_000 / PAGE) - highPages);
  } finally {
    sys.setMemcg(0);
    sys.detach();
  }
});

test('a cgroup at memory.max with every page pinned: the read fails with ENOMEM and counts an oom event', async (t) => {
  const p = await pair();
  const sys = System.create({ poolMiB: 16 });
  try {
    const m = sys.mount(p.images[0]).mount;
    const O = sys.memcgCreate('O', { max: 4 * PAGE });
    sys.setMemcg(O);
    const pinned = sys.open(m, '/lib/libc.so.6');
    const view = sys.view(pinned, 0, 4 * PAGE); // the cgroup's four pages, pinned
    const other = sys.open(m, '/lib/libm.so.6');
    t.throws(() => sys.readAll(other), { code: 'ENOMEM', message: /memory cgroup \d+ is at memory.max/ });
    t.is(sys.memcgStat(O).events.oom, 1);
    view.release();
    t.is(sha256(sys.readAll(other)), sha256(readFileSync(join(p.srcs[0], 'lib/libm.so.6'))), 'reads once unpinned');
    sys.close(other);
    sys.close(pinned);
  } finally {
    sys.setMemcg(0);
    sys.detach();
  }
});

test('drop_caches is not reclaim: a page read again after it is no refault, and nothing is scanned or stolen', async (t) => {
  // The kernel's drop_caches frees pages through invalidate_mapping_pages, which removes them without a
  // shadow entry (__remove_mapping with reclaimed = false) and outside vmscan's pgscan/pgsteal counting.
  const p = await pair();
  const sys = System.create({ poolMiB: 16 });
  try {
    const m = sys.mount(p.images[0]).mount;
    const X = sys.memcgCreate('X');
    sys.setMemcg(X);
    const f = sys.open(m, '/lib/libm.so.6');
    sys.readAll(f);
    sys.dropCaches();
    sys.readAll(f);
    sys.close(f);
    sys.setMemcg(0);
    const x = sys.memcgStat(X);
    t.is(x.stat.workingset_refault_file, 0);
    t.is(x.stat.pgscan, 0);
    t.is(x.stat.pgsteal, 0);
    t.is(x.localBytes, Math.ceil(130_000 / PAGE) * PAGE, 'charged once for the pages cached now');
  } finally {
    sys.setMemcg(0);
    sys.detach();
  }
});

test('the last cgroup id the model hands out reads and is credited like any other', async (t) => {
  // A page's readers are a bitmap of cgroup ids beside the recharge mark: every id handed out must have a
  // bit of its own, so the cgroup created last reads a tree and is credited exactly its pages.
  const p = await pair();
  const sys = System.create({ poolMiB: 16 });
  try {
    const m = sys.mount(p.images[0]).mount;
    let last = -1;
    for (let i = 0; ; i++) {
      try {
        last = sys.memcgCreate(`c${i}`);
      } catch (e) {
        if (e instanceof RangeError && /ids are in use/.test(e.message)) break;
        throw e;
      }
    }
    sys.setMemcg(last);
    readTree(sys, m);
    sys.setMemcg(0);
    // Pages per distinct source inode: hard links are one inode in the image.
    const pages = [...units(walk(p.srcs[0]), false, 1).values()].reduce((n, x) => n + x, 0);
    const s = sys.memcgStat(last);
    t.is(s.readBytes, pages * PAGE, 'read: every page of the tree');
    t.is(s.localBytes, pages * PAGE, 'charged: every page of the tree');
    t.deepEqual(memcgCheckQuiescent(sys.arena, sys.stats().filePages), []);
  } finally {
    sys.setMemcg(0);
    sys.detach();
  }
});

test("a page another cgroup's limit evicted refaults in the cgroup that reads it again", async (t) => {
  const p = await pair();
  const sys = System.create({ poolMiB: 16 });
  try {
    const [m1, m2] = p.images.map((img) => sys.mount(img, { inodeShare: true, domainId: 'd' }).mount);
    const L = sys.memcgCreate('L', { max: 48 * PAGE }); // holds libm (32 pages), not libc (147)
    const X = sys.memcgCreate('X');
    // L reads libm first and pays; X reads it for free through the shared inode.
    sys.setMemcg(L);
    const lf = sys.open(m1, '/lib/libm.so.6');
    sys.readAll(lf);
    sys.setMemcg(X);
    const xf = sys.open(m2, '/lib/libm.so.6');
    sys.readAll(xf);
    t.is(sys.memcgStat(X).localBytes, 0, 'X pays nothing for pages L paid');
    // L's limit evicts L's pages — the ones X is using too — as L reads on.
    sys.setMemcg(L);
    const big = sys.open(m1, '/lib/libc.so.6');
    sys.readAll(big);
    sys.close(big);
    const pages = Math.ceil(130_000 / PAGE);
    const evicted = pages - inodeNrPages(sys.arena, xf.mapping);
    t.true(evicted > 0, `${evicted} of libm's ${pages} pages evicted by L's limit`);
    sys.setMemcg(X);
    sys.readAll(xf);
    sys.setMemcg(0);
    const x = sys.memcgStat(X);
    t.true(x.stat.workingset_refault_file > 0, 'X saw refaults');
    t.true(
      x.stat.workingset_refault_file <= evicted,
      `refaults ${x.stat.workingset_refault_file} ≤ pages evicted ${evicted}`,
    );
    t.is(sys.memcgStat(L).stat.workingset_refault_file, 0, 'not counted in the cgroup that evicted them');
    t.is(x.localBytes, evicted * PAGE, 'X now pays for the pages it brought back');
    sys.close(lf);
    sys.close(xf);
    t.deepEqual(memcgCheckQuiescent(sys.arena, sys.stats().filePages), []);
  } finally {
    sys.setMemcg(0);
    sys.detach();
  }
});

test('bad cgroup use is refused with a clear error', (t) => {
  const sys = System.create({ poolMiB: 1 });
  try {
    t.throws(() => sys.memcgRemove(0), { message: /not online/ });
    const A = sys.memcgCreate('A');
    const B = sys.memcgCreate('B', { parent: A });
    t.throws(() => sys.memcgRemove(A), { message: /children/ });
    t.throws(() => sys.memcgCreate('bad', { max: -1 }), { message: /memory.max must be a size/ });
    sys.memcgRemove(B);
    t.throws(() => sys.setMemcg(B), { message: /not online/ });
    t.throws(() => sys.memcgCreate('x', { parent: B }), { message: /not online/ });
    // B pinned nothing: its id was freed. 30 ids besides the root: A and 29 more.
    for (let i = 0; i < 29; i++) sys.memcgCreate(`c${i}`);
    t.throws(() => sys.memcgCreate('one too many'), { message: /ids are in use/ });
  } finally {
    sys.detach();
  }
});
