// The mount's block device: the image is opened once, at mount, and the descriptor lives in the mount
// record until unmount (or the System's creator detaches with the mount still up). Observed through
// /proc/self/fd, the kernel's own view of the process's open files.
import test from 'ava';
import { readlinkSync, readdirSync, renameSync, copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { System } from '../src/system.ts';
import { mountBdev } from '../src/vfs/mount.ts';
import { ErofsError } from '../src/erofs/errors.ts';
import { VfsError } from '../src/vfs/errno.ts';
import { edgeImage, sourceHashes, sha256 } from './helpers/images.ts';
import { removeDir } from '../../../test/helpers/trees.ts';

const built = edgeImage();
test.after.always(() => removeDir(built.dir));

/** The file an open descriptor of this process names, or undefined when it is not open. */
function fdTarget(fd: number): string | undefined {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined;
  }
}
function openImageFds(path: string): number {
  return readdirSync('/proc/self/fd').filter((fd) => fdTarget(Number(fd))?.startsWith(path)).length;
}

test.serial('one descriptor per mount, opened at mount, kept across a rename-over, closed at unmount', (t) => {
  const live = join(built.dir, 'live.img');
  copyFileSync(built.image, live);
  const sys = System.create({ poolMiB: 8 });
  try {
    const m = sys.mount(live).mount;
    const fd = mountBdev(sys.arena, m);
    t.is(fdTarget(fd), live, 'the mount record names a descriptor of the image');
    t.is(openImageFds(live), 1, 'exactly one descriptor: the check at mount used it too');
    // Replace the file by name: the mount still holds (and reads) the original, now unlinked.
    writeFileSync(join(built.dir, 'other.img'), 'not an image');
    renameSync(join(built.dir, 'other.img'), live);
    t.is(fdTarget(fd), `${live} (deleted)`);
    const want = sourceHashes(built.src);
    for (const f of sys.listFiles(m)) {
      const file = sys.open(m, f.path);
      try {
        t.is(sha256(sys.readAll(file)), want.get(f.path) ?? 'not in the source tree', f.path);
      } finally {
        sys.close(file);
      }
    }
    sys.unmount(m);
    t.is(fdTarget(fd), undefined, 'closed at unmount');
    // A busy unmount fails (the mount stays dying, as before) and keeps the device until the owner goes.
    const m2 = sys.mount(built.image).mount;
    const fd2 = mountBdev(sys.arena, m2);
    const busy = sys.open(m2, sys.listFiles(m2)[0].path);
    t.throws(() => sys.unmount(m2, 20), { instanceOf: VfsError, message: /still open/ });
    t.is(fdTarget(fd2), built.image, 'a failed unmount keeps the device');
    sys.close(busy);
    sys.detach();
    t.is(fdTarget(fd2), undefined, "closed by the creator's detach");
  } finally {
    sys.detach();
  }
});

test.serial("the creator's detach closes the descriptors of mounts left up; a worker-side detach would not", (t) => {
  const sys = System.create({ poolMiB: 8 });
  const m1 = sys.mount(built.image);
  const m2 = sys.mount(built.image, { inodeShare: true, domainId: 'd' });
  const fds = [mountBdev(sys.arena, m1.mount), mountBdev(sys.arena, m2.mount)];
  t.deepEqual(
    fds.map((fd) => fdTarget(fd)),
    [built.image, built.image],
  );
  // An attached System (what a worker holds) releases only its parsed images.
  const other = System.attach(sys.handle);
  other.listFiles(m1.mount);
  other.detach();
  t.deepEqual(
    fds.map((fd) => fdTarget(fd)),
    [built.image, built.image],
  );
  sys.detach();
  t.deepEqual(
    fds.map((fd) => fdTarget(fd)),
    [undefined, undefined],
  );
});

test.serial('a mount that fails its check leaves no descriptor behind', (t) => {
  const bad = join(built.dir, 'bad.img');
  writeFileSync(bad, Buffer.alloc(8192));
  const sys = System.create({ poolMiB: 8 });
  try {
    t.throws(() => sys.mount(bad), { instanceOf: ErofsError });
    t.is(openImageFds(bad), 0);
    t.throws(() => sys.mount(join(built.dir, 'missing.img')), { instanceOf: ErofsError, message: /cannot open/ });
  } finally {
    sys.detach();
  }
});
