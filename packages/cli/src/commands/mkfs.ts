// `ishare mkfs OUT.img SOURCE`: build an EROFS image (with content fingerprints by default).
import { existsSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import type { MkfsOptions, MkfsReport } from '../writer.ts';
import { UsageError } from '../errors.ts';
import { parseBlockSize, parseTimestamp, parseUuid, parseXattrName } from '../options.ts';
import { humanBytes } from '../format.ts';
import { writeOut } from '../output.ts';
import { checkOutputFile } from '../output-files.ts';

interface MkfsCliOptions {
  blockSize?: number;
  fingerprint: boolean;
  fingerprintXattr?: string;
  xattrs: boolean;
  inline: boolean;
  timestamp?: number;
  uuid?: string;
  json?: boolean;
}

const TAR = /\.(tar|tar\.gz|tgz)$/i;

function checkSource(source: string): void {
  if (!existsSync(source)) throw new UsageError(`${source}: no such file or directory`);
  const st = statSync(source);
  if (!st.isDirectory() && !(st.isFile() && TAR.test(source))) {
    throw new UsageError(`${source}: not a directory or a .tar/.tar.gz/.tgz archive`);
  }
}

export function summary(out: string, r: MkfsReport): string {
  return `${out}: ${r.inodes} inodes (${r.files} files, ${r.dirs} dirs, ${r.symlinks} symlinks, ${r.others} others), `
    + `${r.hardlinks} hard links, ${r.fingerprinted} fingerprinted\n`
    + `${r.blocks} blocks of ${r.blockSize} bytes, ${r.bytes} bytes (${humanBytes(r.bytes)})\n`;
}

export async function runMkfs(out: string, source: string, o: MkfsCliOptions): Promise<void> {
  checkSource(source);
  checkOutputFile(out);
  const { mkfs } = await import('../writer.ts');
  const opts: MkfsOptions = { out, source, fingerprint: o.fingerprint, xattrs: o.xattrs, inline: o.inline };
  if (o.blockSize !== undefined) opts.blockSize = o.blockSize;
  if (o.fingerprintXattr !== undefined) opts.fingerprintXattr = o.fingerprintXattr;
  if (o.timestamp !== undefined) opts.timestamp = o.timestamp;
  if (o.uuid !== undefined) opts.uuid = o.uuid;
  // A bar only for a person watching: never in JSON mode, never into a pipe or a log file.
  const bar = !o.json && process.stderr.isTTY
    ? new cliProgress.SingleBar({ stream: process.stderr, format: 'mkfs [{bar}] {percentage}% {doneBytes} / {totalBytes}', hideCursor: true, clearOnComplete: true }, cliProgress.Presets.shades_classic)
    : undefined;
  let started = false;
  if (bar) {
    // The writer reports bytes of source processed (for a tar: bytes of the tar file).
    opts.onProgress = (done: number, total: number) => {
      const payload = { doneBytes: humanBytes(done), totalBytes: humanBytes(total) };
      if (!started) { bar.start(total, done, payload); started = true; } else { bar.setTotal(total); bar.update(done, payload); }
    };
  }
  let report: MkfsReport;
  try {
    report = await mkfs(opts);
  } finally {
    if (started) bar?.stop();
  }
  writeOut(o.json ? `${JSON.stringify({ image: out, ...report }, null, 2)}\n` : summary(out, report));
}

export function register(program: Command): void {
  program
    .command('mkfs')
    .summary('build an EROFS image from a directory or a tar archive')
    .description('Build the EROFS image OUT from SOURCE (a directory, or a .tar/.tar.gz/.tgz archive).\n\n'
      + 'Every regular file gets a content-fingerprint xattr (sha256 of its data) unless --no-fingerprint: '
      + 'that is what inode page-cache sharing keys on.')
    .addHelpText('after', '\nExamples:\n  ishare mkfs app.img ./rootfs\n  ishare mkfs --timestamp 0 --uuid 0a0b0c0d-0000-4000-8000-000000000000 \\\n      app.img rootfs.tar.gz')
    .argument('<out>', 'image file to write')
    .argument('<source>', 'directory or tar archive')
    .option('--block-size <bytes>', 'block size: 512, 1024, 2048 or 4096 (default 4096)', parseBlockSize)
    .option('--no-fingerprint', 'do not write content-fingerprint xattrs')
    .option('--fingerprint-xattr <name>', 'name of the fingerprint xattr (default trusted.erofs.fingerprint)', parseXattrName)
    .option('--no-xattrs', 'do not copy extended attributes from SOURCE')
    .option('--no-inline', 'never inline file tails into the inode (FLAT_PLAIN only)')
    .option('--timestamp <t>', 'build time and fixed mtime (epoch seconds or ISO date), for reproducible images', parseTimestamp)
    .option('--uuid <uuid>', 'filesystem UUID (default: random)', parseUuid)
    .option('--json', 'print the report as JSON')
    .action(async (out: string, source: string, opts: MkfsCliOptions) => runMkfs(out, source, opts));
}
