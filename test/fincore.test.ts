// Our page-cache figure against the real kernel's. Loop-mount two images made by our mkfs with the
// kernel's own EROFS, read every file with cat, and sum fincore's resident bytes over the distinct
// inodes: it must equal the no-share figure the experiment reports for the same images. (The kernel
// here has no inode_share, so only the no-share side can be compared.) Needs root and a kernel that
// mounts EROFS from a loop device; otherwise the test says why it skipped.
import test, { type ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, lstatSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runRead } from '@ishare/workers';
import { mkfs } from '@ishare/core';
import { buildPair, expectedNoShare } from '../packages/workers/test/helpers/pair-trees.ts';
import { hasCommand, removeDir, tempDir } from './helpers/trees.ts';
import { buildCompressedPair } from './helpers/compressed-pair.ts';

const REPO = fileURLToPath(new URL('../', import.meta.url));

function sh(cmd: string, args: string[]): { ok: boolean; out: string; err: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return { ok: r.status === 0, out: r.stdout ?? '', err: (r.stderr ?? '').trim() || (r.error?.message ?? '') };
}

/** One path per inode under a mount point: fincore would otherwise count a hard-linked file twice. */
function distinctFiles(root: string): string[] {
  const seen = new Set<number>();
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const st = lstatSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && !seen.has(st.ino)) {
        seen.add(st.ino);
        out.push(p);
      }
    }
  };
  walk(root);
  return out;
}

/** Sum of fincore's RES column (bytes) over the files. */
function fincoreBytes(files: string[]): number {
  const r = sh('fincore', ['--bytes', '--noheadings', '--output', 'RES', ...files]);
  if (!r.ok) throw new Error(`fincore failed: ${r.err}`);
  return r.out
    .split('\n')
    .filter((l) => l.trim() !== '')
    .reduce((s, l) => s + Number(l.trim()), 0);
}

/** Why the kernel comparison cannot run here, or undefined when it can. */
function cannotRun(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root (loop mounts need it)';
  for (const cmd of ['mount', 'umount', 'fincore']) if (!hasCommand(cmd)) return `${cmd} is not installed`;
  return undefined;
}

/**
 * Mount the images with the kernel, cat every file, and return fincore's total over the distinct
 * inodes — or a reason to skip when the kernel will not mount them.
 */
function kernelFigure(
  t: ExecutionContext,
  images: readonly string[],
  dir: string,
): { bytes: number; inodes: number } | string {
  const mounted: string[] = [];
  try {
    const mnts = images.map((_, i) => join(dir, `mnt${i}`));
    for (const [i, img] of images.entries()) {
      mkdirSync(mnts[i], { recursive: true });
      const m = sh('mount', ['-t', 'erofs', '-o', 'loop,ro', img, mnts[i]]);
      if (!m.ok) return `mount -t erofs -o loop,ro failed: ${m.err}`;
      mounted.push(mnts[i]);
    }
    const files = mnts.flatMap(distinctFiles);
    if (fincoreBytes(files) !== 0) {
      // Pages left from an earlier mount of the same image: a remount starts from an empty cache.
      for (const [i, img] of images.entries()) {
        sh('umount', [mnts[i]]);
        sh('mount', ['-t', 'erofs', '-o', 'loop,ro', img, mnts[i]]);
      }
    }
    t.is(fincoreBytes(files), 0, 'nothing cached before reading');
    // Proactive reclaim (a DAMON pageout scheme, as this CI's VM runs) may evict a few pages just read
    // before fincore looks: read everything again until two rounds agree. A round can only bring back
    // what was evicted — the page cache of a file never holds more than its pages — so the largest
    // figure is the kernel's whole cache of the files, and a real difference from ours stays one.
    let bytes = -1;
    for (let round = 1; round <= 3; round++) {
      const cat = spawnSync('sh', ['-c', 'for f in "$@"; do cat "$f" > /dev/null || exit 1; done', 'sh', ...files]);
      t.is(cat.status, 0, 'cat read every file');
      const b = fincoreBytes(files);
      if (b === bytes) break;
      if (bytes >= 0) t.log(`round ${round}: fincore ${b} bytes after ${bytes} (pages evicted meanwhile)`);
      bytes = Math.max(bytes, b);
    }
    return { bytes, inodes: files.length };
  } finally {
    for (const m of mounted) {
      const u = sh('umount', [m]);
      if (!u.ok) t.log(`umount ${m} failed: ${u.err}`);
    }
  }
}

/** The kernel's fincore sum = our no-share figure = the pages of every distinct inode of the trees. */
async function kernelOursTrees(
  t: ExecutionContext,
  pair: { dir: string; images: string[]; srcs: string[] },
): Promise<void> {
  try {
    const k = kernelFigure(t, pair.images, pair.dir);
    if (typeof k === 'string') {
      t.log(`skipped: ${k}`);
      t.pass();
      return;
    }
    const ours = await runRead({ images: pair.images, workers: 2 });
    t.log(
      `kernel (fincore, ${k.inodes} inodes): ${k.bytes} bytes; ishare no-share: ${ours.pageCacheBytes} bytes; from the trees: ${expectedNoShare(pair.srcs)} bytes`,
    );
    t.is(ours.pageCacheBytes, k.bytes);
    t.is(k.bytes, expectedNoShare(pair.srcs));
  } finally {
    removeDir(pair.dir);
  }
}

test.serial('fincore over the kernel-mounted images = our no-share figure (test trees)', async (t) => {
  const why = cannotRun();
  if (why) {
    t.log(`skipped: ${why}`);
    t.pass();
    return;
  }
  await kernelOursTrees(t, await buildPair());
});

test.serial('fincore over the kernel-mounted images = our no-share figure (the bundled typescript pair)', async (t) => {
  const why = cannotRun();
  if (why) {
    t.log(`skipped: ${why}`);
    t.pass();
    return;
  }
  const req = createRequire(join(REPO, 'package.json'));
  let srcs: string[];
  try {
    srcs = ['typescript-5.6.2', 'typescript-5.6.3'].map((n) => realpathSync(dirname(req.resolve(`${n}/package.json`))));
  } catch {
    t.log('skipped: the typescript-5.6.x dev dependencies are not installed');
    t.pass();
    return;
  }
  const dir = tempDir('ishare-fincore-');
  try {
    const images = srcs.map((_, i) => join(dir, `ts${i}.img`));
    for (const [i, src] of srcs.entries()) await mkfs({ out: images[i], source: src, timestamp: 1_700_000_000 });
    const k = kernelFigure(t, images, dir);
    if (typeof k === 'string') {
      t.log(`skipped: ${k}`);
      t.pass();
      return;
    }
    const ours = await runRead({ images, workers: 2 });
    t.log(`kernel (fincore, ${k.inodes} inodes): ${k.bytes} bytes; ishare no-share: ${ours.pageCacheBytes} bytes`);
    t.is(ours.pageCacheBytes, k.bytes);
  } finally {
    removeDir(dir);
  }
});

for (const alg of ['-zlz4hc', '-zdeflate']) {
  test.serial(
    `fincore over kernel-mounted compressed images (${alg}, upstream mkfs.erofs) = our no-share figure`,
    async (t) => {
      const why = cannotRun();
      if (why) {
        t.log(`skipped: ${why}`);
        t.pass();
        return;
      }
      await kernelOursTrees(
        t,
        buildCompressedPair([
          [alg, '-Eztailpacking,fragments'],
          [alg, '-C65536'],
        ]),
      );
    },
  );
}
