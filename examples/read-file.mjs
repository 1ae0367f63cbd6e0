// Open an EROFS image (ours or one made by mkfs.erofs) with @ishare/core's reader and read a file.
// Usage: node read-file.mjs [IMAGE PATH]   (default: builds a small image first)
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErofsImage, mkfs } from '@ishare/core';

let [image, path] = process.argv.slice(2);
if (image === undefined) {
  const work = mkdtempSync(join(tmpdir(), 'ishare-example-'));
  mkdirSync(join(work, 'tree', 'etc'), { recursive: true });
  writeFileSync(join(work, 'tree', 'etc', 'os-release'), 'NAME=example\n');
  image = join(work, 'app.img');
  await mkfs({ out: image, source: join(work, 'tree') });
  path = '/etc/os-release';
}

const img = ErofsImage.open(image);
try {
  const inode = img.resolve(path ?? '/');
  if (inode.type !== 'file') throw new Error(`${path}: not a regular file`);
  const text = Buffer.from(img.readFile(inode)).toString('utf8');
  console.log(
    `${path}: ${inode.size} bytes, mode ${(inode.mode & 0o7777).toString(8)}, fingerprint ${img.fingerprint(inode) ?? '(none)'}`,
  );
  process.stdout.write(text);
} finally {
  img.close();
}
