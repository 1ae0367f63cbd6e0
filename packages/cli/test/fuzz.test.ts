// `ishare fuzz` end to end: a short run over the default corpus prints the counts and exits 0; --json
// is one object; given seed images are used; failing images (a stand-in worker that hangs and dies)
// exit 1 and are saved with their description; --replay re-checks one image; bad options exit 2.
import test from 'ava';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ishare, json, isOneErrorLine } from './helpers/run.ts';
import { removeDir, tempDir } from '../../../test/helpers/trees.ts';
import { buildCorpus } from '@ishare/core/fuzz';

const dir = tempDir('ishare-cli-fuzz-');
test.after.always(() => removeDir(dir));
const STUB = new URL('../../core/test/fuzz-stub-worker.ts', import.meta.url).href;

interface Report {
  images: number;
  seeds: string[];
  counts: Record<string, number>;
  failures: { index: number; kind: string; file?: string }[];
  topErrors: { message: string; count: number }[];
}

let corpus: Promise<string> | undefined;
function ourImage(): Promise<string> {
  corpus ??= buildCorpus(dir).then((c) => c.images.find((i) => i.name === 'ishare-mkfs-4096')!.path);
  return corpus;
}

test('a short run over the default corpus prints the counts and exits 0', async (t) => {
  const out = join(dir, 'fail-default');
  const r = await ishare(['fuzz', '--count', '150', '--seed', '3', '--out', out, '--timeout-ms', '10000']);
  t.is(r.status, 0, r.stderr);
  t.regex(r.text, /^fuzz: 150 images from \d+ seeds \(ishare-mkfs-4096, ishare-mkfs-1024/m);
  t.regex(r.text, /^ok \d+ \| typed errors \d+ \| crashes 0 \| hangs 0 \| out-of-bounds 0 \| wrong data 0$/m);
  t.regex(r.text, /images\/s/);
  t.regex(r.text, /^top errors/m);
  t.false(existsSync(out));
});

test('--json is one object; seed images given on the command line are the seeds', async (t) => {
  const img = await ourImage();
  const r = await ishare([
    'fuzz',
    img,
    '--count',
    '60',
    '--seed',
    '9',
    '--json',
    '--workers',
    '1',
    '--timeout-ms',
    '10000',
  ]);
  t.is(r.status, 0, r.stderr);
  const rep = json<Report>(r);
  t.is(rep.images, 60);
  t.deepEqual(rep.seeds, [img]);
  t.is(
    Object.values(rep.counts).reduce((a, b) => a + b, 0),
    60,
  );
  t.is(rep.counts.crash + rep.counts.hang + rep.counts.oob + rep.counts.wrong, 0);
});

test('failing images exit 1 and are saved with a description; --replay re-checks one', async (t) => {
  const img = await ourImage();
  const out = join(dir, 'fail-stub');
  const r = await ishare([
    'fuzz',
    img,
    '--count',
    '6',
    '--seed',
    '4',
    '--timeout-ms',
    '4000',
    '--out',
    out,
    '--worker-module',
    STUB,
  ]);
  t.is(r.status, 1, r.stderr);
  t.true(isOneErrorLine(r.stderr), r.stderr);
  t.regex(r.stderr, /2 failing images \(crash 1, hang 1/);
  t.regex(r.text, /#2 hang \(worker\)/);
  t.regex(r.text, /#4 crash \(worker\)/);
  const saved = readdirSync(out).sort();
  t.deepEqual(saved, ['fuzz-4-2-hang.img', 'fuzz-4-2-hang.txt', 'fuzz-4-4-crash.img', 'fuzz-4-4-crash.txt']);
  t.regex(readFileSync(join(out, 'fuzz-4-2-hang.txt'), 'utf8'), /mutations:\n {2}\S+/);
  // The real checker on the saved image: not a hang (the loop was the stand-in's).
  const rep = await ishare(['fuzz', '--replay', join(out, 'fuzz-4-2-hang.img')]);
  t.is(rep.status, 0, rep.stderr);
  t.regex(rep.text, /^replay .*fuzz-4-2-hang\.img: (ok|error E[A-Z]+)/);
  t.regex(rep.text, /mutations: .*fuzz-4-2-hang\.txt/);
});

test('--replay prints a typed error for a damaged image and the outcome as JSON', async (t) => {
  const img = await ourImage();
  const cut = join(dir, 'cut.img');
  writeFileSync(cut, readFileSync(img).subarray(0, 5000));
  const r = await ishare(['fuzz', '--replay', cut, '--json']);
  t.is(r.status, 0, r.stderr);
  const o = json<{ kind: string; code: string; message: string }>(r);
  t.is(o.kind, 'error');
  t.is(o.code, 'ETRUNCATED');
  t.false(o.message.includes('\n'));
});

test('bad options and bad seeds exit 2 with one line', async (t) => {
  const img = await ourImage();
  const notErofs = join(dir, 'not-erofs.img');
  writeFileSync(notErofs, Buffer.alloc(8192, 7));
  const cases: string[][] = [
    ['--count', '0'],
    ['--count', 'many'],
    ['--seed', '-1'],
    ['--seed', '99999999999'],
    ['--workers', '0'],
    ['--workers', '99'],
    ['--timeout-ms', 'soon'],
    ['--start', 'x'],
    [join(dir, 'missing.img')],
    [notErofs],
    [img, '--replay', img],
    ['--replay', join(dir, 'missing.img')],
  ];
  for (const args of cases) {
    const r = await ishare(['fuzz', ...args, ...(args.includes('--count') ? [] : ['--count', '5'])]);
    t.is(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    t.true(isOneErrorLine(r.stderr), `${args.join(' ')}: ${r.stderr}`);
  }
});
