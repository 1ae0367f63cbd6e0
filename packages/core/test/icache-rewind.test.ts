// drop_caches hands inode slots back lowest first (vfs/inode.ts inodeSlotsRewind): after a drop, the
// inodes a pass creates take the free records in ascending order, each shared file's shared inode the
// free record right after its own — as a slab cache hands out the objects of a slab side by side —
// whatever order eviction freed them in.
import test from 'ava';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { System, mkfs } from '@ishare/core';
import { inodeState, inodeSlots, I_INUSE } from '../src/vfs/inode.ts';
import { seededBytes, tempDir, removeDir } from '../../../test/helpers/trees.ts';

const FILES = 12;

test('after drop_caches each file and its shared inode take the lowest free inode slots, in order', async (t) => {
  const dir = tempDir('ishare-icache-rewind-');
  const sys = System.create({ poolMiB: 16, inodeSlots: 256 });
  try {
    const src = join(dir, 'src');
    mkdirSync(src);
    // Distinct contents: every file gets a shared inode of its own.
    for (let i = 0; i < FILES; i++) writeFileSync(join(src, `f${i}`), seededBytes(5000 + i, i + 1));
    const image = join(dir, 'a.img');
    await mkfs({ out: image, source: src, timestamp: 1_700_000_000, fingerprint: true });
    const { mount } = sys.mount(image, { inodeShare: true, domainId: 'd' });
    const paths = Array.from({ length: FILES }, (_, i) => `/f${i}`);
    // Forward, then backward, then forward: eviction frees the inodes in the order they were last used,
    // so without the rewind a pass after a backward one would take the slots in a scrambled order.
    for (const order of [paths, [...paths].reverse(), paths, [...paths].reverse()]) {
      sys.dropCaches();
      // What is free now, read from the inode records' state words: the rule says the pass takes these,
      // lowest first.
      const free: number[] = [];
      for (let s = 0; s < inodeSlots(sys.arena); s++) if ((inodeState(sys.arena, s) & I_INUSE) === 0) free.push(s);
      const taken: number[] = [];
      const open = order.map((p) => sys.open(mount, p)); // held open: nothing is freed during the pass
      for (const f of open) {
        t.not(f.mapping, f.inode, `${f.path} reads through a shared inode`);
        taken.push(f.inode, f.mapping);
      }
      for (const f of open) sys.close(f);
      t.deepEqual(taken, free.slice(0, taken.length), `order ${order[0]}..${order[order.length - 1]}`);
    }
  } finally {
    sys.detach();
    removeDir(dir);
  }
});
