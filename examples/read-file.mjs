// Open an EROFS image (ours or one made by mkfs.erofs) with @ishare/core's fs-shaped API and read a
// file as with node:fs; its page-cache-sharing fingerprint comes from the format reader.
// Usage: node read-file.mjs [IMAGE PATH]   (default: builds a small image first)
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mkfs, openImage } from '@ishare/core';
import { ErofsImage } from '@ishare/core/format';

let [image, path] = process.argv.slice(2);
if (image === undefined) {
  const work = mkdtempSync(join(tmpdir(), 'ishare-example-'));
  mkdirSync(join(work, 'tree', 'etc'), { recursive: true });
  writeFileSync(join(work, 'tree', 'etc', 'os-release'), 'NAME=example\n');
  image = join(work, 'app.img');
  await mkfs({ out: image, source: join(work, 'tree') });
  path = '/etc/os-release';
}
path ??= '/';

const fs = openImage(image); // or openImage(image, { system }) to read through the kernel model's page cache
try {
  const st = await fs.promises.stat(path); // Node's errors: ENOENT, ENOTDIR, ELOOP … with code, syscall, path
  if (!st.isFile()) throw new Error(`${path}: not a regular file`);
  const text = await fs.promises.readFile(path, 'utf8');
  const img = ErofsImage.open(image);
  let fingerprint;
  try {
    fingerprint = img.fingerprint(img.resolve(path));
  } finally {
    img.close();
  }
  console.log(
    `${path}: ${st.size} bytes, mode ${(st.mode & 0o7777).toString(8)}, fingerprint ${fingerprint ?? '(none)'}`,
  );
  process.stdout.write(text);
} finally {
  fs.close();
}
