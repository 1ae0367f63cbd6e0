// A short stress run with @ishare/workers: worker threads race on shared inodes (reads, readahead,
// open/close) while the controller evicts, remounts and shrinks the pool; invariants are checked at
// every pause and every byte read is verified.
// Usage: node stress.mjs [A.img B.img ...]   (default: two small images)
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mkfs } from '@ishare/core';
import { runStress } from '@ishare/workers';

let images = process.argv.slice(2);
if (images.length === 0) {
  const work = mkdtempSync(join(tmpdir(), 'ishare-example-'));
  for (const v of [1, 2]) {
    const tree = join(work, `v${v}`);
    mkdirSync(tree, { recursive: true });
    for (let i = 0; i < 8; i++) writeFileSync(join(tree, `f${i}`), Buffer.alloc(20_000 + i * 5000, i + (i % 3 === 0 ? v : 0)));
    const out = join(work, `v${v}.img`);
    await mkfs({ out, source: tree });
    images.push(out);
  }
}

const r = await runStress({
  images: images.map((image) => ({ image })),
  workers: 2, policy: 'both', ops: 3000, seed: 1, jitter: 0.01, inject: [], poolMiB: 64, decoys: false,
});
console.log(`${r.ops} ops (${r.reads} verified reads) in ${Math.round(r.elapsedMs)} ms, ${r.quiescentChecks} quiescent checks, `
  + `hit rate ${(r.pageCacheHitRate * 100).toFixed(1)}%: ${r.violation ? `VIOLATION ${r.violation.invariant}` : 'no violation'}`);
if (r.violation) process.exitCode = 1;
