// The who-pays table of docs/host.md and the README, from `ishare host --json` outputs: for each
// scenario, the runs under keep, reparent and recharge, named DIR/<scenario>-<charge>.json.
// Usage: node scripts/host-table.mjs DIR SCENARIO[=LABEL]...
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const [dir, ...specs] = process.argv.slice(2);
if (!dir || specs.length === 0) {
  process.stderr.write('usage: node scripts/host-table.mjs DIR SCENARIO[=LABEL]...\n');
  process.exit(2);
}
const MiB = 1024 * 1024;
const m = (b) => (b / MiB).toFixed(1);
const rows = [
  '| data | memory.max | container | no sharing: charge | sharing, `keep` | `reparent` | `recharge` | split | refaults (`keep`) |',
  '|---|---|---|--:|--:|--:|--:|--:|--:|',
];
for (const spec of specs) {
  const [name, label = name] = spec.split('=');
  const run = Object.fromEntries(
    ['keep', 'reparent', 'recharge'].map((c) => [c, JSON.parse(readFileSync(join(dir, `${name}-${c}.json`), 'utf8'))]),
  );
  const keep = run.keep;
  keep.share.containers.forEach((c, i) => {
    const cell = (charge) => {
      const x = run[charge].share.containers[i];
      return m(x.memoryCurrent) + (x.state === 'stopped' && x.memoryCurrent > 0 ? ' (dying)' : '');
    };
    const limit = c.memoryMax === null ? 'max' : `${m(c.memoryMax)} MiB`;
    rows.push(
      `| ${i === 0 ? label : ''} | ${limit} | ${c.name}${c.state === 'stopped' ? ' (stopped)' : ''} | ${m(keep.noShare.containers[i].memoryCurrent)} | ${cell('keep')} | ${cell('reparent')} | ${cell('recharge')} | ${m(c.splitCharge)} | ${c.refaults} |`,
    );
  });
  const root = (charge) => (run[charge].share.rootBytes > 0 ? ` (root ${m(run[charge].share.rootBytes)})` : '');
  rows.push(
    `| | | page cache | ${m(keep.noShare.pageCacheBytes)} | ${m(keep.share.pageCacheBytes)}${root('keep')} | ${m(run.reparent.share.pageCacheBytes)}${root('reparent')} | ${m(run.recharge.share.pageCacheBytes)}${root('recharge')} | | |`,
  );
}
process.stdout.write(`${rows.join('\n')}\n`);
