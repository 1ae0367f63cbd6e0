// One thread's view of the shared kernel: the arena plus this thread's private caches (parsed images,
// file descriptors, scratch buffers). Every thread that touches the arena — the main thread and each
// worker — has exactly one Kernel per arena. Nothing here is shared; everything shared is in `a`.
import type { Arena } from './mm/arena.ts';
import type { InodeOps } from './vfs/inode.ts';
import type { ErofsSb } from './fs/erofs/super.ts';
import { newMappingOut, type MappingOut } from './erofs/data.ts';
import type { ZCtx } from './fs/erofs/zdata.ts';

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

export class Kernel {
  readonly a: Arena;
  /** Filesystem inode callbacks (fs/erofs/inode.ts), bound to this kernel. */
  ops!: InodeOps;
  /** Per-mount private state: parsed image and fd, by mount slot. */
  readonly sbs: (ErofsSb | undefined)[] = [];
  /** Scratch for readahead batches (frame numbers). */
  readonly raFrames = new Int32Array(256);
  readonly iomap: IomapCtx = {
    real: -1,
    grabbed: false,
    borrowed: false,
    candidates: 0,
    map: newMappingOut(),
    start: 0,
    end: 0,
  };
  /** Scratch of the compressed data path, made on first use. */
  zctx: ZCtx | undefined;
  readonly threadId: number;
  /** Warnings raised by mounts in this thread (e.g. sharing requested but not possible). */
  readonly warnings: string[] = [];

  constructor(a: Arena, threadId: number) {
    this.a = a;
    this.threadId = threadId;
  }
}
