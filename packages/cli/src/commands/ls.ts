// `ishare ls IMG [PATH]`: list an image like `ls -l`, or as JSON for scripts and tests.
import type { Command } from 'commander';
import type { ErofsInode, FileType } from '../core.ts';
import type { ErofsImage } from '../engine.ts';
import { withImage, imagePath, lookup } from '../image.ts';
import { children, subtree } from '../walk.ts';
import { alignColumns, devMajorMinor, formatMtime, layoutName, modeString, toHex } from '../format.ts';
import { writeOut } from '../output.ts';

/** One line of `ls --json`. */
export interface LsEntry {
  path: string;
  nid: number;
  type: FileType;
  /** Full st_mode (type bits + permissions). */
  mode: number;
  size: number;
  nlink: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch. */
  mtime: number;
  /** Symlinks only. */
  target?: string;
  /** Character and block devices only. */
  rdev?: number;
  /** FLAT_PLAIN, FLAT_INLINE, CHUNK_BASED, COMPRESSED_FULL, COMPRESSED_COMPACT. */
  layout: string;
  /** Every xattr, full name → value in hex. */
  xattrs: Record<string, string>;
  /** The content fingerprint (hex) when the inode carries one. */
  fingerprint?: string;
}

export function describe(img: ErofsImage, path: string, inode: ErofsInode): LsEntry {
  const e: LsEntry = {
    path,
    nid: inode.nid,
    type: inode.type,
    mode: inode.mode,
    size: inode.size,
    nlink: inode.nlink,
    uid: inode.uid,
    gid: inode.gid,
    mtime: inode.mtime,
    layout: layoutName(inode.layout),
    xattrs: {},
  };
  if (inode.type === 'symlink') e.target = img.readlink(inode);
  if (inode.type === 'chardev' || inode.type === 'blockdev') e.rdev = inode.rdev;
  for (const x of img.xattrs(inode)) e.xattrs[x.name] = toHex(x.value);
  const fp = img.fingerprint(inode);
  if (fp !== undefined) e.fingerprint = fp;
  return e;
}

/** Control characters would break the one-entry-per-line output; show them escaped. */
function printable(name: string): string {
  // eslint-disable-next-line no-control-regex
  return name.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

function longRow(img: ErofsImage, name: string, inode: ErofsInode): string[] {
  const size =
    inode.type === 'chardev' || inode.type === 'blockdev' ? devMajorMinor(inode.rdev).join(', ') : String(inode.size);
  const shown = inode.type === 'symlink' ? `${printable(name)} -> ${printable(img.readlink(inode))}` : printable(name);
  return [
    modeString(inode.type, inode.mode),
    String(inode.nlink),
    String(inode.uid),
    String(inode.gid),
    size,
    formatMtime(inode.mtime),
    shown,
  ];
}

interface LsOptions {
  json?: boolean;
  recursive?: boolean;
}

export async function runLs(image: string, pathArg: string | undefined, opts: LsOptions): Promise<void> {
  await withImage(image, (img) => {
    const path = imagePath(pathArg);
    // Like `ls -l`, a symlink named on the command line is listed itself, not followed.
    const inode = lookup(img, image, path, { follow: false });
    const nodes =
      inode.type !== 'dir'
        ? [{ path, rel: pathArg ?? path, inode }]
        : [...(opts.recursive ? subtree(img, path, inode) : children(img, path, inode))];
    if (opts.json) {
      writeOut(
        `${JSON.stringify(
          nodes.map((n) => describe(img, n.path, n.inode)),
          null,
          2,
        )}\n`,
      );
      return;
    }
    const rows = nodes.map((n) => longRow(img, n.rel, n.inode));
    if (rows.length > 0) writeOut(`${alignColumns(rows, new Set([1, 2, 3, 4])).join('\n')}\n`);
  });
}

export function register(program: Command): void {
  program
    .command('ls')
    .summary('list files in an image like ls -l')
    .description(
      'List the entries of PATH (default: the root) in an EROFS image, like `ls -l`. ' +
        'A directory lists its entries (all of them below it with -R); anything else, a symlink included, ' +
        'lists itself. Times are shown in UTC.',
    )
    .addHelpText('after', '\nExamples:\n  ishare ls app.img /usr/bin\n  ishare ls -R --json app.img > listing.json')
    .argument('<image>', 'EROFS image file')
    .argument('[path]', 'path inside the image', '/')
    .option('-R, --recursive', 'list directories recursively (paths relative to PATH)')
    .option(
      '--json',
      'print a JSON array of {path, nid, type, mode, size, nlink, uid, gid, mtime, target?, rdev?, layout, xattrs, fingerprint?}',
    )
    .action(async (image: string, path: string | undefined, opts: LsOptions) => runLs(image, path, opts));
}
