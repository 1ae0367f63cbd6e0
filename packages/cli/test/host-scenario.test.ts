// Bad scenario files for `ishare host`: each is one line naming the entry at fault (exit 2 through the
// CLI). The checks are pure, so most cases run in-process; the CLI runs for the contract itself (one
// stderr line, exit 2, nothing on stdout) and for an image that does not open, which only the image
// cache can tell.
import test from 'ava';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkScenario, parseSize } from '../src/scenario.ts';
import { UsageError } from '../src/errors.ts';
import { ishare, isOneErrorLine } from './helpers/run.ts';
import { removeDir, tempDir } from '../../../test/helpers/trees.ts';

const ok = {
  containers: [
    { name: 'web', image: 'web.img', memoryMax: '64M' },
    { name: 'db', image: 'db.img', trace: 'db.trace' },
  ],
  steps: [{ start: 'web' }, { read: 'web' }, { start: 'db' }, { read: 'db' }, { stop: 'web' }],
};

function refusal(doc: unknown): string {
  try {
    checkScenario('s.json', doc);
  } catch (e) {
    if (e instanceof UsageError) {
      if (e.message.includes('\n')) return `MORE THAN ONE LINE: ${e.message}`;
      return e.message;
    }
    throw e;
  }
  return 'accepted';
}

test('a good scenario: containers, steps, sizes and paths relative to the file', (t) => {
  const s = checkScenario(join('dir', 's.json'), {
    ...ok,
    charge: 'reparent',
    workers: 2,
    domain: 'd1',
    layout: 'fsmeta',
  });
  t.deepEqual(
    s.containers.map((c) => [c.name, c.imagePath, c.memoryMax, c.tracePath]),
    [
      ['web', join('dir', 'web.img'), 64 * 1024 * 1024, undefined],
      ['db', join('dir', 'db.img'), undefined, join('dir', 'db.trace')],
    ],
  );
  t.deepEqual(
    s.steps.map((x) => `${x.kind} ${x.container}`),
    ['start 0', 'read 0', 'start 1', 'read 1', 'stop 0'],
  );
  t.is(s.charge, 'reparent');
  t.is(s.workers, 2);
  t.is(s.domain, 'd1');
  t.is(s.layout, 'fsmeta');
  t.is(checkScenario('s.json', { ...ok, layout: 'layers' }).layout, 'layers');
  // memory.max's own spellings: bytes, K/M/G/T (and KiB-style), max.
  t.is(parseSize(8192), 8192);
  t.is(parseSize('12K'), 12 * 1024);
  t.is(parseSize('1.5GiB'), 1.5 * 1024 ** 3);
  t.is(parseSize('max'), undefined);
  t.is(parseSize('100'), null, 'less than a page');
});

const cases: [string, unknown, RegExp][] = [
  [
    'unknown container in a step',
    { ...ok, steps: [{ start: 'web' }, { read: 'cache' }] },
    /^s\.json: steps\[1\] \(read cache\): no container named "cache" \(containers: web, db\)$/,
  ],
  [
    'memoryMax not a size',
    { ...ok, containers: [{ name: 'web', image: 'a', memoryMax: '12XB' }] },
    /^s\.json: containers\[0\] \(web\): memoryMax "12XB" is not a size/,
  ],
  [
    'memoryMax negative',
    { ...ok, containers: [{ name: 'web', image: 'a', memoryMax: -1 }] },
    /^s\.json: containers\[0\] \(web\): memoryMax -1 is not a size/,
  ],
  [
    'a read before the start',
    { ...ok, steps: [{ read: 'web' }, { start: 'web' }] },
    /^s\.json: steps\[0\] \(read web\): web has not been started/,
  ],
  [
    'a stop before the start',
    { ...ok, steps: [{ start: 'db' }, { stop: 'web' }] },
    /^s\.json: steps\[1\] \(stop web\): web has not been started/,
  ],
  [
    'a read after the stop',
    { ...ok, steps: [{ start: 'web' }, { stop: 'web' }, { read: 'web' }] },
    /^s\.json: steps\[2\] \(read web\): web was already stopped$/,
  ],
  [
    'duplicate names',
    { ...ok, containers: [ok.containers[0], { name: 'web', image: 'b' }] },
    /^s\.json: containers\[1\] \(web\): the name is already taken by containers\[0\]$/,
  ],
  [
    'a step with two kinds',
    { ...ok, steps: [{ start: 'web', read: 'web' }] },
    /^s\.json: steps\[0\]: expected \{"start": NAME\}/,
  ],
  [
    'a misspelt key',
    { ...ok, containers: [{ name: 'web', image: 'a', memorymax: '1M' }] },
    /^s\.json: containers\[0\] \(web\): unknown key "memorymax"/,
  ],
  ['no image', { ...ok, containers: [{ name: 'web' }] }, /^s\.json: containers\[0\] \(web\): image must be a path/],
  ['bad charge', { ...ok, charge: 'nobody' }, /^s\.json: charge "nobody" must be one of keep, reparent, recharge$/],
  ['bad workers', { ...ok, workers: 0 }, /^s\.json: workers 0 must be an integer from 1 to 64$/],
  ['bad layout', { ...ok, layout: 'merged' }, /^s\.json: layout "merged" must be flat, layers or fsmeta$/],
  ['not an object', [1, 2], /^s\.json: expected a JSON object/],
];
for (const [what, doc, want] of cases) test(`refused: ${what}`, (t) => t.regex(refusal(doc), want));

test('through the CLI: an image that does not open is one line naming the entry, exit 2, nothing on stdout', async (t) => {
  const dir = tempDir('ishare-host-');
  try {
    mkdirSync(join(dir, 'tree'));
    writeFileSync(join(dir, 'tree', 'f'), 'x');
    writeFileSync(join(dir, 'not-an-image.img'), Buffer.alloc(8192, 7));
    const bad = join(dir, 'bad.json');
    writeFileSync(
      bad,
      JSON.stringify({
        containers: [
          { name: 'b', image: 'not-an-image.img' },
          { name: 'a', image: 'tree' },
        ],
        steps: [{ start: 'a' }, { start: 'b' }, { read: 'b' }],
      }),
    );
    const r = await ishare(['host', bad], { ISHARE_CACHE: join(dir, 'cache') });
    t.is(r.status, 2, r.stderr);
    t.true(isOneErrorLine(r.stderr), r.stderr);
    t.regex(r.stderr, /^ishare: .*bad\.json: containers\[0\] \(b\): .*not-an-image\.img: /);
    t.is(r.text, '');
  } finally {
    removeDir(dir);
  }
});
