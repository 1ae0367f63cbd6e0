// One thread's view of the shared kernel: the arena plus this thread's private state. Every thread that
// touches the arena — the main thread and each worker — has exactly one Kernel per arena. Nothing here
// is shared; everything shared is in `a`. The filesystem's private state hangs off it as the kernel hangs
// a filesystem's off its superblock (s_fs_info): opaque to vfs/, set and read by the filesystem only.
import type { Arena } from '../mm/arena.ts';
import type { InodeOps } from './inode.ts';
import { countersAttach } from '../mm/counters.ts';
import { pagePoolAttach } from '../mm/pagepool.ts';

/** A filesystem's per-mount private state (s_fs_info): the filesystem's own type, opaque here. */
export type SuperBlockInfo = object;
/** A filesystem's per-thread private state (scratch of its data path): its own type, opaque here. */
export type FsThreadInfo = object;

export class Kernel {
  readonly a: Arena;
  /** Filesystem inode callbacks, bound to this kernel. */
  ops!: InodeOps;
  /** Per-mount private state of the filesystem, by mount slot (s_fs_info). */
  readonly sbs: (SuperBlockInfo | undefined)[] = [];
  /** Per-thread private state of the filesystem, made by it on first use. */
  fsThread: FsThreadInfo | undefined;
  /** Scratch for readahead batches (frame numbers). */
  readonly raFrames = new Int32Array(256);
  readonly threadId: number;
  /** Warnings raised by mounts in this thread (e.g. sharing requested but not possible). */
  readonly warnings: string[] = [];

  constructor(a: Arena, threadId: number) {
    this.a = a;
    this.threadId = threadId;
    countersAttach(threadId);
    pagePoolAttach(threadId);
  }
}
