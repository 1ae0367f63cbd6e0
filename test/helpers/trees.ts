// Shared test fixtures: real source trees on disk that exercise the EROFS format's edge cases.
// Used by the reader, writer, kernel and CLI tests. Deterministic (seeded bytes, fixed mtimes).
import {
  mkdirSync,
  writeFileSync,
  symlinkSync,
  linkSync,
  utimesSync,
  mkdtempSync,
  rmSync,
  readdirSync,
  lstatSync,
  readlinkSync,
  readFileSync,
} from 'node:fs';
import { createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Deterministic pseudo-random bytes (xorshift32), so trees are identical run to run. */
export function seededBytes(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed | 0 || 0x9e3779b9;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

export function tempDir(prefix = 'ishare-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** True when `setfattr` exists and the filesystem under `dir` takes user.* and trusted.* xattrs. */
export function xattrsSupported(dir: string): boolean {
  const probe = join(dir, '.xattr-probe');
  writeFileSync(probe, '');
  try {
    const r1 = spawnSync('setfattr', ['-n', 'user.probe', '-v', '1', probe]);
    const r2 = spawnSync('setfattr', ['-n', 'trusted.probe', '-v', '1', probe]);
    return r1.status === 0 && r2.status === 0;
  } catch {
    return false;
  } finally {
    rmSync(probe, { force: true });
  }
}

export function setXattr(path: string, name: string, value: string): void {
  execFileSync('setfattr', ['-h', '-n', name, '-v', value, path]);
}

export interface TreeOptions {
  /** Add > 1000 entries to one directory (multi-block directory). Default true. */
  bigDir?: boolean;
  /** Add a multi-MiB file. Default true. */
  bigFile?: boolean;
  /** Set xattrs (needs setfattr and a filesystem that takes them). Default: when supported. */
  xattrs?: boolean;
  /** Block size the boundary sizes are chosen around. Default 4096. */
  blockSize?: number;
  /**
   * Length of the longest file name. Default 254: mkfs.erofs 1.5 fails ("Could not format the device")
   * on a 255-byte name, so trees meant for it stay one byte short; our own writer's tests ask for 255.
   */
  longName?: number;
}

const FIXED_MTIME = 1_700_000_000;

/**
 * Build the edge-case tree under `root` (which must exist and be empty). Returns the relative paths
 * of what it made, by kind, so tests can assert on them.
 */
export function makeEdgeTree(root: string, opts: TreeOptions = {}): { files: string[]; xattrs: boolean } {
  const bs = opts.blockSize ?? 4096;
  const files: string[] = [];
  const w = (rel: string, data: Buffer | string, mode = 0o644): void => {
    writeFileSync(join(root, rel), data, { mode });
    files.push(rel);
  };
  mkdirSync(join(root, 'sizes'), { recursive: true });
  w('empty', '');
  w('one-byte', 'x');
  let seed = 1;
  for (const n of [
    bs - 1,
    bs,
    bs + 1,
    2 * bs - 1,
    2 * bs,
    2 * bs + 1,
    3 * bs + 100,
    100,
    511,
    512,
    513,
    1023,
    1024,
    4095,
    4097,
  ]) {
    w(`sizes/f${n}`, seededBytes(n, seed++));
  }
  if (opts.bigFile !== false) w('big.bin', seededBytes(3 * 1024 * 1024 + 777, 4242));
  // Identical contents in two places (what page-cache sharing later dedups).
  w('dup-a', seededBytes(10_000, 99));
  w('dup-b', seededBytes(10_000, 99));
  w('exec.sh', '#!/bin/sh\necho hi\n', 0o755);
  // Deep directories.
  let deep = 'deep';
  for (let i = 0; i < 12; i++) deep = join(deep, `level${i}`);
  mkdirSync(join(root, deep), { recursive: true });
  w(join(deep, 'leaf.txt'), 'deep leaf\n');
  // Long and UTF-8 names.
  mkdirSync(join(root, 'names'));
  w(join('names', 'L'.repeat(opts.longName ?? 254)), 'long name');
  w(join('names', 'héllo wörld ✓ 日本語.txt'), 'utf8 name');
  w(join('names', 'space name'), 'space');
  // Symlinks (relative, absolute, dangling, to a dir) and hard links.
  mkdirSync(join(root, 'links'));
  symlinkSync('../one-byte', join(root, 'links', 'rel'));
  symlinkSync('/etc/passwd', join(root, 'links', 'abs'));
  symlinkSync('does-not-exist', join(root, 'links', 'dangling'));
  symlinkSync('../deep', join(root, 'links', 'dirlink'));
  symlinkSync('T'.repeat(1000), join(root, 'links', 'longtarget'));
  writeFileSync(join(root, 'links', 'hard-a'), 'hard linked\n');
  linkSync(join(root, 'links', 'hard-a'), join(root, 'links', 'hard-b'));
  files.push('links/hard-a', 'links/hard-b');
  mkdirSync(join(root, 'emptydir'));
  mkdirSync(join(root, 'modes'));
  w(join('modes', 'ro'), 'read only', 0o400);
  w(join('modes', 'setuid'), 'setuid', 0o4755);
  if (opts.bigDir !== false) {
    mkdirSync(join(root, 'bigdir'));
    for (let i = 0; i < 1200; i++)
      w(join('bigdir', `entry-${String(i).padStart(5, '0')}-${'n'.repeat(i % 40)}`), `e${i}`);
  }
  let xattrs = false;
  if (opts.xattrs !== false && xattrsSupported(root)) {
    setXattr(join(root, 'one-byte'), 'user.short', 'v');
    setXattr(join(root, 'one-byte'), 'user.long-' + 'k'.repeat(100), 'V'.repeat(1500));
    setXattr(join(root, 'sizes', `f${bs}`), 'trusted.overlay.opaque', 'y');
    setXattr(join(root, 'dup-a'), 'user.same', 'shared-value');
    setXattr(join(root, 'dup-b'), 'user.same', 'shared-value');
    setXattr(join(root, 'emptydir'), 'user.dir', 'on a dir');
    setXattr(join(root, 'names'), 'security.label', 'sec');
    xattrs = true;
  }
  // Fixed mtimes so images are reproducible; directories last (writing children bumps them).
  for (const f of files) utimesSync(join(root, f), FIXED_MTIME, FIXED_MTIME);
  const dirs: string[] = [];
  const collect = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) {
        collect(join(d, e.name));
        dirs.push(join(d, e.name));
      }
    }
  };
  collect(root);
  for (const d of dirs) utimesSync(d, FIXED_MTIME, FIXED_MTIME);
  utimesSync(root, FIXED_MTIME, FIXED_MTIME);
  return { files, xattrs };
}

export interface TreeEntry {
  type: 'file' | 'dir' | 'symlink' | 'other';
  mode: number; // permission bits + setuid etc. (st_mode & 0o7777)
  size: number;
  sha256?: string;
  target?: string;
}

/** A comparable snapshot of a directory tree: relative path → entry. */
export function snapshotTree(root: string): Map<string, TreeEntry> {
  const out = new Map<string, TreeEntry>();
  const walk = (rel: string): void => {
    const abs = rel ? join(root, rel) : root;
    for (const name of readdirSync(abs).sort()) {
      const r = rel ? join(rel, name) : name;
      const st = lstatSync(join(root, r));
      const mode = st.mode & 0o7777;
      if (st.isSymbolicLink()) out.set(r, { type: 'symlink', mode, size: 0, target: readlinkSync(join(root, r)) });
      else if (st.isDirectory()) {
        out.set(r, { type: 'dir', mode, size: 0 });
        walk(r);
      } else if (st.isFile())
        out.set(r, {
          type: 'file',
          mode,
          size: st.size,
          sha256: createHash('sha256')
            .update(readFileSync(join(root, r)))
            .digest('hex'),
        });
      else out.set(r, { type: 'other', mode, size: 0 });
    }
  };
  walk('');
  return out;
}

export function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

/** Distinct inodes of non-empty regular files under `root`: the files mkfs fingerprints. */
export function nonEmptyFileInodes(root: string): number {
  const seen = new Set<string>();
  const walk = (abs: string): void => {
    for (const name of readdirSync(abs)) {
      const p = join(abs, name);
      const st = lstatSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && st.size > 0) seen.add(`${st.dev}:${st.ino}`);
    }
  };
  walk(root);
  return seen.size;
}
