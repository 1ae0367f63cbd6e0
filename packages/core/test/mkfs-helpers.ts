// Helpers shared by the mkfs-*.test.ts files: ways to look at an image we wrote through something
// other than our writer (fsck.erofs, the kernel, the reader) and compare with the source tree.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ErofsImage } from '@ishare/core/format';
import { hasCommand, type TreeEntry } from '../../../test/helpers/trees.ts';
import { upstreamTool } from '../../../test/helpers/erofs-utils.ts';

export const FSCK = hasCommand('fsck.erofs');
export const GETFATTR = hasCommand('getfattr');

export interface FsckResult {
  ok: boolean;
  /** Which fsck.erofs judged: Debian's 1.5, or upstream 1.9.3 when 1.5 does not know the format. */
  tool: '1.5' | '1.9.3';
  /** fsck.erofs refused the block size (erofs-utils 1.5 only knows 4096 on a 4 KiB-page machine). */
  blockSizeUnsupported: boolean;
  output: string;
}

/**
 * fsck.erofs (Debian's 1.5) on an image. Images with fingerprints carry INCOMPAT_XATTR_PREFIXES
 * (upstream's format, as mkfs.erofs --xattr-inode-digest writes it), which 1.5 refuses as an unknown
 * incompatible feature: those go to upstream 1.9.3, which also verifies the digests.
 */
export function fsck(img: string, extractTo?: string): FsckResult {
  const args = extractTo ? [`--extract=${extractTo}`, img] : [img];
  const r = spawnSync('fsck.erofs', args, { encoding: 'utf8' });
  const output = `${r.stdout}${r.stderr}`;
  if (/unidentified incompatible feature 40\b/.test(output)) {
    const u = spawnSync(upstreamTool('fsck.erofs'), ['--xattr-inode-digest', ...args], { encoding: 'utf8' });
    return { ok: u.status === 0, tool: '1.9.3', blockSizeUnsupported: false, output: `${u.stdout}${u.stderr}` };
  }
  return { ok: r.status === 0, tool: '1.5', blockSizeUnsupported: /blksize \d+ isn't supported/.test(output), output };
}

/** What snapshotTree() would say about the image, seen through our reader. */
export function readerSnapshot(img: string): Map<string, TreeEntry> {
  const im = ErofsImage.open(img);
  try {
    const out = new Map<string, TreeEntry>();
    for (const { path, inode } of im.walk()) {
      if (path === '/') continue;
      const rel = path.slice(1);
      const mode = inode.mode & 0o7777;
      if (inode.type === 'file') {
        const data = im.readFile(inode);
        out.set(rel, { type: 'file', mode, size: inode.size, sha256: createHash('sha256').update(data).digest('hex') });
      } else if (inode.type === 'dir') out.set(rel, { type: 'dir', mode, size: 0 });
      else if (inode.type === 'symlink') out.set(rel, { type: 'symlink', mode, size: 0, target: im.readlink(inode) });
      else out.set(rel, { type: 'other', mode, size: 0 });
    }
    return new Map([...out].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  } finally {
    im.close();
  }
}

/** Sorted plain object, so ava's deepEqual diff is readable. */
export function asObject(m: Map<string, unknown>): Record<string, unknown> {
  return Object.fromEntries([...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** relative path → xattr name → hex value, from one getfattr run (symlinks examined themselves). */
export function xattrTable(root: string, opts: { skip?: string } = {}): Record<string, Record<string, string>> {
  const out = execFileSync('getfattr', ['-R', '-h', '-P', '-d', '-m', '-', '-e', 'hex', '--absolute-names', root], {
    encoding: 'latin1',
    maxBuffer: 1 << 28,
  });
  const table: Record<string, Record<string, string>> = {};
  let cur: Record<string, string> | undefined;
  for (const line of out.split('\n')) {
    if (line.startsWith('# file: ')) {
      const abs = line.slice(8);
      const rel = abs === root ? '.' : abs.slice(root.length + 1);
      cur = {};
      table[Buffer.from(rel, 'latin1').toString('utf8')] = cur;
    } else if (line && cur) {
      const eq = line.indexOf('=');
      const name = line.slice(0, eq);
      if (opts.skip && name === opts.skip) continue;
      cur[name] = line.slice(eq + 1);
    }
  }
  for (const k of Object.keys(table)) if (Object.keys(table[k]).length === 0) delete table[k];
  return table;
}

/** xattrs of every inode as the reader sees them, same shape as xattrTable. */
export function readerXattrs(img: string, opts: { skip?: string } = {}): Record<string, Record<string, string>> {
  const im = ErofsImage.open(img);
  try {
    const table: Record<string, Record<string, string>> = {};
    for (const { path, inode } of im.walk()) {
      const xs = im.xattrs(inode).filter((x) => x.name !== opts.skip);
      if (xs.length === 0) continue;
      table[path === '/' ? '.' : path.slice(1)] = Object.fromEntries(
        xs.map((x) => [x.name, `0x${Buffer.from(x.value).toString('hex')}`]),
      );
    }
    return table;
  } finally {
    im.close();
  }
}

/** Leftover temp files mkfs would have made beside an output in `dir`. */
export function tempLeftovers(dir: string): string[] {
  return readdirSync(dir).filter((n) => n.includes('.ishare-mkfs-'));
}

export type MountResult = { mounted: true; dir: string; unmount: () => void } | { mounted: false; reason: string };

/** Loop-mount an image read-only when we are root and the kernel takes EROFS; else say why not. */
export function tryMount(img: string, dir: string): MountResult {
  if (process.getuid?.() !== 0) return { mounted: false, reason: 'not running as root' };
  mkdirSync(dir, { recursive: true });
  const r = spawnSync('mount', ['-t', 'erofs', '-o', 'loop,ro', img, dir], { encoding: 'utf8' });
  if (r.status !== 0)
    return { mounted: false, reason: `mount -t erofs failed: ${(r.stderr || r.error?.message || '').trim()}` };
  return {
    mounted: true,
    dir,
    unmount: () => {
      execFileSync('umount', [dir]);
    },
  };
}

export { join };
