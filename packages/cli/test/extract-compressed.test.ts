// extract of compressed images from the real writers gives back the source tree byte for byte.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { snapshotTree, tempDir, removeDir } from '../../../test/helpers/trees.ts';
import { makeCompressTree } from '../../../test/helpers/compress-tree.ts';
import { upstreamTool } from '../../../test/helpers/erofs-utils.ts';
import { ishare } from './helpers/run.ts';

let dir = '';
let src = '';

test.before(() => {
  dir = tempDir('ishare-cli-zextract-');
  src = join(dir, 'src');
  mkdirSync(src);
  makeCompressTree(src);
});
test.after.always(() => removeDir(dir));

const cells: { name: string; mkfs: () => string; args: string[] }[] = [
  {
    name: 'upstream -zlz4hc -C65536 -Eztailpacking,fragments,dedupe',
    mkfs: () => upstreamTool('mkfs.erofs'),
    args: ['-zlz4hc', '-C65536', '-Eztailpacking,fragments,dedupe'],
  },
  {
    name: 'upstream -zzstd -Efragments --zD',
    mkfs: () => upstreamTool('mkfs.erofs'),
    args: ['-zzstd', '-Efragments', '--zD'],
  },
  {
    name: 'upstream -zdeflate -Elegacy-compress',
    mkfs: () => upstreamTool('mkfs.erofs'),
    args: ['-zdeflate', '-Elegacy-compress'],
  },
  { name: 'Debian 1.5 -zlz4hc -Eztailpacking', mkfs: () => 'mkfs.erofs', args: ['-zlz4hc', '-Eztailpacking'] },
  {
    name: 'upstream -zlzma -C65536 -Eztailpacking,fragments',
    mkfs: () => upstreamTool('mkfs.erofs'),
    args: ['-zlzma', '-C65536', '-Eztailpacking,fragments'],
  },
  // Partial references to lzma pclusters (a prefix decode: once refused, the old decoder could not stop).
  { name: 'upstream -zlzma -Ededupe', mkfs: () => upstreamTool('mkfs.erofs'), args: ['-zlzma', '-Ededupe'] },
];

cells.forEach((c, i) => {
  test(`extract of a ${c.name} image equals the source tree`, async (t) => {
    const image = join(dir, `z${i}.img`);
    const r0 = spawnSync(c.mkfs(), ['-T0', ...c.args, image, src], { encoding: 'utf8' });
    t.is(r0.status, 0, r0.stderr);
    const out = join(dir, `out${i}`);
    const r = await ishare(['extract', image, out]);
    t.is(r.status, 0, r.stderr);
    t.deepEqual(snapshotTree(out), snapshotTree(src));
  });
});

test('inspect names the compression algorithms and the compressed index layouts', async (t) => {
  const image = join(dir, 'inspect-zstd.img');
  const r0 = spawnSync(upstreamTool('mkfs.erofs'), ['-T0', '-zzstd', '-Ededupe', image, src], { encoding: 'utf8' });
  t.is(r0.status, 0, r0.stderr);
  const r = await ishare(['inspect', '--json', image]);
  t.is(r.status, 0, r.stderr);
  const rep = JSON.parse(r.text) as { superblock: { compression: string[] }; layouts: Record<string, number> };
  t.deepEqual(rep.superblock.compression, ['zstd']);
  // -Ededupe writes full indexes (mkfs.erofs keeps compact ones for files without dedupe).
  t.true((rep.layouts.COMPRESSED_FULL ?? 0) > 0, JSON.stringify(rep.layouts));
  const plain = join(dir, 'inspect-plain.img');
  t.is(spawnSync(upstreamTool('mkfs.erofs'), ['-T0', plain, src], { encoding: 'utf8' }).status, 0);
  const rp = await ishare(['inspect', '--json', plain]);
  t.deepEqual((JSON.parse(rp.text) as { superblock: { compression: string[] } }).superblock.compression, []);
});
