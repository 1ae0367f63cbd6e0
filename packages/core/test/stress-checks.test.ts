// The stress checkers on their own, deterministically (one thread): the lock checks see a structure
// touched without its lock whatever code path did it; a reader holding another image's inode across that
// image's unmount is caught by the superblock invariant — the situation UNMOUNT_BUSY leaves behind.
import test from 'ava';
import { System, VfsError } from '@ishare/core';
import { BUG, InvariantViolation, checkQuiescent, takeCheckFailure } from '@ishare/core/stress';
import { sharedInodeView, realInode, readBegin, POLICY_ANY } from '../src/fs/erofs/ishare.ts';
import { iput, inodeMount } from '../src/vfs/inode.ts';
import { versionPair } from './helpers/share-trees.ts';
import { removeDir } from '../../../test/helpers/trees.ts';

const pairP = versionPair();
test.after.always(async () => removeDir((await pairP).dir));

/** Image b's file open; image a's copy filled last, so the backing list's head (policy any) is a's. */
function setup(
  sys: System,
  images: string[],
): { a: number; b: number; fb: ReturnType<System['open']>; dedup: number; aInode: number } {
  const b = sys.mount(images[1], { inodeShare: true, domainId: 'd' }).mount;
  const a = sys.mount(images[0], { inodeShare: true, domainId: 'd' }).mount;
  const fb = sys.open(b, '/lib/libc.so.6');
  const fa = sys.open(a, '/lib/libc.so.6');
  const aInode = fa.inode;
  sys.close(fa);
  return { a, b, fb, dedup: fb.mapping, aInode };
}

test.serial(
  "a reader holding another image's inode: correct unmount waits for it; with UNMOUNT_BUSY the read through it and the quiescence check both fail",
  async (t) => {
    const pair = await pairP;
    for (const planted of [false, true]) {
      const sys = System.create({
        poolMiB: 16,
        policy: 'any',
        inject: planted ? BUG.UNMOUNT_BUSY : 0,
        lockChecks: true,
        raceDetector: true,
        invariants: true,
      });
      try {
        const { a, fb, dedup, aInode } = setup(sys, pair.images);
        t.is(sharedInodeView(sys.arena, dedup).backing[0], aInode);
        const out = { grabbed: false, candidates: 0 };
        const real = realInode(sys.arena, dedup, POLICY_ANY, out); // image b's reader, mid-mapping
        t.is(real, aInode);
        t.is(inodeMount(sys.arena, real), a);
        if (!planted) {
          const err = t.throws(() => sys.unmount(a, 100), { instanceOf: VfsError });
          t.regex(err?.message ?? '', /still referenced/);
          iput(sys.arena, real, sys.kernel.ops); // its mount is dying: the last iput evicts it
          t.false(sharedInodeView(sys.arena, dedup).backing.includes(aInode), 'evicted once the reader let go');
          t.true(sys.readAll(fb).length > 0, 'the other image reads on');
        } else {
          sys.unmount(a, 100); // returns at once: the busy inode was skipped
          const busy = takeCheckFailure();
          t.is(busy?.detector, 'invariant');
          t.regex(busy?.message ?? '', /busy inodes after unmount of mount \d+: 1 still in use/);
          iput(sys.arena, real, sys.kernel.ops);
          t.true(
            checkQuiescent(sys.arena).some((v) => /outlived the unmount/.test(v)),
            'quiescence: an inode of a freed mount',
          );
          const err = t.throws(() => sys.readAll(fb), { instanceOf: InvariantViolation });
          t.regex(err?.message ?? '', /unmounted under the read/);
        }
        sys.close(fb);
      } finally {
        sys.detach();
      }
    }
  },
);

test.serial(
  'lock checks: a processing list changed without its lock is reported at the use site, whoever called it',
  async (t) => {
    const pair = await pairP;
    const sys = System.create({ poolMiB: 16, lockChecks: true });
    try {
      const { fb, dedup } = setup(sys, pair.images);
      t.is(takeCheckFailure(), undefined);
      readBegin(sys.arena, fb.inode, dedup); // correct code: takes the shared inode's lock itself
      t.is(takeCheckFailure(), undefined);
      // The planted bug's path reaches the same use site without the lock; the check sits at the use site.
      sys.close(fb);
      const sys2 = System.create({ poolMiB: 16, lockChecks: true, inject: BUG.PROC_COUNT_NOLOCK });
      try {
        const s2 = setup(sys2, pair.images);
        readBegin(sys2.arena, s2.fb.inode, s2.dedup);
        const f = takeCheckFailure();
        t.is(f?.detector, 'lock-check');
        t.regex(
          f?.message ?? '',
          /readBegin changed the processingCount of a backing inode \(\d+\) without holding its shared inode's vi->lock/,
        );
        sys2.close(s2.fb);
      } finally {
        sys2.detach();
      }
    } finally {
      sys.detach();
    }
  },
);
