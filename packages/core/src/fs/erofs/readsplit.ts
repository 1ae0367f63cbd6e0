// Where one file's read can be cut between threads (the pool's parallel readahead, ReaderPool.readClaimed
// with `split`): the kernel decodes a compressed readahead's pclusters on several CPUs
// (z_erofs_decompress_queue on a workqueue / per-CPU kthreads) and reads a plain file's folios as
// independent bios. Here a big file is cut into stripes of about `stripe` bytes that reader threads
// claim one at a time; a compressed file is cut only at extent ends, so that each pcluster belongs to
// one stripe. An extent that ends inside a page hands that page to the stripe before the cut (the
// page's head is the extent's tail), so the next stripe starts at a page lying inside its first extent.
// A file whose every page is cached is not cut: the split spreads readahead (device reads, decoding), and
// the kernel's reader copies cached pages itself — two threads copying stripes of a cached file only share
// its inode and the folios at the cuts (measured: ~8% more CPU for a warm pass at 2 workers, 1 MiB stripes).
import type { Kernel } from '../../vfs/kernel.ts';
import type { OpenFile } from '../../vfs/file.ts';
import { PAGE_SIZE } from '../../mm/arena.ts';
import { inodeNrPages } from '../../vfs/inode.ts';
import { newZMapOut } from '../../erofs/zmap.ts';
import { erofsSb } from './super.ts';

/**
 * Cut points of `file` for reads of about `stripe` bytes each: [0, c1, ..., size], strictly increasing,
 * every inner one page-aligned; at most `maxParts` parts (stripes grow to fit). [0, size] when the file
 * is not bigger than one stripe, or when every page of it is cached.
 */
export function erofsReadSplits(k: Kernel, file: OpenFile, stripe: number, maxParts: number): number[] {
  const size = file.size;
  const want = Math.max(PAGE_SIZE, Math.ceil(Math.max(stripe, size / Math.max(1, maxParts)) / PAGE_SIZE) * PAGE_SIZE);
  if (size <= want) return [0, size];
  // Every page cached (nrpages read locklessly, as mapping_empty does): nothing to read ahead.
  if (inodeNrPages(k.a, file.mapping) >= Math.ceil(size / PAGE_SIZE)) return [0, size];
  const cuts = [0];
  if (!file.compressed) {
    for (let c = want; c < size; c += want) cuts.push(c);
  } else {
    // One extent lookup per cut (not a walk of every extent): the cut goes at the end of the extent
    // holding the next stripe's nominal start.
    const image = erofsSb(k, file.mount).image;
    const zm = image.zmapper(image.inode(file.nid));
    const m = newZMapOut();
    for (let at = want; at < size;) {
      zm.mapFull(at, m);
      const cut = Math.ceil((m.la + m.llen) / PAGE_SIZE) * PAGE_SIZE;
      if (cut >= size) break;
      if (cut > cuts[cuts.length - 1]) cuts.push(cut);
      at = Math.max(cut, at) + want;
    }
  }
  cuts.push(size);
  return cuts;
}
