// The shared-memory kernel, single thread: every byte equal to the source, the page-cache figure equal
// to the fincore figure (pages per distinct inode), hits on a second read, readahead window growth.
import test from 'ava';
import { System } from '@ishare/core';
import { edgeImage, sourceHashes, sha256 } from './helpers/images.ts';
import { removeDir } from '../../../test/helpers/trees.ts';

for (const variant of [[], ['--chunksize=4096'], ['--chunksize=65536'], ['-Eforce-inode-compact']]) {
  test(`reads every file of a mkfs.erofs image ${variant.join(' ') || '(default)'} byte for byte`, (t) => {
    const img = edgeImage(variant, { bigDir: false });
    const sys = System.create({ poolMiB: 64 });
    try {
      const { mount } = sys.mount(img.image);
      const want = sourceHashes(img.src);
      const files = sys.listFiles(mount);
      t.is(files.length, want.size);
      const nids = new Map<number, number>();
      for (const f of files) {
        const file = sys.open(mount, f.path);
        t.is(sha256(sys.readAll(file)), want.get(f.path)!, f.path);
        sys.close(file);
        nids.set(f.nid, Math.ceil(f.size / 4096));
      }
      const pages = [...nids.values()].reduce((x, y) => x + y, 0);
      const st = sys.stats();
      t.is(st.filePages, pages, 'one frame per page of each distinct inode');
      t.is(st.pageCacheBytes, pages * 4096);
      t.is(st.counters.DEVICE_PAGES, pages, 'each page read from the device once');
      // Second pass: everything is a hit, nothing more from the device.
      sys.resetStats();
      for (const f of files) {
        const file = sys.open(mount, f.path);
        t.is(sha256(sys.readAll(file)), want.get(f.path)!);
        sys.close(file);
      }
      const st2 = sys.stats();
      t.is(st2.counters.DEVICE_PAGES, 0);
      t.is(st2.counters.MISSES, 0);
      t.true(st2.counters.HITS >= pages);
      sys.unmount(mount);
      t.is(sys.stats().filePages, 0, 'unmount drops the pages');
      t.is(sys.stats().inodesInUse, 0, 'unmount evicts every inode');
    } finally {
      sys.detach();
      removeDir(img.dir);
    }
  });
}

test('range reads at odd offsets equal the source', (t) => {
  const img = edgeImage([], { bigDir: false });
  const sys = System.create({ poolMiB: 16 });
  try {
    const { mount } = sys.mount(img.image);
    const file = sys.open(mount, '/big.bin');
    const whole = sys.readAll(file);
    for (const [off, len] of [
      [0, 1],
      [4095, 2],
      [4096, 4096],
      [12345, 100000],
      [whole.length - 10, 100],
      [whole.length, 10],
    ]) {
      const dst = Buffer.alloc(len);
      const n = sys.read(file, off, len, dst);
      t.is(n, Math.max(0, Math.min(len, whole.length - off)));
      t.true(dst.subarray(0, n).equals(whole.subarray(off, off + n)));
    }
    sys.close(file);
  } finally {
    sys.detach();
    removeDir(img.dir);
  }
});

test('sequential reads grow the readahead window (fewer readahead calls than pages)', (t) => {
  const img = edgeImage([], { bigDir: false });
  const sys = System.create({ poolMiB: 16 });
  try {
    const { mount } = sys.mount(img.image);
    const file = sys.open(mount, '/big.bin');
    const buf = Buffer.alloc(4096);
    for (let pos = 0; pos < file.size; pos += 4096) sys.read(file, pos, 4096, buf);
    const st = sys.stats();
    const pages = Math.ceil(file.size / 4096);
    t.is(st.counters.DEVICE_PAGES, pages);
    // 4 + 8 + 16 + 32 + 32 ... pages per call: about pages/32 calls, far fewer than one per page.
    t.true(
      st.counters.READAHEAD_CALLS < pages / 16,
      `readahead calls ${st.counters.READAHEAD_CALLS} for ${pages} pages`,
    );
    sys.close(file);
  } finally {
    sys.detach();
    removeDir(img.dir);
  }
});

test('readahead populates without copying; later reads hit', (t) => {
  const img = edgeImage([], { bigDir: false });
  const sys = System.create({ poolMiB: 16 });
  try {
    const { mount } = sys.mount(img.image);
    const file = sys.open(mount, '/big.bin');
    const n = sys.readahead(file, 0, 1 << 20);
    t.is(n, 256);
    sys.resetStats();
    sys.read(file, 0, 1 << 20, Buffer.alloc(1 << 20));
    t.is(sys.stats().counters.DEVICE_PAGES, 0);
    sys.close(file);
  } finally {
    sys.detach();
    removeDir(img.dir);
  }
});
