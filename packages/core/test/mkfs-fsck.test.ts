// Images our mkfs writes from the edge-case tree, at every block size and with each feature on and
// off, checked by erofs-utils: fsck.erofs must pass them and --extract must give back the source tree
// byte for byte. fsck.erofs 1.5 only reads 4 KiB blocks; smaller ones are checked by the kernel
// (mount) and our reader instead, and the test says so.
import anyTest, { type TestFn } from 'ava';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { mkfs, type MkfsOptions } from '@ishare/core';
import {
  makeEdgeTree,
  nonEmptyFileInodes,
  removeDir,
  snapshotTree,
  tempDir,
  type TreeEntry,
} from '../../../test/helpers/trees.ts';
import { asObject, FSCK, fsck, readerSnapshot, tryMount } from './mkfs-helpers.ts';

interface Ctx {
  dir: string;
  trees: Map<number, { src: string; snap: Map<string, TreeEntry> }>;
}
const test = anyTest as TestFn<Ctx>;

test.before((t) => {
  const dir = tempDir('ishare-mkfs-fsck-');
  const trees = new Map<number, { src: string; snap: Map<string, TreeEntry> }>();
  for (const bs of [4096, 2048, 1024, 512]) {
    const src = join(dir, `src${bs}`);
    mkdirSync(src);
    makeEdgeTree(src, { blockSize: bs, longName: 255 });
    trees.set(bs, { src, snap: snapshotTree(src) });
  }
  t.context = { dir, trees };
});

test.after.always((t) => {
  if (t.context.dir) removeDir(t.context.dir);
});

function withoutSuid(m: Map<string, TreeEntry>): Map<string, TreeEntry> {
  return new Map([...m].map(([k, e]) => [k, { ...e, mode: e.mode & ~0o6000 }]));
}

const VARIANTS: { name: string; opts: Partial<MkfsOptions> }[] = [
  { name: 'default', opts: {} },
  { name: 'no-fingerprint', opts: { fingerprint: false } },
  { name: 'no-xattrs', opts: { xattrs: false } },
  { name: 'no-inline', opts: { inline: false } },
  { name: 'timestamp', opts: { timestamp: 1_600_000_000 } },
  { name: 'custom-fingerprint-name', opts: { xattrInodeDigest: 'trusted.fp' } },
];

for (const bs of [4096, 2048, 1024, 512]) {
  for (const v of VARIANTS) {
    if (bs !== 4096 && !['default', 'no-inline', 'timestamp'].includes(v.name)) continue;
    test.serial(`bs ${bs}, ${v.name}: fsck.erofs passes and the extracted tree equals the source`, async (t) => {
      {
        const { src, snap } = t.context.trees.get(bs)!;
        const img = join(t.context.dir, `${bs}-${v.name}.img`);
        const rep = await mkfs({ out: img, source: src, blockSize: bs, ...v.opts });
        t.is(rep.blockSize, bs);
        t.true(rep.files > 1200 && rep.dirs > 10 && rep.symlinks === 5, JSON.stringify(rep));
        t.is(rep.hardlinks, 1);
        t.is(
          rep.fingerprinted,
          v.opts.fingerprint === false ? 0 : nonEmptyFileInodes(src),
          'non-empty regular files only',
        );

        let checked = false;
        if (!FSCK) {
          t.log('fsck.erofs not installed: skipping the erofs-utils check of this image');
        } else {
          const r = fsck(img);
          if (r.blockSizeUnsupported) {
            t.log(
              `fsck.erofs (erofs-utils 1.5) refuses block size ${bs} ("${r.output.trim().split('\n')[0]}"): checked with the kernel mount and our reader instead`,
            );
          } else {
            t.true(r.ok, r.output);
            const ex = join(t.context.dir, `ex-${bs}-${v.name}`);
            const x = fsck(img, ex);
            t.true(x.ok, x.output);
            // fsck.erofs 1.5 chowns after chmod when extracting, which clears setuid/setgid (it does
            // the same to mkfs.erofs images); the full modes are checked through our reader below.
            t.deepEqual(asObject(withoutSuid(snapshotTree(ex))), asObject(withoutSuid(snap)));
            removeDir(ex);
            checked = true;
          }
        }
        if (!checked) {
          const m = tryMount(img, join(t.context.dir, `mnt-${bs}-${v.name}`));
          if (m.mounted) {
            try {
              t.deepEqual(asObject(snapshotTree(m.dir)), asObject(snap));
              checked = true;
            } finally {
              m.unmount();
            }
          } else {
            t.log(`kernel mount unavailable (${m.reason})`);
          }
        }
        t.deepEqual(asObject(readerSnapshot(img)), asObject(snap));
      }
    });
  }
}
