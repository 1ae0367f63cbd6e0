// Port of upstream erofs-utils' own inode page-cache sharing test, tests/erofs/028 ("Test inode page
// cache sharing functionality"), at erofs/erofs-utils commit 4d655b453e790c29d069718bb2471ab51ecca47d,
// scenario for scenario, on ishare's kernel instead of Linux's (the kernel here has no inode_share).
//
// Upstream: a tar of its own source tree, hard-linked under two names (test.tar.1, test.tar.2), is built
// into an image with `mkfs.erofs --hard-dereference` (so the two names are two inodes of the same
// content), with `--xattr-inode-digest=system.erofs.fingerprint`, then with `-zlz4` added; the image is
// copied to a second image. For each build:
//   1. mounted without inode_share: the two files do not share;
//   2. mounted with inode_share,domain_id=share_domain1-$i: the two files of one image share;
//   3. both images mounted with inode_share,domain_id=share_domain2-$i: a file of one image shares with
//      the other name in the other image, both ways;
//   4. the images in different domains (share_domain3-$i, share_domain4-$i): the same file does not share.
// check_ishare(f1, f2, md5, shouldshare): md5sum of f2 then of f1 must be the tar's; `fadvise -a
// dontneed f2`; then `fincore -oRES -bnr f1`: shared → 0 bytes resident (f2's advice emptied the one
// page cache), not shared → at least f1's size (`du -b`) still resident.
//
// Here: images built by upstream mkfs.erofs 1.9.3 exactly as above; the tar is of this repository's
// own EROFS sources (as upstream tars its own); md5sum → read the whole file; fadvise → System.fadvise
// (DONTNEED over the whole file, as fadvise(1) without -o/-l); fincore → System.residency, which reads
// the file's mapping as cachestat does (the same figure `ishare read --fincore` prints). Expected
// values are upstream's: the tar's md5, the tar's size, and 0.
import test, { type ExecutionContext } from 'ava';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { copyFileSync, linkSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { System } from '@ishare/core';
import { upstreamTool } from './helpers/erofs-utils.ts';
import { removeDir, tempDir } from './helpers/trees.ts';

const REPO = fileURLToPath(new URL('../', import.meta.url));
const TAR = 'test.tar';

const md5 = (b: Uint8Array): string => createHash('md5').update(b).digest('hex');

interface Fixture {
  readonly dir: string;
  readonly localdir: string;
  readonly orimd5: string;
  readonly size: number;
}

function fixture(): Fixture {
  const dir = tempDir('ishare-028-');
  const localdir = join(dir, '028');
  mkdirSync(localdir);
  const tar1 = join(localdir, `${TAR}.1`);
  // Deterministic tar of the project's own on-disk format sources.
  execFileSync('tar', [
    '--sort=name',
    '--mtime=@0',
    '--owner=0',
    '--group=0',
    '--numeric-owner',
    '-C',
    join(REPO, 'packages/core/src'),
    '-cf',
    tar1,
    'erofs',
    'fs',
  ]);
  linkSync(tar1, join(localdir, `${TAR}.2`));
  const bytes = readFileSync(tar1);
  return { dir, localdir, orimd5: md5(bytes), size: statSync(tar1).size };
}

/** NID, links and data layout of PATH as upstream dump.erofs reports them. */
function dumpInode(img: string, path: string): { nid: number; links: number; layout: number } {
  const out = execFileSync(upstreamTool('dump.erofs'), [`--path=${path}`, img], { encoding: 'utf8' });
  const m = /NID: (\d+)\s+Links: (\d+)\s+Layout: (\d+)/.exec(out);
  if (!m) throw new Error(`dump.erofs output without NID/Links/Layout: ${out}`);
  return { nid: Number(m[1]), links: Number(m[2]), layout: Number(m[3]) };
}

/** md5sum FILE: read it whole through the mount. */
function md5sum(sys: System, m: number, path: string): string {
  const f = sys.open(m, path);
  try {
    return md5(sys.readAll(f));
  } finally {
    sys.close(f);
  }
}

/** fadvise -a dontneed FILE. */
function fadviseDontneed(sys: System, m: number, path: string): void {
  const f = sys.open(m, path);
  try {
    sys.fadvise(f, 0, 0, 'dontneed');
  } finally {
    sys.close(f);
  }
}

/** check_ishare f1 f2 orimd5 shouldshare, as upstream writes it. */
function checkIshare(
  t: ExecutionContext,
  sys: System,
  f1: [number, string],
  f2: [number, string],
  fx: Fixture,
  shouldshare: boolean,
  what: string,
): void {
  const md5_2 = md5sum(sys, ...f2);
  const md5_1 = md5sum(sys, ...f1);
  t.is(md5_1, fx.orimd5, `${what}: md5sum is not match with file1`);
  t.is(md5_2, fx.orimd5, `${what}: md5sum is not match with file2`);
  fadviseDontneed(sys, ...f2);
  const osiz = sys.residency(...f1).bytes;
  if (!shouldshare) t.false(osiz < fx.size, `${what}: page cache is shared (${osiz} bytes of f1 resident)`);
  else t.false(osiz > 0, `${what}: page cache is not shared (${osiz} bytes of f1 still resident)`);
}

let fx: Fixture;
test.before(() => {
  fx = fixture();
});
test.after.always(() => removeDir(fx.dir));

// The option lines accumulate, as upstream's `mkfs_extra_opts="$mkfs_extra_opts $opt"` does.
const OPTS = ['--xattr-inode-digest=system.erofs.fingerprint', '-zlz4'];

test.serial(
  'tests/erofs/028: inode page cache sharing, scenario for scenario, on images built by upstream 1.9.3',
  (t) => {
    const mkfs = upstreamTool('mkfs.erofs');
    let mkfsExtraOpts = ['--hard-dereference'];
    const scratch = join(fx.dir, 'erofs_028.img');
    const scratch2 = join(fx.dir, 'erofs_028_2.img');
    OPTS.forEach((opt, i) => {
      mkfsExtraOpts = [...mkfsExtraOpts, opt];
      const build = mkfsExtraOpts.join(' ');
      // prepare two identical EROFS images
      rmSync(scratch, { force: true });
      execFileSync(mkfs, ['--quiet', ...mkfsExtraOpts, scratch, fx.localdir], { stdio: ['ignore', 'ignore', 'pipe'] });
      copyFileSync(scratch, scratch2);
      // What the scenarios rest on, as upstream's dump.erofs sees the image: --hard-dereference made the
      // two names two inodes; -zlz4 compressed them (layouts 1 and 3 are the compressed ones).
      const d1 = dumpInode(scratch, `/${TAR}.1`);
      const d2 = dumpInode(scratch, `/${TAR}.2`);
      t.not(d1.nid, d2.nid, `${build}: two inodes`);
      t.deepEqual([d1.links, d2.links], [1, 1], `${build}: no hard link left`);
      const compressed = (l: number): boolean => l === 1 || l === 3;
      t.is(compressed(d1.layout), mkfsExtraOpts.includes('-zlz4'), `${build}: layout ${d1.layout}`);
      const f = (m: number, n: 1 | 2): [number, string] => [m, `/${TAR}.${n}`];
      const sys = System.create({ poolMiB: 16 });
      try {
        // not shared without inode_share
        let m = sys.mount(scratch).mount;
        checkIshare(t, sys, f(m, 1), f(m, 2), fx, false, `${build}: no inode_share`);
        sys.unmount(m);

        // shared in the same filesystem
        const one = sys.mount(scratch, { inodeShare: true, domainId: `share_domain1-${i}` });
        t.true(one.shareActive, `${build}: upstream's fingerprints turn inode_share on`);
        m = one.mount;
        checkIshare(t, sys, f(m, 1), f(m, 2), fx, true, `${build}: one image`);
        sys.unmount(m);

        // shared in different filesystems
        m = sys.mount(scratch, { inodeShare: true, domainId: `share_domain2-${i}` }).mount;
        let m2 = sys.mount(scratch2, { inodeShare: true, domainId: `share_domain2-${i}` }).mount;
        checkIshare(t, sys, f(m, 1), f(m2, 2), fx, true, `${build}: two images, one domain (1 vs 2)`);
        checkIshare(t, sys, f(m, 2), f(m2, 1), fx, true, `${build}: two images, one domain (2 vs 1)`);
        sys.unmount(m);
        sys.unmount(m2);

        // do not share if domain IDs are different
        m = sys.mount(scratch, { inodeShare: true, domainId: `share_domain3-${i}` }).mount;
        m2 = sys.mount(scratch2, { inodeShare: true, domainId: `share_domain4-${i}` }).mount;
        checkIshare(t, sys, f(m, 1), f(m2, 1), fx, false, `${build}: two domains`);
        sys.unmount(m);
        sys.unmount(m2);
      } finally {
        sys.detach();
      }
    });
  },
);
