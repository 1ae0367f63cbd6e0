// Every decoder behind the fuzzer, sampled: seeds written by upstream mkfs.erofs 1.9.3 with each
// algorithm (lz4 whole blocks → lz4-napi, legacy lz4 → our partial decoder, lz4hc with dedupe's partial
// references, zstd, deflate, lzma), mutated, walked by our reader and the kernel model, and extracted by
// upstream fsck.erofs where both accept. The long run (10⁴ images) is a command: docs/fuzz.md.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runFuzz, upstreamOnly, writeFuzzTree } from '@ishare/core/fuzz';
import { removeDir, tempDir } from '../../../test/helpers/trees.ts';
import { upstreamTool } from '../../../test/helpers/erofs-utils.ts';

const CELLS: [string, string[]][] = [
  ['lz4-ztail', ['-zlz4', '-Eztailpacking']],
  ['lz4-legacy', ['-zlz4', '-Elegacy-compress']],
  ['lz4hc-big-dedupe', ['-zlz4hc', '-C16384', '-Efragments,dedupe']],
  ['zstd', ['-zzstd', '-Eztailpacking']],
  ['deflate', ['-zdeflate', '-C16384']],
  ['lzma', ['-zlzma', '-Efragments']],
];

test('a sampled fuzz of compressed images (every algorithm): no crash, hang, oob or wrong data; fsck.erofs agrees', async (t) => {
  const dir = tempDir('ishare-fuzz-z-');
  try {
    const src = join(dir, 'tree');
    writeFuzzTree(src);
    const seeds = CELLS.map(([name, args]) => {
      const img = join(dir, `${name}.img`);
      execFileSync(upstreamTool('mkfs.erofs'), ['-T0', ...args, img, src], { stdio: 'ignore' });
      return { name: `mkfs.erofs-${name}`, bytes: new Uint8Array(readFileSync(img)) };
    });
    const count = 40;
    const r = await runFuzz({
      seeds,
      count,
      seed: 20261205,
      workers: 2,
      outDir: join(dir, 'failures'),
      fsck: upstreamTool('fsck.erofs'),
      timeoutMs: 10_000,
    });
    const d = r.differential!;
    t.log(
      `${r.images} images in ${(r.elapsedMs / 1000).toFixed(1)} s: ${JSON.stringify(r.counts)}; ` +
        `${d.compared} both accepted (${d.files} files compared), ${d.oursRejected} ours refused`,
    );
    t.is(r.images, count);
    t.deepEqual(
      r.failures.map((f) => `#${f.index} ${f.kind}: ${f.message}`),
      [],
    );
    t.is(r.counts.crash + r.counts.hang + r.counts.oob + r.counts.wrong, 0);
    t.true(r.counts.ok > 0 && r.counts.error > 0);
    t.deepEqual(
      d.findings
        .filter((f) => !upstreamOnly(f))
        .map((f) => `#${f.index} ${f.disagreements.map((x) => x.path).join(', ')}`),
      [],
    );
  } finally {
    removeDir(dir);
  }
});
