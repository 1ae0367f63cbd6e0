// Compare `ishare ls --json` output with a source tree on disk and with dump.erofs.
import type { ExecutionContext } from 'ava';
import type { TreeEntry } from '../../../../test/helpers/trees.ts';
import type { LsEntry } from '../../src/commands/ls.ts';
import { dumpErofs } from './run.ts';

export function byPath(entries: readonly LsEntry[]): Map<string, LsEntry> {
  return new Map(entries.map((e) => [e.path, e]));
}

/** Every source entry is listed with the same type, permission bits, size and link target, and nothing more. */
export function assertListingMatchesSource(
  t: ExecutionContext,
  entries: readonly LsEntry[],
  source: Map<string, TreeEntry>,
): void {
  const listed = byPath(entries);
  t.deepEqual([...listed.keys()].map((p) => p.slice(1)).sort(), [...source.keys()].sort(), 'same set of paths');
  let mismatches = 0;
  for (const [rel, want] of source) {
    const got = listed.get(`/${rel}`);
    if (!got) continue;
    const type = got.type === 'file' || got.type === 'dir' || got.type === 'symlink' ? got.type : 'other';
    const ok =
      type === want.type &&
      (got.mode & 0o7777) === want.mode &&
      (want.type !== 'file' || got.size === want.size) &&
      (want.type !== 'symlink' || got.target === want.target);
    if (!ok) {
      mismatches++;
      if (mismatches <= 5) t.log(`mismatch at ${rel}: want ${JSON.stringify(want)} got ${JSON.stringify(got)}`);
    }
  }
  t.is(mismatches, 0, 'type, mode, size and target agree with the source');
}

export interface DumpInode {
  size: number;
  nid: number;
  links: number;
  layout: number;
  mode: number;
  uid: number;
  gid: number;
}

/** `dump.erofs --nid=N`: the fields both tools report. */
export function dumpInode(image: string, nid: number): DumpInode {
  const out = dumpErofs([`--nid=${nid}`, image]);
  const num = (re: RegExp): number => {
    const m = re.exec(out);
    if (!m) throw new Error(`dump.erofs output lacks ${re}: ${out}`);
    return Number.parseInt(m[1], m[1].startsWith('0') && m[1].length > 1 ? 8 : 10);
  };
  return {
    size: num(/^Size: (\d+)/m),
    nid: num(/^NID: (\d+)/m),
    links: num(/Links: (\d+)/),
    layout: num(/Layout: (\d+)/),
    mode: num(/Access: (0\d+)/) & 0o777, // dump.erofs 1.5 shows only the rwx bits
    uid: num(/Uid: (\d+)/),
    gid: num(/Gid: (\d+)/),
  };
}

/** `dump.erofs --ls --nid=N`: name → nid, without '.' and '..'. */
export function dumpDir(image: string, nid: number): Map<string, number> {
  const out = dumpErofs(['--ls', `--nid=${nid}`, image]);
  const m = new Map<string, number>();
  let inTable = false;
  for (const line of out.split('\n')) {
    if (/^\s+NID\s+TYPE\s+FILENAME/.test(line)) {
      inTable = true;
      continue;
    }
    if (!inTable) continue;
    const r = /^\s*(\d+)\s+(\d+)\s{2}(.*)$/.exec(line);
    if (r && r[3] !== '.' && r[3] !== '..') m.set(r[3], Number(r[1]));
  }
  return m;
}
