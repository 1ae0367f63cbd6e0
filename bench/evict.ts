// Making the kernel's page cache cold for a set of files. Preferred: drop exactly those files' pages
// (posix_fadvise DONTNEED, reached through python3's os.posix_fadvise — one process for thousands of files — or GNU dd's iflag=nocache, since Node has no fadvise). It needs
// no privilege, leaves the rest of a shared machine's cache alone, and drops data only — the same thing
// our own dropCaches() drops (neither side forgets its parsed metadata). Fallback: drop_caches as root.
// Whichever is used is checked once with fincore, when fincore exists.
import { runCommand } from './spawn.ts';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

export type EvictMethod =
  'fadvise (python3 os.posix_fadvise)' | 'fadvise (dd iflag=nocache)' | 'drop_caches (echo 1, root)';

export interface Evictor {
  readonly method: EvictMethod;
  /** What the startup check saw: "fincore: 0 of N bytes resident after eviction", or why unchecked. */
  readonly verified: string;
  evict(paths: readonly string[]): void;
}

const DD_LOOP = 'for f in "$@"; do dd if="$f" iflag=nocache count=0 status=none || exit 1; done';

function fadviseEvict(paths: readonly string[]): void {
  // One shell for the whole list: a spawn per file from Node would cost more than the reads.
  for (let i = 0; i < paths.length; i += 500) {
    const r = runCommand('bash', ['-c', DD_LOOP, 'evict', ...paths.slice(i, i + 500)]);
    if (r.status !== 0)
      throw new Error(`cache eviction failed: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim()}`);
  }
}

// The same fadvise from one python3 for the whole list: a dd per file cost seconds for the thousands of
// files of the copied trees, and more on a loaded machine.
const PY_EVICT =
  'import os,sys\nfor p in sys.argv[1:]:\n fd=os.open(p,os.O_RDONLY)\n try: os.posix_fadvise(fd,0,0,os.POSIX_FADV_DONTNEED)\n finally: os.close(fd)\n';

// The system's interpreter when there is one (a pyenv shim in PATH adds a shell script per spawn).
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

function pythonEvict(paths: readonly string[]): void {
  for (let i = 0; i < paths.length; i += 2000) {
    const r = runCommand(PYTHON, ['-c', PY_EVICT, ...paths.slice(i, i + 2000)]);
    if (r.status !== 0)
      throw new Error(`cache eviction failed: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim()}`);
  }
}

function dropCachesEvict(): void {
  runCommand('sync', []);
  // 1 = page cache only: dentries and inodes stay, as our parsed metadata does.
  writeFileSync('/proc/sys/vm/drop_caches', '1');
}

/** Resident bytes of a file by fincore, or undefined when fincore cannot tell. */
export function residentBytes(path: string): number | undefined {
  const r = runCommand('fincore', ['--bytes', '--noheadings', '--output', 'RES', path]);
  if (r.status !== 0 || r.error) return undefined;
  const n = Number(r.stdout.trim());
  return Number.isFinite(n) ? n : undefined;
}

function check(
  method: EvictMethod,
  probe: string,
  evict: (p: readonly string[]) => void,
): { ok: boolean; verified: string } {
  const size = readFileSync(probe).length; // make it resident first
  evict([probe]);
  const res = residentBytes(probe);
  if (res === undefined)
    return { ok: true, verified: `${method}: ran without error (fincore unavailable, not verified)` };
  // A little may be read back by someone else in between; most of it must have gone.
  return {
    ok: res <= size / 10,
    verified: `fincore: ${res} of ${size} bytes of the probe file resident after eviction`,
  };
}

/** An evictor that works here, or the reason none does. `probe`: a file of at least a few pages. */
export function detectEvictor(probe: string): { evictor?: Evictor; reason?: string } {
  const reasons: string[] = [];
  try {
    const c = check('fadvise (python3 os.posix_fadvise)', probe, pythonEvict);
    if (c.ok)
      return { evictor: { method: 'fadvise (python3 os.posix_fadvise)', verified: c.verified, evict: pythonEvict } };
    reasons.push(`python3 fadvise left the probe cached (${c.verified})`);
  } catch (e) {
    reasons.push(`python3 fadvise: ${(e as Error).message.split('\n')[0]}`);
  }
  try {
    const c = check('fadvise (dd iflag=nocache)', probe, fadviseEvict);
    if (c.ok) return { evictor: { method: 'fadvise (dd iflag=nocache)', verified: c.verified, evict: fadviseEvict } };
    reasons.push(`fadvise left the probe cached (${c.verified})`);
  } catch (e) {
    reasons.push(`fadvise: ${(e as Error).message}`);
  }
  try {
    const c = check('drop_caches (echo 1, root)', probe, dropCachesEvict);
    if (c.ok)
      return { evictor: { method: 'drop_caches (echo 1, root)', verified: c.verified, evict: dropCachesEvict } };
    reasons.push(`drop_caches left the probe cached (${c.verified})`);
  } catch (e) {
    reasons.push(`drop_caches: ${(e as Error).message.split('\n')[0]}`);
  }
  return { reason: reasons.join('; ') };
}
