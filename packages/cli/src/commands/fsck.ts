// `ishare fsck IMG`: check an image as fsck.erofs does — walk every directory, parse every inode, read
// every byte of every file and symlink — and verify each file's content fingerprint against the data
// it holds (fsck.erofs --xattr-inode-digest). Problems are collected, not fatal: one corrupt directory
// does not hide the rest of the tree.
import { createHash } from 'node:crypto';
import type { Command } from 'commander';
import { FT, isErofsError, type DirEntry, type ErofsInode, type FileType } from '../core.ts';
import type { ErofsImage } from '../engine.ts';
import { CheckFailed, UsageError } from '../errors.ts';
import { imagePath, lookup, withImage } from '../image.ts';
import { humanBytes } from '../format.ts';
import { writeOut } from '../output.ts';
import { progressBar } from '../progress.ts';

export interface FsckProblem {
  readonly path: string;
  readonly nid: number;
  readonly message: string;
}

export interface FsckReport {
  readonly image: string;
  /** Where the check started ('/' for the whole image). */
  readonly path: string;
  /** Distinct inodes checked. */
  readonly inodes: number;
  readonly dirs: number;
  readonly files: number;
  readonly symlinks: number;
  readonly others: number;
  /** Directory entries naming an inode already checked. */
  readonly hardlinks: number;
  /** File bytes read (each inode once). */
  readonly bytes: number;
  /** Files whose fingerprint matched the sha256 of their data. */
  readonly fingerprintsVerified: number;
  /** Regular files with no fingerprint (nothing to verify; not an error, as fsck.erofs only warns). */
  readonly withoutFingerprint: number;
  readonly superblockChecksum: 'verified' | 'absent';
  readonly problems: FsckProblem[];
  /** Inodes using a feature the reader does not implement (e.g. compression): not checked, not corrupt. */
  readonly unchecked: FsckProblem[];
}

// Read files in pieces: a multi-GiB file never sits in memory whole.
const CHUNK = 1 << 20;

const FT_TYPE: Record<number, FileType> = {
  [FT.REG_FILE]: 'file',
  [FT.DIR]: 'dir',
  [FT.CHRDEV]: 'chardev',
  [FT.BLKDEV]: 'blockdev',
  [FT.FIFO]: 'fifo',
  [FT.SOCK]: 'socket',
  [FT.SYMLINK]: 'symlink',
};

function unsupported(e: unknown): boolean {
  return isErofsError(e) && e.code === 'EUNSUPPORTED';
}

function message(e: unknown): string {
  if (isErofsError(e) || e instanceof Error) return e.message.split('\n')[0];
  return String(e);
}

/**
 * The reader returns the fingerprint xattr's value as hex: either the bare 32-byte sha256 or, as
 * erofs-utils writes it, "sha256:" followed by the 32 bytes. Both name the same digest.
 */
export function fingerprintMatches(fingerprint: string, digest: Buffer): boolean {
  const hex = digest.toString('hex');
  return fingerprint === hex || fingerprint === Buffer.concat([Buffer.from('sha256:'), digest]).toString('hex');
}

function sha256Of(img: ErofsImage, inode: ErofsInode): { digest: Buffer; bytes: number } {
  const h = createHash('sha256');
  const buf = new Uint8Array(Math.min(CHUNK, Math.max(1, inode.size)));
  let bytes = 0;
  for (let off = 0; off < inode.size; off += CHUNK) {
    const want = Math.min(CHUNK, inode.size - off);
    const view = want === buf.length ? buf : buf.subarray(0, want);
    const n = img.readInto(inode, view, off);
    if (n !== want) throw new Error(`short read at offset ${off}: ${n} of ${want} bytes`);
    h.update(view);
    bytes += n;
  }
  return { digest: h.digest(), bytes };
}

/** One check of an image: the walk over directories and the tallies and problems it gathers. */
class FsckWalk {
  readonly problems: FsckProblem[] = [];
  readonly unchecked: FsckProblem[] = [];
  readonly checked = new Set<number>();
  readonly seenDirs = new Set<number>();
  dirs = 0;
  files = 0;
  symlinks = 0;
  others = 0;
  hardlinks = 0;
  bytes = 0;
  verified = 0;
  withoutFingerprint = 0;

  // Progress in inodes of the superblock's count: known only for a check of the whole image.
  private readonly inodes: number;

  constructor(
    private readonly img: ErofsImage,
    private readonly progress?: (done: number, total: number) => void,
  ) {
    this.inodes = Math.max(1, img.sb.inos);
  }

  /**
   * A regular file: every byte read, its fingerprint (if any) compared with the data's sha256. False
   * when its data or xattrs could not be read (the problem is recorded; nothing more to check).
   */
  private checkFile(path: string, inode: ErofsInode): boolean {
    this.files++;
    let digest: Buffer;
    try {
      const r = sha256Of(this.img, inode);
      digest = r.digest;
      this.bytes += r.bytes;
    } catch (e) {
      (unsupported(e) ? this.unchecked : this.problems).push({
        path,
        nid: inode.nid,
        message: `data unreadable: ${message(e)}`,
      });
      return false;
    }
    let fp: string | undefined;
    try {
      fp = this.img.fingerprint(inode);
    } catch (e) {
      this.problems.push({ path, nid: inode.nid, message: `xattrs unreadable: ${message(e)}` });
      return false;
    }
    if (fp === undefined) this.withoutFingerprint++;
    else if (fingerprintMatches(fp, digest)) this.verified++;
    else
      this.problems.push({
        path,
        nid: inode.nid,
        message: `fingerprint MISMATCH: data sha256 ${digest.toString('hex')}, fingerprint ${fp}`,
      });
    return true;
  }

  /** An inode that is not a directory, checked once however many entries name it. */
  checkInode(path: string, inode: ErofsInode): void {
    this.progress?.(Math.min(this.checked.size, this.inodes), this.inodes);
    if (inode.type === 'file') {
      if (!this.checkFile(path, inode)) return;
    } else if (inode.type === 'symlink') {
      this.symlinks++;
      try {
        this.img.readlink(inode);
      } catch (e) {
        this.problems.push({ path, nid: inode.nid, message: `symlink target unreadable: ${message(e)}` });
      }
    } else if (inode.type !== 'dir') {
      this.others++;
    }
    if (inode.type !== 'dir') {
      // Xattrs are metadata every inode may carry; a broken xattr area is corruption too.
      try {
        this.img.xattrs(inode);
      } catch (e) {
        this.problems.push({ path, nid: inode.nid, message: `xattrs unreadable: ${message(e)}` });
      }
    }
  }

  /** One entry of a directory: '.' and '..' checked, the inode parsed and its type matched, then visited. */
  private checkEntry(path: string, dir: ErofsInode, parentNid: number, d: DirEntry): void {
    const child = path === '/' ? `/${d.name}` : `${path}/${d.name}`;
    if (d.name === '.' || d.name === '..') {
      const want = d.name === '.' ? dir.nid : parentNid;
      if (d.nid !== want)
        this.problems.push({
          path: child,
          nid: d.nid,
          message: `"${d.name}" points to nid ${d.nid}, expected ${want}`,
        });
      return;
    }
    let inode: ErofsInode;
    try {
      inode = this.img.inode(d.nid);
    } catch (e) {
      this.problems.push({ path: child, nid: d.nid, message: `inode unreadable: ${message(e)}` });
      return;
    }
    const direntType = FT_TYPE[d.fileType];
    if (direntType !== undefined && direntType !== inode.type) {
      this.problems.push({
        path: child,
        nid: d.nid,
        message: `directory entry says ${direntType}, the inode is a ${inode.type}`,
      });
    }
    if (inode.type === 'dir') {
      this.walkDir(child, inode, dir.nid);
      return;
    }
    if (this.checked.has(inode.nid)) {
      this.hardlinks++;
      return;
    }
    this.checked.add(inode.nid);
    this.checkInode(child, inode);
  }

  walkDir(path: string, dir: ErofsInode, parentNid: number): void {
    this.dirs++;
    if (this.seenDirs.has(dir.nid)) {
      this.problems.push({ path, nid: dir.nid, message: 'directory reached twice: directory cycle' });
      return;
    }
    this.seenDirs.add(dir.nid);
    let entries;
    try {
      entries = this.img.readdir(dir);
      this.img.xattrs(dir);
    } catch (e) {
      this.problems.push({ path, nid: dir.nid, message: `directory unreadable: ${message(e)}` });
      return;
    }
    for (const d of entries) this.checkEntry(path, dir, parentNid, d);
  }
}

export function fsckImage(
  img: ErofsImage,
  image: string,
  startPath = '/',
  onProgress?: (done: number, total: number) => void,
): FsckReport {
  const w = new FsckWalk(img, startPath === '/' ? onProgress : undefined);
  const start = lookup(img, image, startPath, { follow: false });
  if (start.type === 'dir') {
    // The root's ".." is itself; a subdirectory's parent is whatever its own ".." says (checked from above).
    const parentNid =
      start.nid === img.sb.rootNid ? start.nid : (img.readdir(start).find((d) => d.name === '..')?.nid ?? start.nid);
    w.walkDir(startPath, start, parentNid);
  } else {
    w.checked.add(start.nid);
    w.checkInode(startPath, start);
  }
  return {
    image,
    path: startPath,
    inodes: w.seenDirs.size + w.checked.size,
    dirs: w.dirs,
    files: w.files,
    symlinks: w.symlinks,
    others: w.others,
    hardlinks: w.hardlinks,
    bytes: w.bytes,
    fingerprintsVerified: w.verified,
    withoutFingerprint: w.withoutFingerprint,
    superblockChecksum: img.sb.checksumVerified ? 'verified' : 'absent',
    problems: w.problems,
    unchecked: w.unchecked,
  };
}

export function fsckText(r: FsckReport): string {
  const lines = r.problems.map((p) => `${r.image}: ${p.path} (nid ${p.nid}): ${p.message}`);
  for (const u of r.unchecked.slice(0, 20))
    lines.push(`${r.image}: ${u.path} (nid ${u.nid}): not checked: ${u.message}`);
  if (r.unchecked.length > 20) lines.push(`${r.image}: ... and ${r.unchecked.length - 20} more not checked`);
  const what =
    `${r.inodes} inodes (${r.files} files, ${r.dirs} dirs, ${r.symlinks} symlinks, ${r.others} others; ${r.hardlinks} hard links), ` +
    `${r.bytes} bytes of file data read (${humanBytes(r.bytes)}), ${r.fingerprintsVerified} fingerprints verified` +
    `${r.withoutFingerprint > 0 ? `, ${r.withoutFingerprint} files without a fingerprint` : ''}; superblock checksum ${r.superblockChecksum}`;
  lines.push(`${r.image}${r.path === '/' ? '' : ` ${r.path}`}: ${what}`);
  if (r.problems.length > 0)
    lines.push(`found filesystem corruption: ${r.problems.length} problem${r.problems.length === 1 ? '' : 's'}`);
  else if (r.unchecked.length > 0)
    lines.push(
      `no errors found in what could be read; ${r.unchecked.length} file${r.unchecked.length === 1 ? '' : 's'} not checked`,
    );
  else lines.push('no errors found');
  return `${lines.join('\n')}\n`;
}

interface FsckOptions {
  json?: boolean;
  path?: string;
}

export async function runFsck(image: string, opts: FsckOptions): Promise<void> {
  const bar = progressBar(!opts.json, 'fsck', 'inodes');
  let report: FsckReport;
  try {
    report = await withImage(image, (img) => fsckImage(img, image, imagePath(opts.path), bar.update));
  } finally {
    bar.stop();
  }
  writeOut(opts.json ? `${JSON.stringify(report, null, 2)}\n` : fsckText(report));
  if (report.problems.length > 0)
    throw new CheckFailed(
      `${image}: found filesystem corruption (${report.problems.length} problem${report.problems.length === 1 ? '' : 's'})`,
    );
  // Not corruption, but not a clean bill either: the image uses what the reader cannot read yet.
  if (report.unchecked.length > 0)
    throw new UsageError(
      `${image}: ${report.unchecked.length} file${report.unchecked.length === 1 ? '' : 's'} not checked: ${report.unchecked[0].message.replace(/^data unreadable: /, '')}`,
    );
}

export function register(program: Command): void {
  program
    .command('fsck')
    .summary('check an image: every directory, inode and byte, and every fingerprint against its data')
    .description(
      'Check an EROFS image as fsck.erofs --xattr-inode-digest does: walk every directory (its "." and ".." ' +
        "included), parse every inode, read every byte of every file and symlink, and verify each file's content " +
        'fingerprint against the sha256 of the data it holds. Every problem is listed with its path and nid. ' +
        'Exit 0: no errors found; 1: corruption found; 2: the image cannot be opened, or uses a feature the reader ' +
        'does not implement (such files are listed as not checked).',
    )
    .addHelpText('after', '\nExamples:\n  ishare fsck app.img\n  ishare fsck --path /usr/lib app.img')
    .argument('<image>', 'EROFS image file')
    .option('--path <path>', 'check only this file or directory tree (like fsck.erofs --path)')
    .option('--json', 'print the report as one JSON object')
    .action(async (image: string, opts: FsckOptions) => runFsck(image, opts));
}
