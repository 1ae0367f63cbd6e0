// Superblock teardown (fs/super.c's generic_shutdown_super, with the wait umount(2) does first):
// filesystem-independent, so a filesystem's kill_sb (fs/erofs/super.ts) calls it and then frees its own
// per-mount state.
import type { Kernel } from './kernel.ts';
import { ctrInc, CTR } from './counters.ts';
import { tryEvict, forEachInode, inodeMount, rcuBatch, I_ANON } from './inode.ts';
import { mountFree, mountSetDying, mountState, mountOpenCount, mountPutUser, MS_ACTIVE } from './mount.ts';
import { VfsError } from './errno.ts';
import { reportCheckFailure, invariantsOn, InvariantViolation } from '../mm/checkfail.ts';

/**
 * deactivate_super: one mount of superblock m goes away. Returns whether it was the last user — then the
 * caller runs the teardown (its kill_sb); otherwise the superblock, its inodes and their pages stay for
 * the mounts still using it (superblock_share).
 */
export function deactivateSuper(k: Kernel, m: number): boolean {
  return mountPutUser(k.a, m) === 0;
}

/**
 * umount: refuse new opens, wait (bounded) for open files to close, evict every inode of the mount —
 * detaching them from shared inodes, whose cached pages stay valid for the other images — and free the
 * slot.
 */
export function genericShutdownSuper(k: Kernel, m: number, timeoutMs: number): void {
  const a = k.a;
  if (mountState(a, m) !== MS_ACTIVE) throw new VfsError('EINVAL', `mount ${m} is not mounted`);
  mountSetDying(a, m);
  const deadline = Date.now() + timeoutMs;
  const nap = new Int32Array(new SharedArrayBuffer(4));
  while (mountOpenCount(a, m) > 0) {
    if (Date.now() > deadline)
      throw new VfsError('EIO', `unmount of mount ${m}: ${mountOpenCount(a, m)} files still open`);
    Atomics.wait(nap, 0, 0, 1);
  }
  superSteps.evictSuperInodes(k, m, deadline);
  if (invariantsOn) {
    // generic_shutdown_super's "VFS: Busy inodes after unmount": nothing may still hold an inode of a
    // superblock that goes away.
    let busy = 0;
    forEachInode(a, (slot, st) => {
      if (!(st & I_ANON) && inodeMount(a, slot) === m) busy++;
    });
    if (busy)
      reportCheckFailure(new InvariantViolation(`busy inodes after unmount of mount ${m}: ${busy} still in use`));
  }
  mountFree(a, m);
}

/** One pass over the inodes of mount m: evict each unused one; returns how many are still referenced. */
export function evictInodesOnce(k: Kernel, m: number): number {
  const a = k.a;
  let left = 0;
  rcuBatch(() =>
    forEachInode(a, (slot, st) => {
      if (st & I_ANON || inodeMount(a, slot) !== m) return;
      if (!tryEvict(a, slot, k.ops)) left++;
    }),
  );
  if (left > 0) ctrInc(a.i32, CTR.UNMOUNT_SWEEP_BUSY);
  return left;
}

/**
 * Evict every inode of mount m, waiting (until `deadline`, ms since the epoch) for the busy ones: a reader
 * of a shared inode mapping through one right now (iomapBegin holds it until iomapEnd) lets go soon.
 */
function evictSuperInodes(k: Kernel, m: number, deadline: number): void {
  const nap = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    const left = evictInodesOnce(k, m);
    if (left === 0) return;
    if (Date.now() > deadline) throw new VfsError('EIO', `unmount of mount ${m}: ${left} inodes still referenced`);
    Atomics.wait(nap, 0, 0, 1);
  }
}

/**
 * The steps of unmount, one function each, that production code calls through. Entries are the correct
 * implementations; the stress harness's planted bugs (debug/bugs/) install their own version of one of
 * them in their thread, so a user runs the very code a clean stress run tests.
 */
export interface SuperSteps {
  /** evict_inodes for a superblock going away: every inode of mount m, busy ones waited for. */
  evictSuperInodes: (k: Kernel, m: number, deadline: number) => void;
}
export const SUPER_STEPS: Readonly<SuperSteps> = Object.freeze({ evictSuperInodes });
/** This thread's steps (the correct ones unless the stress harness planted a bug). */
export const superSteps: SuperSteps = { ...SUPER_STEPS };
