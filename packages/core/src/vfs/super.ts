// Superblock teardown (fs/super.c's generic_shutdown_super, with the wait umount(2) does first):
// filesystem-independent, so a filesystem's kill_sb (fs/erofs/super.ts) calls it and then frees its own
// per-mount state.
import type { Kernel } from '../kernel.ts';
import { ctrInc, CTR } from '../mm/counters.ts';
import { tryEvict, forEachInode, inodeMount, rcuBatch, I_DEDUP } from './inode.ts';
import { mountFree, mountSetDying, mountState, mountOpenCount, MS_ACTIVE } from './mount.ts';
import { ErofsError } from '../erofs/errors.ts';
import { hooksOn, bugOn, BUG, InvariantViolation } from '../debug/hooks.ts';
import { reportCheckFailure } from '../mm/checkfail.ts';

/**
 * umount: refuse new opens, wait (bounded) for open files to close, evict every inode of the mount —
 * detaching them from shared inodes, whose cached pages stay valid for the other images — and free the
 * slot.
 */
export function genericShutdownSuper(k: Kernel, m: number, timeoutMs: number): void {
  const a = k.a;
  if (mountState(a, m) !== MS_ACTIVE) throw new ErofsError('EINVAL', `mount ${m} is not mounted`);
  mountSetDying(a, m);
  const deadline = Date.now() + timeoutMs;
  const nap = new Int32Array(new SharedArrayBuffer(4));
  while (mountOpenCount(a, m) > 0) {
    if (Date.now() > deadline)
      throw new ErofsError('EIO', `unmount of mount ${m}: ${mountOpenCount(a, m)} files still open`);
    Atomics.wait(nap, 0, 0, 1);
  }
  for (;;) {
    let left = 0;
    rcuBatch(() =>
      forEachInode(a, (slot, st) => {
        if (st & I_DEDUP || inodeMount(a, slot) !== m) return;
        if (!tryEvict(a, slot, k.ops)) left++;
      }),
    );
    // The planted UNMOUNT_BUSY does what evict_inodes does with busy inodes: skips them, and the
    // superblock goes away under whoever holds them.
    if (left > 0) ctrInc(a.i32, CTR.UNMOUNT_BUSY);
    if (left === 0 || bugOn(BUG.UNMOUNT_BUSY)) break;
    // Still referenced: a reader of a shared inode is mapping through it right now (iomapBegin holds
    // it until iomapEnd). That reference is short-lived.
    if (Date.now() > deadline) throw new ErofsError('EIO', `unmount of mount ${m}: ${left} inodes still referenced`);
    Atomics.wait(nap, 0, 0, 1);
  }
  if (hooksOn) {
    // generic_shutdown_super's "VFS: Busy inodes after unmount": nothing may still hold an inode of a
    // superblock that goes away.
    let busy = 0;
    forEachInode(a, (slot, st) => {
      if (!(st & I_DEDUP) && inodeMount(a, slot) === m) busy++;
    });
    if (busy)
      reportCheckFailure(new InvariantViolation(`busy inodes after unmount of mount ${m}: ${busy} still in use`));
  }
  mountFree(a, m);
}
