// `pnpm start` (ishare demo) measures the bundled typescript pair. Its figures must be the ones the
// source trees dictate — the pages of every distinct inode without sharing, of every distinct content
// with it — under both policies, and the files it promises must be there.
import test from 'ava';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { tempDir, removeDir } from '../../../test/helpers/trees.ts';
import { expectedNoShare, expectedShare } from '../../workers/test/helpers/pair-trees.ts';
import { ishare, json, REPO } from './helpers/run.ts';
import type { CompareJson } from '../src/commands/compare.ts';

interface DemoCompareJson {
  releases: { name: string; problems: string[] }[];
  compare: Record<'processing' | 'any', CompareJson>;
  outputs: { json: string; svg: string };
}

let dir = '';
test.before(() => {
  dir = tempDir('ishare-demo-compare-');
});
test.after.always(() => removeDir(dir));

test('the demo compares the typescript pair under both policies with the figures the sources dictate', async (t) => {
  const req = createRequire(join(REPO, 'package.json'));
  const srcs = ['typescript-5.6.2', 'typescript-5.6.3'].map((n) =>
    realpathSync(dirname(req.resolve(`${n}/package.json`))),
  );
  const out = join(dir, 'out');
  const r = await ishare(['demo', '--json', '--cache-dir', join(dir, 'cache'), '--out-dir', out]);
  t.is(r.status, 0, r.stderr);
  const d = json<DemoCompareJson>(r);
  const noShare = expectedNoShare(srcs);
  const share = expectedShare(srcs);
  for (const policy of ['processing', 'any'] as const) {
    const c = d.compare[policy];
    t.is(c.policy, policy);
    t.is(c.noShare.pageCacheBytes, noShare, `${policy}: no share`);
    t.is(c.share.pageCacheBytes, share, `${policy}: share`);
    t.is(c.share.sizeMismatch, 0);
    t.is(c.share.dataPathMismatch, 0);
    t.true(c.reductionPercent > 0);
    t.log(
      `${policy}: ${(noShare / 2 ** 20).toFixed(1)} MiB → ${(share / 2 ** 20).toFixed(1)} MiB (${c.reductionPercent}%)`,
    );
  }
  t.deepEqual(d.outputs, { json: join(out, 'compare.json'), svg: join(out, 'compare.svg') });
  const saved = JSON.parse(readFileSync(d.outputs.json, 'utf8')) as Record<string, CompareJson>;
  t.deepEqual(Object.keys(saved), ['processing', 'any']);
  t.is(saved.any.share.pageCacheBytes, share);
  t.true(existsSync(d.outputs.svg) && readFileSync(d.outputs.svg, 'utf8').includes('policy any'));
});

test("the text output has the seed's table for each policy and says where the files are", async (t) => {
  const out = join(dir, 'out2');
  const r = await ishare(['demo', '--cache-dir', join(dir, 'cache2'), '--out-dir', out]);
  t.is(r.status, 0, r.stderr);
  t.regex(r.text, /policy processing \(the v7 seed/);
  t.regex(r.text, /policy any \(mainline/);
  t.is(r.text.match(/\| Page Cache Share \| Memory \(MiB\) \|/g)?.length, 2);
  t.regex(r.text, /typescript +\+-+\+/);
  t.regex(r.text, /5\.6\.2 & 5\.6\.3/);
  t.regex(r.text, /^wrote \S*out2\/compare\.json and \S*out2\/compare\.svg$/m);
  t.true(existsSync(join(out, 'compare.json')) && existsSync(join(out, 'compare.svg')));
});
