// Inode fill (fs/erofs/inode.c's erofs_fill_inode): the shared record gets the file size; a regular,
// unencoded file with a fingerprint on a sharing mount joins its shared inode (erofs_ishare_fill_inode).
import type { Kernel } from '../../kernel.ts';
import { erofsSb } from './super.ts';
import { inodeMount, inodeNid, setInodeSize, isDedupInode, type InodeOps } from '../../vfs/inode.ts';
import { mountState, MS_DYING } from '../../vfs/mount.ts';
import { hooksOn } from '../../debug/hooks.ts';
import { ishareInitInode, ishareFillInode, ishareFreeInode, ishareShouldDrop, ishareKey } from './ishare.ts';

/** The erofs InodeOps for kernel `k` (fill, evict, drop), created once per kernel. */
export function erofsInodeOps(k: Kernel): InodeOps {
  const a = k.a;
  const ops: InodeOps = {
    fill(slot: number): void {
      if (isDedupInode(a, slot)) return; // set up by ishareFillInode's initNew
      ishareInitInode(a, slot);
      const m = inodeMount(a, slot);
      const sb = erofsSb(k, m);
      const ino = sb.image.inode(inodeNid(a, slot));
      setInodeSize(a, slot, ino.size);
      if (!sb.shareActive || ino.type !== 'file' || ino.compressed) return;
      let key = hooksOn ? undefined : sb.ishareKeys.get(ino.nid);
      if (key === undefined) {
        // Not cached while stress hooks are live: a planted bug may change how keys are made.
        const fp = sb.image.fingerprint(ino);
        key = fp === undefined ? null : ishareKey(sb.params.domainId, fp);
        if (!hooksOn) sb.ishareKeys.set(ino.nid, key);
      }
      if (key === null) return;
      ishareFillInode(a, slot, key, ino.size, ops);
    },
    evict(slot: number): void {
      if (!isDedupInode(a, slot)) ishareFreeInode(a, slot, ops);
    },
    drop(slot: number): boolean {
      if (isDedupInode(a, slot)) return ishareShouldDrop(a, slot);
      return mountState(a, inodeMount(a, slot)) === MS_DYING;
    },
  };
  return ops;
}
