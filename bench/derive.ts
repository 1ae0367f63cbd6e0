// Bench data made from the bundled trees, kept under .cache/bench (built once, reused while present):
//  - copies of a tree (the kernel's tree figures need distinct files for each copy our cache mounts);
//  - versions derived from a tree by changing a fixed, seeded share of its files (one byte of each
//    changed file flipped, so sizes stay and every changed file's content differs from the original);
//  - a tar of many small files (the --scale million-files run).
// And the figure sharing must reach, computed from the source trees alone: pages of distinct content.
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  openSync,
  writeSync,
  closeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { defaultCacheDir } from '../packages/cli/src/image-cache.ts';

/** Beside the image cache ($ISHARE_CACHE, else .cache/images): .cache/bench. */
export function benchCacheDir(): string {
  return join(dirname(defaultCacheDir()), 'bench');
}
const PAGE = 4096;

function tag(src: string): string {
  return `${basename(src).replace(/[^A-Za-z0-9._-]/g, '_')}-${createHash('sha256').update(src).digest('hex').slice(0, 8)}`;
}

/** Build `dir` with `make(tmp)` unless it is there already (complete: built aside, then renamed). */
function once(dir: string, make: (tmp: string) => void): string {
  if (existsSync(dir)) return dir;
  mkdirSync(join(dir, '..'), { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  try {
    make(tmp);
    renameSync(tmp, dir);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return dir;
}

/** `n` copies of tree `src` (copy 0 is `src` itself). */
export function treeCopies(src: string, n: number): string[] {
  const out = [src];
  for (let i = 1; i < n; i++)
    out.push(
      once(join(benchCacheDir(), 'copies', `${tag(src)}.${i}`), (tmp) =>
        cpSync(src, tmp, { recursive: true, verbatimSymlinks: true }),
      ),
    );
  return out;
}

/**
 * `n` copies of each image file (copy 0: the images themselves), as copiesOf[c][i]: a cold pass over
 * several copies must find every copy's bytes on the disk, not the first copy's in the kernel's cache.
 * Image names carry their content key, so a copy of the same name is the same image.
 */
export function imageCopies(images: readonly string[], n: number): string[][] {
  const out: string[][] = [[...images]];
  for (let c = 1; c < n; c++) {
    out.push(
      images.map((img) => {
        const dst = join(benchCacheDir(), 'copies', `${basename(img, '.img')}.${c}.img`);
        if (!existsSync(dst)) {
          mkdirSync(dirname(dst), { recursive: true });
          const tmp = `${dst}.tmp-${process.pid}`;
          cpSync(img, tmp);
          renameSync(tmp, dst);
        }
        return dst;
      }),
    );
  }
  return out;
}

/** 32-bit hash of (seed, path): decides, reproducibly, whether and where a file changes. */
function h32(seed: number, s: string, salt: string): number {
  return createHash('sha256').update(`${seed}\0${salt}\0${s}`).digest().readUInt32LE(0);
}

/**
 * A version of tree `src` in which the share `fraction` (0..1) of its non-empty regular files, picked by
 * `seed`, differ from the original by one byte. Returns its directory.
 */
export function derivedTree(src: string, seed: number, fraction: number): string {
  const name = `${tag(src)}-s${seed}-p${Math.round(fraction * 1000)}`;
  return once(join(benchCacheDir(), 'derived', name), (tmp) => {
    const walk = (from: string, to: string, rel: string): void => {
      mkdirSync(to, { recursive: true });
      for (const e of readdirSync(from).sort()) {
        const p = join(from, e);
        const q = join(to, e);
        const r = `${rel}/${e}`;
        const st = lstatSync(p);
        if (st.isDirectory()) walk(p, q, r);
        else if (st.isSymbolicLink()) symlinkSync(readlinkSync(p), q);
        else if (st.isFile()) {
          const data = readFileSync(p);
          if (data.length > 0 && h32(seed, r, 'pick') / 2 ** 32 < fraction) {
            const at = h32(seed, r, 'at') % data.length;
            data[at] ^= 1 + (h32(seed, r, 'x') % 255);
          }
          writeFileSync(q, data);
        }
      }
    };
    walk(src, tmp, '');
  });
}

/**
 * Page-cache pages that perfect sharing needs for these trees: one page cache per distinct content
 * (sha256 and size) of a regular file, in whole pages. Hard links are the same content and count once.
 */
export function distinctContentPages(trees: readonly string[]): { files: number; pages: number; allPages: number } {
  const seen = new Set<string>();
  let files = 0;
  let pages = 0;
  let allPages = 0;
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir)) {
      const p = join(dir, e);
      const st = lstatSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) {
        files++;
        const n = Math.ceil(st.size / PAGE);
        allPages += n;
        const key = `${st.size}:${createHash('sha256').update(readFileSync(p)).digest('hex')}`;
        if (!seen.has(key)) pages += n;
        seen.add(key);
      }
    }
  };
  for (const t of trees) walk(t);
  return { files, pages, allPages };
}

/** Size of small file number i of smallFilesTar. */
export function smallFileSize(i: number): number {
  return 32 + ((Math.imul(i + 1, 0x9e3779b1) >>> 24) & 0xff);
}

/** A ustar header for a regular file or a directory. */
function tarHeader(name: string, size: number, dir: boolean): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write(dir ? '0000755\0' : '0000644\0', 100, 'ascii');
  h.write('0000000\0', 108, 'ascii');
  h.write('0000000\0', 116, 'ascii');
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'ascii');
  h.write(`${(1_700_000_000).toString(8).padStart(11, '0')}\0`, 136, 'ascii');
  h.write('        ', 148, 'ascii');
  h.write(dir ? '5' : '0', 156, 'ascii');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += h[i];
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return h;
}

/**
 * A tar of `count` small files (seeded content of 32..287 bytes, all different), 1000 per directory.
 * Returns its path and the files' total bytes.
 */
export function smallFilesTar(count: number): { tar: string; bytes: number } {
  const tar = join(benchCacheDir(), `small-${count}.tar`);
  let bytes = 0;
  const sizeOf = smallFileSize;
  for (let i = 0; i < count; i++) bytes += sizeOf(i);
  if (existsSync(tar)) return { tar, bytes };
  mkdirSync(benchCacheDir(), { recursive: true });
  const tmp = `${tar}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    const zero = Buffer.alloc(512);
    const body = Buffer.alloc(512);
    for (let i = 0; i < count; i++) {
      if (i % 1000 === 0) writeSync(fd, tarHeader(`d${i / 1000}/`, 0, true));
      const size = sizeOf(i);
      body.fill(0);
      // Distinct content: the file's number, then bytes derived from it.
      body.write(`file ${i}\n`, 0, 'ascii');
      for (let j = 16; j < size; j++) body[j] = 97 + ((Math.imul(i + 1, 31) + j * 7) % 26);
      writeSync(fd, tarHeader(`d${Math.floor(i / 1000)}/f${i}`, size, false));
      writeSync(fd, body);
    }
    writeSync(fd, zero);
    writeSync(fd, zero);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, tar);
  return { tar, bytes };
}
