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
    // A second mount of the image in a domain of its own, read only in the last pass: its files need
    // shared inodes of their own, so that pass takes more slots than the drop before it freed — the
    // re-linked slots and then the never-used ones after them, which the rewind must keep on the list.
    const other = sys.mount(image, { inodeShare: true, domainId: 'e' }).mount;
    const paths = Array.from({ length: FILES }, (_, i) => `/f${i}`);
    // Eviction frees the inodes in the order they were last used and then their shared inodes: without
    // the rewind every pass after the first takes the slots in strides, backwards after a forward pass.
    const passes: { mount: number; path: string }[][] = [
      paths.map((path) => ({ mount, path })),
      [...paths].reverse().map((path) => ({ mount, path })),
      paths.map((path) => ({ mount, path })),
      [...paths.map((path) => ({ mount, path })), ...paths.map((path) => ({ mount: other, path }))],
    ];
    for (const order of passes) {
      sys.dropCaches();
      // What is free now, read from the inode records' state words: the rule says the pass takes these,
      // lowest first.
      const free: number[] = [];
      for (let s = 0; s < inodeSlots(sys.arena); s++) if ((inodeState(sys.arena, s) & I_INUSE) === 0) free.push(s);
      const taken: number[] = [];
      const open = order.map((o) => sys.open(o.mount, o.path)); // held open: nothing is freed during the pass
      for (const f of open) {
        t.not(f.mapping, f.inode, `${f.path} reads through a shared inode`);
        taken.push(f.inode, f.mapping);
      }
      for (const f of open) sys.close(f);
      t.deepEqual(taken, free.slice(0, taken.length), `pass of ${order.length} files from ${order[0].path}`);
    }
  } finally {
    sys.detach();
    removeDir(dir);
  }
});
