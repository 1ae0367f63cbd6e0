// The seed's experiment with @ishare/workers: mount two images, read every file with a pool of worker
// threads, measure the page cache without and then with inode page-cache sharing.
// Usage: node compare.mjs [A.img B.img]   (default: two versions of a small tree that share most files)
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mkfs } from '@ishare/core';
import { runCompare } from '@ishare/workers';

let images = process.argv.slice(2);
if (images.length === 0) {
  const work = mkdtempSync(join(tmpdir(), 'ishare-example-'));
  images = [];
  for (const v of [1, 2]) {
    const tree = join(work, `app-${v}`);
    mkdirSync(join(tree, 'lib'), { recursive: true });
    writeFileSync(join(tree, 'lib', 'shared.so'), Buffer.alloc(400_000, 1)); // the same in both
    writeFileSync(join(tree, 'lib', 'own.so'), Buffer.alloc(100_000, v + 1)); // differs
    writeFileSync(join(tree, 'version'), `${v}\n`);
    const out = join(work, `app-${v}.img`);
    await mkfs({ out, source: tree });
    images.push(out);
  }
}

const r = await runCompare({ images, workers: 2, policy: 'processing' });
const mib = (n) => (n / 2 ** 20).toFixed(1);
console.log(
  `page cache without sharing ${mib(r.noShare.pageCacheBytes)} MiB (${r.noShare.pageCacheBytes} bytes), ` +
    `with sharing ${mib(r.share.pageCacheBytes)} MiB (${r.share.pageCacheBytes} bytes): ${r.reductionPercent}% less, ` +
    `${r.share.sharedInodes} shared inodes`,
);
