// Reading pclusters from the device in runs (the kernel's z_erofs_submit_queue, which merges the bios
// of physically consecutive pclusters into one): mkfs.erofs writes a file's pclusters one after another
// and files in order, so the pcluster a reader needs next is usually right behind the one it just read.
// One read of a window of the device serves the pclusters inside it; a pread per 4 KiB pcluster cost
// more than decoding it. The window is per thread and holds only image bytes (a read-only source).
import type { BlockSource } from './types.ts';

/** Bytes read ahead per device read at most (the block layer's default readahead, 128 KiB). */
export const ZBIO_WINDOW = 128 * 1024;
/**
 * The window of a read that does not continue the last one (another file's first pcluster, usually):
 * it doubles while reads continue where the window ended, up to ZBIO_WINDOW — the kernel's readahead
 * ramp. A fixed 128 KiB for every such read copied 1.7× the image's bytes per fill of the bundled
 * pair: files are read in directory order, not in the order mkfs wrote their data, so the window of a
 * small file's pclusters was mostly bytes nobody asked for next.
 */
export const ZBIO_WINDOW_MIN = 16 * 1024;

// The windows of this thread that hold bytes, so that closing an image forgets them: a read through
// a closed image must fail as the image's own read does (a use after unmount is a finding), not be
// served from a window filled before.
const holding = new Set<ZReadWindow>();

/** Forget every window of this thread that holds bytes of `src` (the image is being closed). */
export function zbioForget(src: BlockSource): void {
  for (const w of holding) if (w.holds(src)) w.drop();
}

export class ZReadWindow {
  private buf = new Uint8Array(0);
  private src: BlockSource | null = null;
  private lo = 0;
  private hi = 0;
  /** The size of the last read's window (the next sequential one doubles it). */
  private win = 0;
  /** Device reads made / pclusters served / bytes read (for measuring). */
  reads = 0;
  served = 0;
  bytes = 0;

  /**
   * Image bytes [pa, pa + plen): a view of this window (valid until the next call), read with the
   * bytes behind it when it does not hold them. A range past the image's end reads exactly (and fails
   * as the source fails). The caller may overwrite the view's bytes only if it restores them.
   */
  read(src: BlockSource, pa: number, plen: number): Uint8Array {
    this.served++;
    if (src !== this.src || pa < this.lo || pa + plen > this.hi) {
      const end = pa + plen;
      // Sequential: the pcluster runs past the window's end, or starts a little behind it.
      const sequential = src === this.src && pa >= this.lo && pa - this.hi < ZBIO_WINDOW;
      const win = sequential ? Math.min(ZBIO_WINDOW, 2 * this.win) : ZBIO_WINDOW_MIN;
      this.win = win;
      let hi = end > src.size ? end : Math.min(src.size, Math.max(end, pa + win));
      if (this.buf.length < hi - pa) this.buf = new Uint8Array(Math.max(hi - pa, ZBIO_WINDOW));
      this.src = null; // a failed read leaves nothing behind
      try {
        src.read(this.buf.subarray(0, hi - pa), pa);
      } catch (e) {
        // An address space with gaps (the metabox above the image, extra devices) can end a readable
        // range before `size`: the bytes behind the pcluster are only a guess, so read exactly what
        // was asked, which fails only as that read itself fails.
        if (hi === end) throw e;
        hi = end;
        src.read(this.buf.subarray(0, plen), pa);
      }
      this.reads++;
      this.bytes += hi - pa;
      this.src = src;
      this.lo = pa;
      this.hi = hi;
      holding.add(this);
    }
    const at = pa - this.lo;
    return this.buf.subarray(at, at + plen);
  }

  holds(src: BlockSource): boolean {
    return this.src === src;
  }

  /** Forget the window (the next read goes to the device). */
  drop(): void {
    this.src = null;
    this.lo = this.hi = 0;
    holding.delete(this);
  }
}
