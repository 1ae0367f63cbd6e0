// Inode fill (fs/erofs/inode.c's erofs_fill_inode): the shared record gets the file size; a regular,
// unencoded file with a fingerprint on a sharing mount joins its shared inode (erofs_ishare_fill_inode).
// On a `verify` mount it joins only once its content is proven to match the fingerprint (verify.ts),
// and then a shared inode of proved files only (the key records the proof, ishare.ts ishareKey); a file
// that fails keeps a private page cache and the refusal is counted.
import type { Kernel } from '../../vfs/kernel.ts';
import { erofsSb } from './super.ts';
import { inodeMount, inodeNid, setInodeSize, isAnonInode, type InodeOps } from '../../vfs/inode.ts';
import { mountState, MS_DYING } from '../../vfs/mount.ts';
import { ctrInc, CTR } from './counters.ts';
import { ishareVerifyContent } from './verify.ts';
import {
  ishareInitInode,
  ishareFillInode,
  ishareFreeInode,
  ishareShouldDrop,
  ishareKey,
  ishareFileOpen,
  ishareFadvise,
  DATAPATH_COMPRESSED,
  DATAPATH_FLAT,
} from './ishare.ts';
import type { FileOps } from '../../vfs/file.ts';
import { erofsLookup, erofsInodeAt } from './namei.ts';

/** The erofs InodeOps for kernel `k` (fill, evict, drop), created once per kernel. */
export function erofsInodeOps(k: Kernel): InodeOps {
  const a = k.a;
  const ops: InodeOps = {
    fill(slot: number): void {
      if (isAnonInode(a, slot)) return; // set up by ishareFillInode's initNew
      ishareInitInode(a, slot);
      const m = inodeMount(a, slot);
      const sb = erofsSb(k, m);
      const ino = sb.image.inode(inodeNid(a, slot));
      setInodeSize(a, slot, ino.size);
      if (!sb.shareActive || ino.type !== 'file') return;
      let share = sb.ishareKeys.get(ino.nid);
      if (share === undefined) {
        const fp = sb.image.fingerprintResult(ino);
        share =
          fp.status === 'ok'
            ? { key: ishareKey(sb.params.domainId, fp.hex, sb.params.verify === true), hex: fp.hex }
            : fp.status === 'bad'
              ? 'bad'
              : null;
        sb.ishareKeys.set(ino.nid, share);
      }
      if (share === null) return;
      if (share === 'bad') {
        // A value that is not "sha256:" + 32 bytes names no content: refuse to share on it.
        ctrInc(a.i32, CTR.ISHARE_BAD_FINGERPRINT);
        return;
      }
      if (sb.params.verify) {
        if (!ishareVerifyContent(sb, ino, share.hex)) {
          ctrInc(a.i32, CTR.ISHARE_VERIFY_REFUSED);
          return;
        }
        ctrInc(a.i32, CTR.ISHARE_VERIFIED);
      }
      ishareFillInode(a, slot, share.key, ino.size, ops, ino.compressed ? DATAPATH_COMPRESSED : DATAPATH_FLAT);
    },
    evict(slot: number): void {
      if (!isAnonInode(a, slot)) ishareFreeInode(a, slot, ops);
    },
    drop(slot: number): boolean {
      if (isAnonInode(a, slot)) return ishareShouldDrop(a, slot);
      return mountState(a, inodeMount(a, slot)) === MS_DYING;
    },
  };
  return ops;
}

/**
 * erofs's lookup and file operations for the generic open/fadvise (vfs/open.ts, vfs/fadvise.ts). One
 * table serves both kinds of file: ishareFileOpen leaves a file that is not shared on its own inode, and
 * advice then acts on that inode's mapping.
 */
export const erofsFileOps: FileOps = {
  lookup: erofsLookup,
  inode: erofsInodeAt,
  open: ishareFileOpen,
  fadvise: ishareFadvise,
};
