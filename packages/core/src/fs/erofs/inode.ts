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
import { KEY_BAD, KEY_NONE, KEY_OK } from './ishare_keys.ts';
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
      const keys = sb.ishareKeys;
      let e = keys.find(ino.nid);
      if (e < 0) {
        const fp = sb.image.fingerprintResult(ino);
        e =
          fp.status === 'ok'
            ? keys.add(ino.nid, KEY_OK, ishareKey(sb.params.domainId, fp.hex, sb.params.verify === true), fp.hex)
            : keys.add(ino.nid, fp.status === 'bad' ? KEY_BAD : KEY_NONE);
      }
      const kind = keys.kind(e);
      if (kind === KEY_NONE) return;
      if (kind === KEY_BAD) {
        // A value that is not "sha256:" + 32 bytes names no content: refuse to share on it.
        ctrInc(a.i32, CTR.ISHARE_BAD_FINGERPRINT);
        return;
      }
      if (sb.params.verify) {
        if (!ishareVerifyContent(sb, ino, keys.hex(e))) {
          ctrInc(a.i32, CTR.ISHARE_VERIFY_REFUSED);
          return;
        }
        ctrInc(a.i32, CTR.ISHARE_VERIFIED);
      }
      const dataPath = ino.compressed ? DATAPATH_COMPRESSED : DATAPATH_FLAT;
      ishareFillInode(a, slot, keys.keyWords(), keys.keyOffset(e), ino.size, ops, dataPath);
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
