// `ishare extract IMG DIR`: write an image's tree back to a directory.
// A file whose data cannot be read (a corrupt pcluster, a bad extent) is left out and listed, and every
// other file is still written — as tar and cp -r go on past a bad member; the run then exits 1. Anything
// else that fails (a bad directory entry, the destination refusing a write) undoes what this run created.
import {
  chmodSync,
  existsSync,
  lchownSync,
  linkSync,
  lutimesSync,
  mkdirSync,
  openSync,
  closeSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  lstatSync,
  utimesSync,
  writeSync,
  writeFileSync,
} from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { ErofsError, type ErofsInode } from '../core.ts';
import type { ErofsImage } from '../engine.ts';
import { CheckFailed, pathError, UsageError } from '../errors.ts';
import { withImage } from '../image.ts';
import { progressBar } from '../progress.ts';
import { subtree, type TreeNode } from '../walk.ts';
import { devMajorMinor, permBits } from '../format.ts';

interface ExtractOptions {
  force?: boolean;
  xattrs?: boolean;
  /** Inodes written so far of the image's inode count (hard links count once). */
  onProgress?: (done: number, total: number) => void;
}

export interface ExtractReport {
  files: number;
  dirs: number;
  symlinks: number;
  hardlinks: number;
  /** Devices, fifos and sockets made with mknod/mkfifo. */
  specials: number;
  /** Devices, fifos and sockets that could not be made here. */
  skipped: number;
  xattrs: number;
  /** Files left out because their data could not be read: image path and why. */
  unreadable: { path: string; message: string }[];
}

const CHUNK = 1 << 20;

function commandExists(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Escape a path the way getfattr --dump does, which is what setfattr --restore undoes. */
function dumpQuote(path: string): string {
  let s = '';
  for (const b of Buffer.from(path)) {
    s +=
      b > 0x20 && b < 0x7f && b !== 0x5c && b !== 0x3d ? String.fromCharCode(b) : `\\${b.toString(8).padStart(3, '0')}`;
  }
  return s;
}

/** The image could not give a file's data: that file is left out, the extract goes on. */
class UnreadableData extends Error {}

function writeFileFrom(img: ErofsImage, inode: ErofsInode, dest: string): void {
  const fd = openSync(dest, 'wx', 0o600);
  try {
    for (let off = 0; off < inode.size; off += CHUNK) {
      let buf: Uint8Array;
      try {
        buf = img.read(inode, off, Math.min(CHUNK, inode.size - off));
      } catch (e) {
        if (e instanceof ErofsError) throw new UnreadableData(e.message);
        throw e;
      }
      let done = 0;
      while (done < buf.byteLength) done += writeSync(fd, buf, done, buf.byteLength - done);
    }
  } finally {
    closeSync(fd);
  }
}

/** Make a device/fifo node with the system tools (node has no mknod); false when that is not possible here. */
function makeSpecial(inode: ErofsInode, dest: string): boolean {
  if (inode.type === 'fifo') return spawnSync('mkfifo', [dest], { stdio: 'ignore' }).status === 0;
  if (inode.type === 'chardev' || inode.type === 'blockdev') {
    if (process.getuid?.() !== 0) return false;
    const [major, minor] = devMajorMinor(inode.rdev);
    return (
      spawnSync('mknod', [dest, inode.type === 'chardev' ? 'c' : 'b', String(major), String(minor)], {
        stdio: 'ignore',
      }).status === 0
    );
  }
  if (inode.type === 'socket') return makeSocket(dest);
  return false;
}

// Node has no mknod(S_IFSOCK); a listening server makes the socket inode, a hard link keeps it after
// the server's close unlinks its own name. In a child, so extract stays synchronous.
const SOCKET_MAKER = `
const net = require('node:net'); const fs = require('node:fs');
const dest = process.argv[1]; const tmp = dest + '.ishare-sock-' + process.pid;
const s = net.createServer(); s.on('error', () => process.exit(1));
s.listen(tmp, () => { try { fs.linkSync(tmp, dest); } catch { process.exitCode = 1; } s.close(); });`;
function makeSocket(dest: string): boolean {
  return spawnSync(process.execPath, ['-e', SOCKET_MAKER, dest], { stdio: 'ignore' }).status === 0;
}

export function extractTree(img: ErofsImage, outDir: string, opts: ExtractOptions): ExtractReport {
  const report: ExtractReport = {
    files: 0,
    dirs: 0,
    symlinks: 0,
    hardlinks: 0,
    specials: 0,
    skipped: 0,
    xattrs: 0,
    unreadable: [],
  };
  const dirExisted = existsSync(outDir);
  if (dirExisted) {
    if (!statSync(outDir).isDirectory()) throw pathError(outDir, 'ENOTDIR');
    if (readdirSync(outDir).length > 0 && !opts.force)
      throw pathError(outDir, 'ENOTEMPTY', '(use --force to extract into it)');
  }
  if (opts.xattrs && !commandExists('setfattr'))
    throw new UsageError('--xattrs needs setfattr (install the attr package)');

  // What this run made, in creation order, so a failure can undo exactly that.
  const created: string[] = [];
  const firstPathOfNid = new Map<number, string>();
  // Metadata is applied after all data is written: a read-only dir would refuse its children,
  // and writing children would bump a dir's mtime.
  const finish: { dest: string; node: TreeNode }[] = [];
  const xattrDump: string[] = [];
  const root = img.root();
  try {
    // mkdir -p answers the topmost directory it made: undo removes from there.
    if (!dirExisted) created.push(mkdirSync(outDir, { recursive: true }) ?? outDir);
    const rootDest = resolve(outDir);
    finish.push({ dest: rootDest, node: { path: '/', rel: '', name: '', inode: root } });
    const written = new Set<number>([root.nid]);
    const inodes = Math.max(1, img.sb.inos);
    opts.onProgress?.(written.size, inodes);
    for (const node of subtree(img, '/', root)) {
      if (!written.has(node.inode.nid)) {
        written.add(node.inode.nid);
        opts.onProgress?.(Math.min(written.size, inodes), inodes);
      }
      // The image is untrusted: a name with a '/' (or a NUL) would write outside DIR.
      if (node.name === '' || /[/\0]/.test(node.name)) {
        throw new ErofsError(
          'ECORRUPT',
          `directory entry ${JSON.stringify(node.name)} under ${node.path.slice(0, node.path.length - node.name.length) || '/'} is not a valid file name`,
        );
      }
      const dest = join(rootDest, node.rel);
      const ino = node.inode;
      if (opts.force && lstatSync(dest, { throwIfNoEntry: false }) && ino.type !== 'dir') unlinkSync(dest);
      const first = ino.type !== 'dir' ? firstPathOfNid.get(ino.nid) : undefined;
      if (first !== undefined && ino.nlink > 1) {
        linkSync(first, dest);
        created.push(dest);
        report.hardlinks++;
        continue;
      }
      switch (ino.type) {
        case 'dir':
          if (!(opts.force && lstatSync(dest, { throwIfNoEntry: false })?.isDirectory())) {
            mkdirSync(dest, { mode: 0o700 });
            created.push(dest);
          }
          report.dirs++;
          break;
        case 'file':
          created.push(dest);
          try {
            writeFileFrom(img, ino, dest);
          } catch (e) {
            if (!(e instanceof UnreadableData)) throw e;
            // Nothing half-written stays: the partial file goes, the rest of the tree goes on.
            created.pop();
            rmSync(dest, { force: true });
            report.unreadable.push({ path: node.path, message: e.message });
            continue;
          }
          report.files++;
          break;
        case 'symlink':
          symlinkSync(img.readlink(ino), dest);
          created.push(dest);
          report.symlinks++;
          break;
        default:
          if (!makeSpecial(ino, dest)) {
            report.skipped++;
            continue;
          }
          created.push(dest);
          report.specials++;
      }
      firstPathOfNid.set(ino.nid, dest);
      finish.push({ dest, node });
    }
    if (opts.xattrs) {
      // The fingerprint belongs to the image, not to the tree: a hidden name never shows, and a
      // visible one (mkfs --xattr-inode-digest=trusted.x) is left out too.
      const fpName = img.fingerprintName();
      for (const { dest, node } of finish) {
        // The kernel refuses user.* xattrs on symlinks; leave those out rather than fail the extract.
        const xs = img
          .xattrs(node.inode)
          .filter((x) => x.name !== fpName && !(node.inode.type === 'symlink' && x.name.startsWith('user.')));
        if (xs.length === 0) continue;
        xattrDump.push(
          `# file: ${dumpQuote(dest)}`,
          ...xs.map((x) => `${x.name}=0x${Buffer.from(x.value).toString('hex')}`),
          '',
        );
        report.xattrs += xs.length;
      }
      if (xattrDump.length > 0) applyXattrs(xattrDump.join('\n'));
    }
    // As fsck.erofs --extract: owners only as root, and chmod after chown (chown clears
    // setuid/setgid). Deepest first, so setting a directory's mtime is the last touch it gets.
    const asRoot = process.getuid?.() === 0;
    for (const { dest, node } of finish.reverse()) {
      const ino = node.inode;
      // Node turns a negative number into "now"; a numeric string keeps a pre-1970 time as it is.
      const mtime = String(ino.mtime + ino.mtimeNsec / 1e9);
      if (asRoot) lchownSync(dest, ino.uid, ino.gid);
      if (ino.type === 'symlink') {
        lutimesSync(dest, mtime, mtime);
        continue;
      }
      chmodSync(dest, permBits(ino.mode));
      utimesSync(dest, mtime, mtime);
    }
  } catch (e) {
    undo(created);
    throw e;
  }
  return report;
}

function applyXattrs(dump: string): void {
  const file = join(tmpdir(), `ishare-xattrs-${process.pid}-${Date.now()}.txt`);
  writeFileSync(file, dump);
  try {
    const r = spawnSync('setfattr', ['-h', `--restore=${file}`], { encoding: 'utf8' });
    if (r.status !== 0)
      throw new UsageError(`setfattr failed: ${(r.stderr || r.error?.message || '').trim().split('\n')[0]}`);
  } finally {
    rmSync(file, { force: true });
  }
}

function undo(created: string[]): void {
  for (const p of created.reverse()) {
    try {
      // chmod first: we may have made a directory read-only before failing.
      if (lstatSync(p, { throwIfNoEntry: false })?.isDirectory()) {
        chmodSync(p, 0o700);
        rmSync(p, { recursive: true, force: true });
      } else rmSync(p, { force: true });
    } catch {
      // best effort: the original error is what the user needs to see
    }
  }
}

export async function runExtract(image: string, dir: string, opts: ExtractOptions): Promise<void> {
  const bar = progressBar(true, 'extract', 'inodes');
  let report: ExtractReport;
  try {
    report = await withImage(image, (img) => extractTree(img, dir, { ...opts, onProgress: bar.update }));
  } finally {
    bar.stop();
  }
  const parts = [
    `${report.files} files`,
    `${report.dirs} dirs`,
    `${report.symlinks} symlinks`,
    `${report.hardlinks} hard links`,
  ];
  if (report.specials > 0) parts.push(`${report.specials} special files`);
  if (opts.xattrs) parts.push(`${report.xattrs} xattrs`);
  process.stdout.write(`${dir}: ${parts.join(', ')}\n`);
  if (report.skipped > 0)
    process.stderr.write(`ishare: note: skipped ${report.skipped} device/fifo/socket nodes (not creatable here)\n`);
  const bad = report.unreadable;
  if (bad.length > 0) {
    // One line per file left out (as tar names each bad member), then the verdict line: exit 1.
    for (const u of bad) process.stderr.write(`ishare: ${image}: ${u.path}: ${u.message}\n`);
    throw new CheckFailed(
      `${image}: ${bad.length} file${bad.length === 1 ? '' : 's'} not extracted (data unreadable), every other file written`,
    );
  }
}

export function register(program: Command): void {
  program
    .command('extract')
    .summary('write the tree of an image to a directory')
    .description(
      'Extract every file, directory and symlink of an EROFS image into DIR, with modes and mtimes. ' +
        'Hard links stay hard links; as root, owners too (as fsck.erofs --extract). Fifos and sockets are made ' +
        'everywhere, devices with mknod when running as root; otherwise they are skipped and counted. With --xattrs, ' +
        "the tree's extended attributes come back, never the image's fingerprint.\n\n" +
        'A file whose data cannot be read (a corrupt image) is left out and named on stderr, every other file is ' +
        'written, and the exit status is 1 (as tar and cp -r go on past a bad member). On any other failure, ' +
        'everything this run created is removed.',
    )
    .addHelpText('after', '\nExample:\n  ishare extract --xattrs app.img ./app-tree')
    .argument('<image>', 'EROFS image file')
    .argument('<dir>', 'destination directory (created if missing; must be empty unless --force)')
    .option('-f, --force', 'extract into a non-empty directory, replacing files in the way')
    .option('--xattrs', 'also restore extended attributes (needs setfattr from the attr package)')
    .action(async (image: string, dir: string, opts: ExtractOptions) => runExtract(image, dir, opts));
}
