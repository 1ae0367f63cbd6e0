// Compressed images from the real writers, read back byte for byte against the source tree: upstream
// erofs-utils 1.9.3 (each algorithm × layout option) and Debian's 1.5 (lz4, lz4hc). Each cell also
// says which on-disk layouts its mkfs options must produce, and the walk over every extent checks they
// were met — so a cell cannot pass by quietly testing something simpler than it claims.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErofsImage, DATALAYOUT, Z_ADVISE, Z_ALG, Z_ALG_NAMES } from '@ishare/core/format';
import { newZMapOut, ZF_FRAGMENT, ZF_META, ZF_PARTIAL_REF } from '../src/erofs/zmap.ts';
import { makeCompressTree } from '../../../test/helpers/compress-tree.ts';
import { removeDir, tempDir } from '../../../test/helpers/trees.ts';
import { upstreamTool } from '../../../test/helpers/erofs-utils.ts';

let dir = '';
let src = '';
const files: string[] = [];

test.before(() => {
  dir = tempDir('ishare-zmatrix-');
  src = join(dir, 'src');
  mkdirSync(src);
  files.push(...makeCompressTree(src));
});
test.after.always(() => removeDir(dir));

/** What the walk over every extent of every compressed inode found. */
function layoutsSeen(im: ErofsImage): Set<string> {
  const seen = new Set<string>();
  const pclusterUsers = new Map<number, number>();
  const inodes = [...im.walk()].map((e) => e.inode);
  // The packed inode (fragments) is compressed too, and reached only through the superblock.
  if (im.sb.packedNid !== 0) inodes.push(im.inode(im.sb.packedNid));
  for (const inode of inodes) {
    if (!inode.compressed) continue;
    seen.add(inode.type === 'dir' ? 'compressed-dir' : 'compressed-file');
    seen.add(inode.layout === DATALAYOUT.COMPRESSED_FULL ? 'full' : 'compact');
    const z = im.zmapper(inode);
    if (inode.layout === DATALAYOUT.COMPRESSED_COMPACT && z.info.advise & Z_ADVISE.COMPACTED_2B) seen.add('compact2b');
    const m = newZMapOut();
    for (let off = 0; off < inode.size; off = m.la + m.llen) {
      z.map(off, m);
      if (m.flags & ZF_FRAGMENT) {
        seen.add('fragment');
        continue;
      }
      if (m.flags & ZF_META) seen.add('inline');
      if (m.flags & ZF_PARTIAL_REF) seen.add('partial-ref');
      if (m.plen > im.blockSize) seen.add('big-pcluster');
      seen.add(Z_ALG_NAMES[m.alg]);
      if (!(m.flags & ZF_META)) pclusterUsers.set(m.pa, (pclusterUsers.get(m.pa) ?? 0) + 1);
    }
  }
  // Dedupe: one pcluster referenced from more than one extent.
  for (const n of pclusterUsers.values()) if (n > 1) seen.add('shared-pcluster');
  return seen;
}

function checkImage(image: string): string[] {
  const problems: string[] = [];
  const im = ErofsImage.open(image);
  try {
    for (const rel of files) {
      const want = readFileSync(join(src, rel));
      const inode = im.resolve('/' + rel);
      const got = Buffer.from(im.readFile(inode));
      if (!got.equals(want)) {
        problems.push(`${rel}: whole-file read differs`);
        continue;
      }
      // Ranged reads starting and ending inside extents, across block and lcluster boundaries.
      for (const [o, l] of [
        [1, 5000],
        [4095, 2],
        [4095, 8194],
        [12_345, 70_001],
        [want.length - 3001, 3001],
      ] as const) {
        if (o < 0 || o >= want.length) continue;
        const r = Buffer.from(im.read(inode, o, l));
        if (!r.equals(want.subarray(o, o + l))) problems.push(`${rel}: read(${o}, ${l}) differs`);
      }
    }
    return problems.concat([...layoutsSeen(im)].map((s) => `seen:${s}`));
  } finally {
    im.close();
  }
}

interface Cell {
  tool: 'upstream' | 'debian';
  alg: string;
  opts: string[];
  expect: string[];
}

const ALGS = ['lz4', 'lz4hc', 'deflate', 'zstd'];
const LAYOUTS: { opts: string[]; expect: string[] }[] = [
  { opts: [], expect: ['compact', 'compact2b', 'shifted'] },
  { opts: ['-C65536'], expect: ['compact', 'big-pcluster'] },
  { opts: ['-C16384', '-Eztailpacking'], expect: ['inline', 'big-pcluster'] },
  { opts: ['-Efragments'], expect: ['fragment', 'interlaced'] },
  { opts: ['-Ededupe'], expect: ['full', 'shared-pcluster'] },
  { opts: ['-Eall-fragments'], expect: ['fragment'] },
  { opts: ['-Elegacy-compress'], expect: [] },
  { opts: ['-C65536', '-Eztailpacking,fragments,dedupe'], expect: ['full', 'fragment', 'big-pcluster'] },
  { opts: ['-b1024', '-C8192', '-Eztailpacking'], expect: ['inline', 'big-pcluster'] },
  // mkfs.erofs 1.9.3 reads --zD=1 as "off" (it enables for any value but "1"): plain --zD turns it on.
  { opts: ['--zD', '-Eztailpacking'], expect: ['compressed-dir', 'fragment', 'inline'] },
];
const algName = (a: string): string => (a === 'lz4hc' ? 'lz4' : a);
const cells: Cell[] = [];
for (const alg of ALGS)
  for (const l of LAYOUTS) cells.push({ tool: 'upstream', alg, opts: l.opts, expect: [algName(alg), ...l.expect] });
// lzma: every layout, plain -Ededupe's partial references included (a prefix decode of the pcluster).
for (const l of LAYOUTS) {
  const expect = l.opts.join(' ') === '-Ededupe' ? [...l.expect, 'partial-ref'] : l.expect;
  cells.push({ tool: 'upstream', alg: 'lzma', opts: l.opts, expect: ['lzma', ...expect] });
}
// lzma's encoder options: literal context/position and position bits other than the default (3, 0, 2),
// the extreme presets, the smallest and a large dictionary (the superblock's config bounds distances).
for (const [alg, opts] of [
  ['lzma,lc=0,lp=2,pb=0', []],
  ['lzma,lc=4,lp=0,pb=4', ['-C65536']],
  ['lzma,lc=1,lp=3,pb=1', ['-Eztailpacking']],
  ['lzma,level=109,dictsize=4096', ['-C16384']],
  ['lzma,level=9,dictsize=1048576', ['-C131072', '-Ededupe']],
] as const)
  cells.push({ tool: 'upstream', alg, opts: [...opts], expect: ['lzma'] });
for (const alg of ['lz4', 'lz4hc']) {
  for (const l of [
    { opts: [], expect: ['compact'] },
    { opts: ['-C65536'], expect: ['big-pcluster'] },
    { opts: ['-Eztailpacking'], expect: ['inline'] },
    { opts: ['-Efragments,dedupe', '-C32768'], expect: ['shared-pcluster'] },
    { opts: ['-Elegacy-compress'], expect: [] },
  ])
    cells.push({ tool: 'debian', alg, opts: l.opts, expect: [alg === 'lz4hc' ? 'lz4' : alg, ...l.expect] });
}

let n = 0;
for (const c of cells) {
  test(`${c.tool} mkfs.erofs -z${c.alg} ${c.opts.join(' ') || '(defaults)'}: every file reads back as the source`, (t) => {
    const image = join(dir, `cell-${n++}.img`);
    const mkfs = c.tool === 'upstream' ? upstreamTool('mkfs.erofs') : 'mkfs.erofs';
    execFileSync(mkfs, ['-T0', `-z${c.alg}`, ...c.opts, image, src], { stdio: ['ignore', 'ignore', 'pipe'] });
    const out = checkImage(image);
    const problems = out.filter((s) => !s.startsWith('seen:'));
    const seen = new Set(out.filter((s) => s.startsWith('seen:')).map((s) => s.slice(5)));
    t.deepEqual(problems, []);
    for (const e of c.expect) t.true(seen.has(e), `layout '${e}' not produced (seen: ${[...seen].join(', ')})`);
  });
}

test('lz4 algorithm index is 0 and SHIFTED/INTERLACED follow the on-disk algorithms (kernel numbering)', (t) => {
  t.is(Z_ALG.LZ4, 0);
  t.is(Z_ALG.SHIFTED, 4);
  t.is(Z_ALG.INTERLACED, 5);
});
