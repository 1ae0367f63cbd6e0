// The default seed corpus: one small tree that holds every structure worth damaging (inline tails,
// a multi-block directory, symlinks, a hard link, xattrs inline and shared, duplicate contents, a
// sparse file), built by our mkfs (4 KiB and 1 KiB blocks) and, when installed, by mkfs.erofs
// (default, chunk-based, extended inodes, both; lz4-compressed layouts). Small on purpose: every image is walked and read whole.
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
  writeSync,
  ftruncateSync,
  rmSync,
} from 'node:fs';
import { join } from 'node:path';
import { mkfs } from '../erofs/mkfs/index.ts';

export interface CorpusImage {
  readonly name: string;
  readonly path: string;
}

export interface Corpus {
  readonly images: CorpusImage[];
  /** Seeds that could not be built, and why (mkfs.erofs missing...). */
  readonly skipped: string[];
  /** Whether the tree carries xattrs (setfattr present and the filesystem takes them). */
  readonly xattrs: boolean;
}

const FIXED_TIME = 1_700_000_000;
const UUID = '69736861-7265-4675-7a7a-000000000001';

/** Deterministic filler bytes (xorshift32). */
function bytes(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed | 0 || 0x2545f491;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

function setXattr(path: string, name: string, value: string): boolean {
  const r = spawnSync('setfattr', ['-h', '-n', name, '-v', value, path]);
  return r.status === 0;
}

/** Write the fuzzing tree under `root` (created). Returns whether xattrs could be set. */
export function writeFuzzTree(root: string): boolean {
  mkdirSync(root, { recursive: true });
  const files: string[] = [];
  const w = (rel: string, data: Buffer | string): void => {
    writeFileSync(join(root, rel), data);
    files.push(rel);
  };
  w('empty', '');
  w('one-byte', 'x');
  w('small.txt', 'a small file with an inline tail\n');
  let seed = 1;
  for (const n of [100, 700, 1023, 1025, 4095, 4097, 8292]) w(`f${n}`, bytes(n, seed++));
  // Compressible text (several pclusters in compressed seeds; its copy shares them under dedupe).
  let text = '';
  for (let i = 0; text.length < 24_000; i++) text += `line ${i} of a compressible file ${(i * 7919) % 997}\n`;
  w('text.txt', text.slice(0, 24_000));
  w('text-copy.txt', text.slice(0, 24_000));
  w('dup-a', bytes(6000, 77));
  w('dup-b', bytes(6000, 77));
  // A sparse file: data, a 12 KiB hole, data (holes become null chunks in chunk-based images).
  const fd = openSync(join(root, 'sparse'), 'w');
  writeSync(fd, bytes(3000, 9), 0, 3000, 0);
  writeSync(fd, bytes(2000, 10), 0, 2000, 16384);
  ftruncateSync(fd, 20000);
  closeSync(fd);
  files.push('sparse');
  // Only its last chunk holds data: made huge by the grow-file mutation, it stays readable.
  const tail = openSync(join(root, 'tail-only'), 'w');
  writeSync(tail, bytes(1000, 11), 0, 1000, 8192);
  closeSync(tail);
  files.push('tail-only');
  mkdirSync(join(root, 'deep', 'a', 'b'), { recursive: true });
  w(join('deep', 'a', 'b', 'leaf.txt'), 'deep leaf\n');
  // Enough entries for several directory blocks at 4 KiB (and many at 1 KiB).
  mkdirSync(join(root, 'many'));
  for (let i = 0; i < 160; i++)
    w(join('many', `entry-${String(i).padStart(3, '0')}-${'n'.repeat(i % 24)}`), i % 3 === 0 ? '' : `e${i}`);
  mkdirSync(join(root, 'links'));
  symlinkSync('../one-byte', join(root, 'links', 'rel'));
  symlinkSync('/etc/passwd', join(root, 'links', 'abs'));
  symlinkSync('missing', join(root, 'links', 'dangling'));
  symlinkSync('../deep', join(root, 'links', 'dirlink'));
  symlinkSync('T'.repeat(300), join(root, 'links', 'long'));
  w(join('links', 'hard-a'), 'hard linked\n');
  linkSync(join(root, 'links', 'hard-a'), join(root, 'links', 'hard-b'));
  mkdirSync(join(root, 'emptydir'));
  let xattrs = setXattr(join(root, 'one-byte'), 'user.short', 'v');
  if (xattrs) {
    setXattr(join(root, 'small.txt'), 'user.long-' + 'k'.repeat(40), 'V'.repeat(600));
    setXattr(join(root, 'f100'), 'trusted.overlay.opaque', 'y');
    setXattr(join(root, 'deep'), 'security.label', 'sec');
    setXattr(join(root, 'emptydir'), 'user.dir', 'on a dir');
    // The same xattr on many inodes: what mkfs.erofs puts in the shared xattr area.
    for (const f of ['dup-a', 'dup-b', 'f700', 'f1025', ...files.filter((f) => f.startsWith('many')).slice(0, 12)]) {
      xattrs = setXattr(join(root, f), 'user.same', 'a shared value') && xattrs;
    }
  }
  for (const f of files) utimesSync(join(root, f), FIXED_TIME, FIXED_TIME);
  for (const d of ['deep/a/b', 'deep/a', 'deep', 'many', 'links', 'emptydir', '.'])
    utimesSync(join(root, d), FIXED_TIME, FIXED_TIME);
  return xattrs;
}

function hasMkfsErofs(): boolean {
  const r = spawnSync('mkfs.erofs', ['--help'], { stdio: 'ignore' });
  return r.error === undefined;
}

/** Build the default seed images into `dir` (which must exist). */
export async function buildCorpus(dir: string): Promise<Corpus> {
  const src = join(dir, 'tree');
  rmSync(src, { recursive: true, force: true });
  const xattrs = writeFuzzTree(src);
  const images: CorpusImage[] = [];
  const skipped: string[] = [];
  for (const bs of [4096, 1024]) {
    const path = join(dir, `ishare-${bs}.img`);
    await mkfs({ out: path, source: src, blockSize: bs, timestamp: FIXED_TIME, uuid: UUID });
    images.push({ name: `ishare-mkfs-${bs}`, path });
  }
  if (!hasMkfsErofs()) {
    skipped.push('mkfs.erofs seeds: mkfs.erofs is not installed');
  } else {
    const variants: [string, string[]][] = [
      ['mkfs.erofs', []],
      ['mkfs.erofs-chunk4096', ['--chunksize=4096']],
      ['mkfs.erofs-xattr-extended', ['-x1', '-Eforce-inode-extended']],
      ['mkfs.erofs-chunk-extended', ['--chunksize=4096', '-Eforce-inode-extended']],
      // Compressed (Debian's mkfs.erofs writes lz4): compact and full indexes, big pclusters, inline
      // (ztailpacking) pclusters, fragments in the packed inode, deduplicated extents.
      ['mkfs.erofs-lz4hc-ztail', ['-zlz4hc', '-Eztailpacking']],
      ['mkfs.erofs-lz4-big-frag-dedupe', ['-zlz4', '-C16384', '-Efragments,dedupe']],
      ['mkfs.erofs-lz4-legacy', ['-zlz4', '-Elegacy-compress']],
    ];
    for (const [name, extra] of variants) {
      const path = join(dir, `${name}.img`);
      const r = spawnSync('mkfs.erofs', ['--quiet', `-T${FIXED_TIME}`, `-U${UUID}`, ...extra, path, src], {
        encoding: 'utf8',
      });
      if (r.status === 0) images.push({ name, path });
      else skipped.push(`${name}: mkfs.erofs failed: ${(r.stderr || r.error?.message || '').trim().split('\n')[0]}`);
    }
  }
  return { images, skipped, xattrs };
}

export function readImage(path: string): Uint8Array {
  return new Uint8Array(readFileSync(path));
}
