// The image cache: keyed so that what pnpm's shared store does to a tree from elsewhere (new hard
// links to its files: link count and ctime move) does not invalidate it, while a changed file does;
// bounded, least recently used first; `ishare cache ls|clear`.
import test from 'ava';
import { chmodSync, linkSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { removeDir, seededBytes, tempDir } from '../../../test/helpers/trees.ts';
import { ishare, isOneErrorLine, json } from './helpers/run.ts';

interface ReadJson {
  inputs: { image: string; built: boolean }[];
}
interface LsJson {
  capBytes: number;
  totalBytes: number;
  images: { name: string; bytes: number }[];
}

let dir = '';
test.before(() => {
  dir = tempDir('ishare-cli-cache-');
});
test.after.always(() => removeDir(dir));

function tree(name: string, seed: number, bytes = 300_000): string {
  const root = join(dir, name);
  mkdirSync(join(root, 'sub'), { recursive: true });
  writeFileSync(join(root, 'a.bin'), seededBytes(bytes, seed));
  writeFileSync(join(root, 'sub', 'b.txt'), `tree ${name}\n`);
  return root;
}

async function read(input: string, env: NodeJS.ProcessEnv): Promise<ReadJson> {
  const r = await ishare(['read', input, '--workers', '1', '--json'], env);
  if (r.status !== 0) throw new Error(r.stderr);
  return json<ReadJson>(r);
}

test.serial(
  'another hard link to a file (as another pnpm install makes) keeps the image; a changed file rebuilds it',
  async (t) => {
    const env = { ISHARE_CACHE: join(dir, 'c1') };
    const src = tree('links', 1);
    const first = await read(src, env);
    t.true(first.inputs[0].built);
    const before = statSync(join(src, 'a.bin'));
    // From outside the tree: the file's link count and ctime change, its bytes do not.
    mkdirSync(join(dir, 'elsewhere'), { recursive: true });
    linkSync(join(src, 'a.bin'), join(dir, 'elsewhere', 'a.bin'));
    chmodSync(join(src, 'sub', 'b.txt'), statSync(join(src, 'sub', 'b.txt')).mode & 0o7777); // ctime only
    t.not(statSync(join(src, 'a.bin')).nlink, before.nlink);
    const again = await read(src, env);
    t.false(again.inputs[0].built, 'reused');
    t.is(again.inputs[0].image, first.inputs[0].image);
    writeFileSync(join(src, 'sub', 'b.txt'), 'changed, longer\n');
    const changed = await read(src, env);
    t.true(changed.inputs[0].built, 'a changed file means a new image');
    t.not(changed.inputs[0].image, first.inputs[0].image);
  },
);

test.serial(
  'bounded: over ISHARE_CACHE_MAX_MIB the least recently used image goes first; cache ls and clear',
  async (t) => {
    const cacheDir = join(dir, 'c2');
    const env = { ISHARE_CACHE: cacheDir, ISHARE_CACHE_MAX_MIB: '1' };
    // Three trees whose images are each about 0.4 MiB: two fit under 1 MiB, three do not.
    const [a, b, c] = [tree('ta', 11, 400_000), tree('tb', 12, 400_000), tree('tc', 13, 400_000)];
    const ia = (await read(a, env)).inputs[0].image;
    const ib = (await read(b, env)).inputs[0].image;
    t.false((await read(a, env)).inputs[0].built, 'a reused, and now used more recently than b');
    const ic = (await read(c, env)).inputs[0].image;
    const ls = json<LsJson>(await ishare(['cache', 'ls', '--json'], env));
    const names = ls.images.map((x) => join(cacheDir, x.name)).sort();
    t.deepEqual(names, [ia, ic].sort(), 'b, the least recently used, was evicted');
    t.is(ls.capBytes, 1024 * 1024);
    t.true(ls.totalBytes <= ls.capBytes);
    t.false(names.includes(ib));
    const text = await ishare(['cache', 'ls'], env);
    t.regex(text.text, /2 images, .* of 1\.0 MiB/);
    const cleared = await ishare(['cache', 'clear'], env);
    t.is(cleared.status, 0);
    t.regex(cleared.text, /removed 2 files/);
    t.deepEqual(json<LsJson>(await ishare(['cache', 'ls', '--json'], env)).images, []);
  },
);

test('a bad ISHARE_CACHE_MAX_MIB is one line, exit 2', async (t) => {
  const r = await ishare(['cache', 'ls'], { ISHARE_CACHE: join(dir, 'c3'), ISHARE_CACHE_MAX_MIB: 'lots' });
  t.is(r.status, 2);
  t.true(isOneErrorLine(r.stderr), r.stderr);
});
