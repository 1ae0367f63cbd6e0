// The demo (what `pnpm start` runs): builds, reuses, verifies — and notices a corrupted image.
import test from 'ava';
import { closeSync, openSync, readSync, readdirSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, removeDir } from '../../../test/helpers/trees.ts';
import { ErofsImage } from '../src/engine.ts';
import { ishare, json } from './helpers/run.ts';

interface DemoJson {
  releases: {
    name: string;
    image: string;
    reused: boolean;
    verifiedFiles: number;
    problems: string[];
    inspect: { counts: { files: number } };
  }[];
  identicalFiles: number;
  totalFiles: number;
  distinctFingerprints: number;
  dataBytesNoShare: number;
  dataBytesShared: number;
}

let cache = '';
test.before(() => {
  cache = tempDir('ishare-cli-demo-');
});
test.after.always(() => removeDir(cache));

test.serial('builds both images, verifies every file, counts the identical ones', async (t) => {
  const r = await ishare(['demo', '--json', '--cache-dir', cache]);
  t.is(r.status, 0, r.stderr);
  const d = json<DemoJson>(r);
  t.deepEqual(
    d.releases.map((x) => x.name),
    ['typescript-5.6.2', 'typescript-5.6.3'],
  );
  for (const rel of d.releases) {
    t.false(rel.reused);
    t.deepEqual(rel.problems, []);
    t.true(rel.verifiedFiles > 50);
    t.is(rel.verifiedFiles, rel.inspect.counts.files);
  }
  // Adjacent releases: most files equal, some not.
  t.true(d.identicalFiles > 0 && d.identicalFiles < d.totalFiles, `${d.identicalFiles}/${d.totalFiles}`);
  t.true(d.dataBytesShared < d.dataBytesNoShare);
});

test.serial('a second run reuses the images', async (t) => {
  const d = json<DemoJson>(await ishare(['demo', '--json', '--cache-dir', cache]));
  t.true(d.releases.every((x) => x.reused));
});

test.serial('a cached image whose data no longer matches its source fails the check (exit 1)', async (t) => {
  // The cache names images by content key; the 5.6.3 image is the newer of the two built ones.
  const built = readdirSync(cache)
    .filter((f) => f.endsWith('.img'))
    .map((f) => join(cache, f));
  t.is(built.length, 2);
  const image = built.find((f) => {
    const i = ErofsImage.open(f);
    try {
      return (
        i.resolve('/package.json') &&
        (JSON.parse(Buffer.from(i.readFile(i.resolve('/package.json'))).toString()) as { version: string }).version ===
          '5.6.3'
      );
    } finally {
      i.close();
    }
  })!;
  // Flip one byte inside the data of a known file, leaving all metadata intact.
  const img = ErofsImage.open(image);
  let pos: number;
  try {
    const ino = img.resolve('/package.json');
    const m = img.mapBlocks(ino, 10);
    pos = m.physical + (10 - m.logical);
  } finally {
    img.close();
  }
  const fd = openSync(image, 'r+');
  const b = Buffer.alloc(1);
  readSync(fd, b, 0, 1, pos);
  b[0] ^= 0xff;
  writeSync(fd, b, 0, 1, pos);
  closeSync(fd);
  const r = await ishare(['demo', '--cache-dir', cache]);
  t.is(r.status, 1, r.stderr);
  t.regex(r.stderr, /package\.json: contents differ/);
  t.regex(r.stderr, /^ishare: 1 file did not read back equal/m);
});
