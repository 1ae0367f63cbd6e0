// The differential pass: upstream erofs-utils' fsck.erofs as a second reader. For a mutated image that
// both our reader and `fsck.erofs --extract` accept, every regular file must be the same, path for path
// and byte for byte. A disagreement is a finding whichever side is wrong (an upstream bug is one too):
// the runner saves the image. Ours "accepts" when the reader pass met no typed error; only then is fsck
// run, and not when a file is over the read cap (a forged i_size would have fsck write gigabytes).
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fsckExtract, regularFilesUnder } from '../upstream/fsck.ts';
import type { ReaderResult } from './reader-pass.ts';
import type { DiffOutcome, Disagreement } from './outcome.ts';

export type { DiffOutcome, DiffStatus, Disagreement } from './outcome.ts';

export interface DifferentialConfig {
  readonly fsck: string;
  /** Scratch directory of this worker (the image file and the extraction go there). */
  readonly scratch: string;
  readonly timeoutMs: number;
}

/**
 * Upstream bugs the differential pass found, recognised by their evidence alone:
 * - fsck.erofs 1.9.3 `--extract` skips a hole with lseek(SEEK_CUR) and never extends the file to
 *   i_size (fsck/main.c erofs_verify_inode_data), so a file that ends in a hole comes out short. The
 *   evidence: upstream's bytes are a prefix of ours and everything past it is zero on our side (mapped
 *   zeros would have been written by fsck; only a hole is skipped).
 */
export const KNOWN_UPSTREAM_BUGS = {
  TRAILING_HOLE: 'fsck.erofs --extract truncates a file that ends in a hole (lseek past it, no ftruncate to i_size)',
} as const;

function trailingHoleCut(mine: Uint8Array, up: Uint8Array): boolean {
  if (up.length >= mine.length) return false;
  for (let i = 0; i < up.length; i++) if (up[i] !== mine[i]) return false;
  for (let i = up.length; i < mine.length; i++) if (mine[i] !== 0) return false;
  return true;
}

const MAX_REPORTED = 20;

export function differentialPass(
  bytes: Uint8Array,
  reader: ReaderResult,
  readerErrors: number,
  cap: number,
  cfg: DifferentialConfig,
): DiffOutcome {
  if (readerErrors > 0 || reader.img === undefined) return { status: 'ours-rejected', files: 0, disagreements: [] };
  if (reader.files.some((f) => f.size > cap) || reader.samples.size > 0)
    return { status: 'skipped', files: 0, disagreements: [], upstream: 'a file over the read cap' };
  mkdirSync(cfg.scratch, { recursive: true });
  const image = join(cfg.scratch, 'diff.img');
  const out = join(cfg.scratch, 'extract');
  rmSync(out, { recursive: true, force: true });
  writeFileSync(image, bytes);
  try {
    const r = fsckExtract(cfg.fsck, image, out, cfg.timeoutMs);
    if (!r.ok)
      return { status: r.timedOut ? 'skipped' : 'upstream-rejected', files: 0, disagreements: [], upstream: r.reason };
    const theirs = regularFilesUnder(out);
    const disagreements: Disagreement[] = [];
    const add = (d: Disagreement): void => {
      if (disagreements.length < MAX_REPORTED) disagreements.push(d);
    };
    let files = 0;
    const ours = new Set<string>();
    for (const f of reader.files) {
      ours.add(f.path);
      const p = theirs.get(f.path);
      if (p === undefined) {
        add({
          path: f.path,
          kind: 'only-ours',
          detail: `our reader lists a ${f.size}-byte file fsck.erofs did not extract`,
        });
        continue;
      }
      const mine = reader.data.get(f.nid);
      if (mine === undefined) continue; // read failed: then readerErrors > 0 and we never got here
      const up = readFileSync(p);
      files++;
      if (up.length !== mine.length) {
        const known = trailingHoleCut(mine, up) ? { upstreamBug: KNOWN_UPSTREAM_BUGS.TRAILING_HOLE } : {};
        add({
          path: f.path,
          kind: 'size',
          detail: `our reader ${mine.length} bytes, fsck.erofs ${up.length}`,
          ...known,
        });
      } else if (!up.equals(Buffer.from(mine.buffer, mine.byteOffset, mine.byteLength))) {
        let at = 0;
        while (up[at] === mine[at]) at++;
        add({
          path: f.path,
          kind: 'content',
          detail: `first difference at byte ${at} (ours 0x${mine[at].toString(16)}, fsck.erofs 0x${up[at].toString(16)})`,
        });
      }
    }
    for (const [path] of theirs)
      if (!ours.has(path))
        add({ path, kind: 'only-upstream', detail: 'fsck.erofs extracted a file our reader does not list' });
    return { status: 'compared', files, disagreements };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
