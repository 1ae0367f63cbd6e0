// A short stress run with @ishare/workers: worker threads race on shared inodes (reads, readahead,
// open/close) while the controller evicts, remounts and shrinks the pool; invariants are checked at
// every pause and every byte read is checked against the source tree the image was built from.
// Usage: node stress.mjs [A.img B.img ...]   (default: two small images; images given here are
// checked against fsck.erofs --extract, which must be erofs-utils 1.9 or later: FSCK=/path/fsck.erofs)
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mkfs } from '@ishare/core';
import { runStress } from '@ishare/workers';

const images = process.argv.slice(2).map((image) => ({ image }));
if (images.length === 0) {
  const work = mkdtempSync(join(tmpdir(), 'ishare-example-'));
  for (const v of [1, 2]) {
    const tree = join(work, `v${v}`);
    mkdirSync(tree, { recursive: true });
    for (let i = 0; i < 8; i++)
      writeFileSync(join(tree, `f${i}`), Buffer.alloc(20_000 + i * 5000, i + (i % 3 === 0 ? v : 0)));
    const out = join(work, `v${v}.img`);
    await mkfs({ out, source: tree });
    images.push({ image: out, source: tree });
  }
}

const r = await runStress({
  images,
  ...(process.env.FSCK ? { fsck: process.env.FSCK } : {}),
  workers: 2,
  policy: 'both',
  ops: 3000,
  seed: 1,
  jitter: 0.01,
  inject: [],
  poolMiB: 64,
  decoys: false,
});
console.log(
  `${r.ops} ops (${r.reads} verified reads) in ${Math.round(r.elapsedMs)} ms, ${r.quiescentChecks} quiescent checks, ` +
    `hit rate ${(r.pageCacheHitRate * 100).toFixed(1)}%: ${r.violation ? `VIOLATION ${r.violation.invariant}` : 'no violation'}`,
);
if (r.violation) process.exitCode = 1;
