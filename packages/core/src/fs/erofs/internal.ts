// EROFS's private per-thread state (fs/erofs/internal.h's role): the iomap context of the data path,
// kept on the thread's Kernel (k.fsThread) so that no read allocates one, and the compressed path's
// scratch. vfs/ sees none of it.
import type { Kernel } from '../../vfs/kernel.ts';
import { newMappingOut, type MappingOut } from '../../erofs/data.ts';

export interface IomapCtx {
  /** The real (backing) inode slot for the current mapping, or NIL. */
  real: number;
  /** Whether `real` holds a reference taken by realInode (dropped at iomapEnd). */
  grabbed: boolean;
  /**
   * `real` is not the inode the file opened: a reference borrowed through the shared inode, to an inode
   * (maybe another image's) that nothing else of this thread pins.
   */
  borrowed: boolean;
  /** Backing inodes realInode found on the shared inode's lists at its last call (grabbable or not). */
  candidates: number;
  /** The mapping of the current extent (reused: no allocation per iteration). */
  readonly map: MappingOut;
  /** Extent validity: [start, end) in file bytes; end 0 = none. */
  start: number;
  end: number;
}

export interface ErofsThread {
  readonly iomap: IomapCtx;
  /** Scratch of the compressed data path (fs/erofs/zdata.ts's ZCtx), made on first use. */
  zctx: object | undefined;
}

function newErofsThread(): ErofsThread {
  return {
    iomap: { real: -1, grabbed: false, borrowed: false, candidates: 0, map: newMappingOut(), start: 0, end: 0 },
    zctx: undefined,
  };
}

/** EROFS's state of this thread (EROFS_I_SB's per-thread sibling). */
export function erofsThread(k: Kernel): ErofsThread {
  return (k.fsThread ??= newErofsThread()) as ErofsThread;
}

/** The thread's iomap context. */
export function iomapOf(k: Kernel): IomapCtx {
  return erofsThread(k).iomap;
}
