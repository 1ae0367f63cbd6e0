// The decoders fuzzed directly, sampled (the long run is packages/core/scripts/fuzz-decoders.ts,
// figures in docs/compressed.md): lz4.wat vs lz4.ts vs lz4-napi on mutated LZ4 blocks, libzstd in
// WebAssembly vs fzstd on mutated zstd frames, the kept zlib handle vs inflateRawSync on mutated deflate
// streams, lzma.ts alone (poisoned margins) vs through zDecompress on mutated MicroLZMA streams, the
// blocks every lz4/zstd/deflate/lzma pcluster of images upstream
// mkfs.erofs 1.9.3 writes. Every case: the same bytes of exactly the size asked or all refuse; no read
// past the input, no write outside the output, nothing else thrown.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ErofsImage } from '@ishare/core/format';
import {
  collectBlocks,
  fuzzDecoders,
  runDecoderCase,
  syntheticLz4Blocks,
  type CodecBlock,
} from '../src/fuzz/decoders.ts';
import { inflateStats } from '../src/erofs/inflate.ts';
import { makeCompressTree } from '../../../test/helpers/compress-tree.ts';
import { removeDir, tempDir } from '../../../test/helpers/trees.ts';
import { upstreamTool } from '../../../test/helpers/erofs-utils.ts';

const IMAGES: [string, string[]][] = [
  ['lz4hc', ['-zlz4hc']],
  ['lz4-legacy', ['-zlz4', '-Elegacy-compress']],
  ['zstd', ['-zzstd']],
  ['zstd-16k', ['-zzstd', '-C16384']],
  ['deflate', ['-zdeflate']],
  // lzma pclusters hold 4 KiB of stream each, many KiB of this tree: two images for enough of them.
  ['lzma', ['-zlzma']],
  ['lzma-lp2', ['-zlzma,lc=0,lp=2,pb=0', '-C8192']],
];

let dir = '';
const blocks: CodecBlock[] = [];
test.before(() => {
  dir = tempDir('ishare-fuzz-dec-');
  const src = join(dir, 'src');
  mkdirSync(src);
  makeCompressTree(src);
  for (const [name, args] of IMAGES) {
    const image = join(dir, `${name}.img`);
    execFileSync(upstreamTool('mkfs.erofs'), ['-T0', ...args, image, src], { stdio: 'ignore' });
    const img = ErofsImage.open(image);
    try {
      blocks.push(...collectBlocks(img));
    } finally {
      img.close();
    }
  }
  blocks.push(...syntheticLz4Blocks(20261205, 16));
});
test.after.always(() => removeDir(dir));

test('the blocks are there: lz4, zstd, deflate and lzma pclusters of the upstream images, and lz4-napi ones', (t) => {
  t.true(blocks.filter((b) => b.alg === 'lz4').length > 16 + 20);
  t.true(blocks.filter((b) => b.alg === 'zstd').length > 20);
  t.true(blocks.filter((b) => b.alg === 'deflate').length > 20);
  t.true(blocks.filter((b) => b.alg === 'lzma').length >= 20);
});

test('every case unmutated: every decoder returns the same bytes', (t) => {
  for (const b of blocks) {
    const r = runDecoderCase({ index: 0, alg: b.alg, input: b.bytes, length: b.length, partial: false, mutations: [] });
    t.is(r.finding, null, r.finding?.detail);
    t.is(r.agreed, 'bytes');
  }
});

test('1,000 mutated blocks: the decoders agree, nothing read or written out of bounds, nothing thrown', (t) => {
  const r = fuzzDecoders(blocks, { seed: 20261205, count: 1000 });
  t.log(
    `${r.cases} cases in ${(r.elapsedMs / 1000).toFixed(1)} s: lz4 ${JSON.stringify(r.lz4)}, zstd ${JSON.stringify(r.zstd)}, deflate ${JSON.stringify(r.deflate)}, lzma ${JSON.stringify(r.lzma)}`,
  );
  t.deepEqual(
    r.findings.map((f) => `#${f.index} ${f.alg} ${f.kind}: ${f.detail} [${f.mutations.join(', ')}]`),
    [],
  );
  // Both outcomes happen for both algorithms (a run where everything is refused checks little).
  t.true(r.lz4.sameBytes > 0 && r.lz4.allRefused > 0 && r.lz4.napiCompared > 0);
  t.true(r.zstd.sameBytes > 0 && r.zstd.allRefused > 0);
  t.true(r.deflate.sameBytes > 0 && r.deflate.allRefused > 0);
  t.true(r.lzma.sameBytes > 0 && r.lzma.allRefused > 0);
  // The kept handle really ran (on this Node its shape is the one inflate.ts drives), else the
  // deflate cases compared inflateRawSync with itself.
  t.true(inflateStats().handle);
  t.true(inflateStats().calls > 0);
});
