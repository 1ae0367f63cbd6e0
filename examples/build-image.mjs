// Build an EROFS image from a directory with @ishare/core's mkfs: every regular file gets a content
// fingerprint (sha256) that inode page-cache sharing keys on.
// Usage: node build-image.mjs [OUT.img [SOURCE_DIR]]   (default: a small tree it writes in a temp dir)
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mkfs } from '@ishare/core';

const work = mkdtempSync(join(tmpdir(), 'ishare-example-'));
let [out, source] = process.argv.slice(2);
if (source === undefined) {
  source = join(work, 'tree');
  mkdirSync(join(source, 'etc'), { recursive: true });
  writeFileSync(join(source, 'etc', 'os-release'), 'NAME=example\n');
  writeFileSync(join(source, 'data.bin'), Buffer.alloc(100_000, 7));
}
out ??= join(work, 'app.img');

const report = await mkfs({ out, source, timestamp: 0 });
console.log(
  `${out}: ${report.files} files, ${report.dirs} dirs, ${report.fingerprinted} fingerprinted, ${report.bytes} bytes`,
);
