// Seed images for the fuzz tests: the default corpus (our mkfs at 4 KiB and 1 KiB, mkfs.erofs plain,
// chunk-based and with shared xattrs + extended inodes when installed) plus a synthetic 512 B image
// with chunk indexes, holes, long xattr prefixes and shared xattrs.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildCorpus, readImage } from '@ishare/core/fuzz';
import { upstreamTool } from '../../../test/helpers/erofs-utils.ts';
import { seededBytes, tempDir, removeDir } from '../../../test/helpers/trees.ts';
import { buildImage, fingerprintValue, sha256, type SynthNode } from './erofs-synth.ts';

export interface TestSeeds {
  seeds: { name: string; bytes: Uint8Array }[];
  skipped: string[];
  cleanup: () => void;
}

export function synthSeed(): Uint8Array {
  const many: Record<string, SynthNode> = {};
  for (let i = 0; i < 40; i++) many[`e-${i}-${'m'.repeat(i % 12)}`] = { type: 'file', data: new Uint8Array([i, i]) };
  const sparse = new Uint8Array(512 * 12);
  sparse.set(seededBytes(400, 3), 512 * 4);
  return buildImage(
    {
      type: 'dir',
      entries: {
        chunks: {
          type: 'file',
          data: sparse,
          layout: 'chunk',
          chunkBits: 1,
          indexes: true,
          holes: true,
          xattrs: [['user.s', 'shared']],
          shared: ['user.s'],
        },
        blockmap: { type: 'file', data: new Uint8Array(seededBytes(512 * 5 + 9, 4)), layout: 'chunk', chunkBits: 0 },
        inline: {
          type: 'file',
          data: new Uint8Array(seededBytes(700, 5)),
          layout: 'inline',
          xattrs: [
            ['trusted.erofs.tag', 'fp'],
            ['erofs.fingerprint.v1', fingerprintValue(sha256(seededBytes(700, 5)))],
            ['user.s', 'shared'],
          ],
          shared: ['user.s'],
        },
        plain: { type: 'file', data: new Uint8Array(seededBytes(1536, 6)), layout: 'plain' },
        link: { type: 'symlink', target: 'plain' },
        many: { type: 'dir', entries: many },
      },
    },
    { blockSize: 512, longPrefixes: ['trusted.erofs.', 'erofs.fingerprint.v1'], ishare: 1 },
  );
}

export async function testSeeds(): Promise<TestSeeds> {
  const dir = tempDir('ishare-fuzz-seeds-');
  const corpus = await buildCorpus(dir);
  const seeds = corpus.images.map((i) => ({ name: i.name, bytes: readImage(i.path) }));
  seeds.push({ name: 'synth-512', bytes: synthSeed() });
  // Upstream's own fingerprint layout (mkfs.erofs 1.9.3 --xattr-inode-digest) as a seed too.
  const src = join(dir, 'upstream-src');
  mkdirSync(join(src, 'd'), { recursive: true });
  for (let i = 0; i < 12; i++)
    writeFileSync(join(src, i % 2 ? 'd' : '', `f${i}`), seededBytes(300 + i * 900, 40 + (i % 5)));
  writeFileSync(join(src, 'empty'), '');
  const up = join(dir, 'upstream-digest.img');
  const r = spawnSync(upstreamTool('mkfs.erofs'), ['--quiet', '--xattr-inode-digest', up, src], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mkfs.erofs --xattr-inode-digest failed: ${r.stderr}`);
  seeds.push({ name: 'mkfs.erofs-1.9.3-digest', bytes: readImage(up) });
  return { seeds, skipped: corpus.skipped, cleanup: () => removeDir(dir) };
}
