// Where an image's bytes come from: straight from the image file through the reader (ErofsImage), or
// through a mount of the kernel model (System), where file data goes through the shared page cache.
// Metadata (path walk, stat, readdir, readlink, xattrs) comes from the parsed image either way: the
// kernel model keeps it per thread, outside the page cache, as EROFS keeps it in its own caches.
import { ErofsImage } from '../erofs/image.ts';
import type { ErofsInode } from '../erofs/types.ts';
import { erofsSb } from '../fs/erofs/super.ts';
import type { MountOptions, System } from '../system.ts';

/** One opened regular file: positional reads until it is closed. */
export interface FileReader {
  /** Copy up to dst.length bytes from `pos` into dst; 0 at or past the end of the file. */
  read(pos: number, dst: Uint8Array): number;
  close(): void;
}

export interface Backend {
  readonly image: ErofsImage;
  /** Open the regular file `inode`, found at `path`. */
  openFile(path: string, inode: ErofsInode): FileReader;
  close(): void;
}

/** Reads straight from the image file, through this thread's reader. */
export class DirectBackend implements Backend {
  readonly image: ErofsImage;

  /** `devices`: a multi-device image's extra devices in table order (as the mount option takes them). */
  constructor(imagePath: string, devices?: readonly string[]) {
    this.image = ErofsImage.open(imagePath, undefined, devices !== undefined ? { paths: devices } : undefined);
  }

  openFile(_path: string, inode: ErofsInode): FileReader {
    const image = this.image;
    return {
      read(pos: number, dst: Uint8Array): number {
        const n = Math.max(0, Math.min(dst.length, inode.size - pos));
        if (n === 0) return 0;
        image.readInto(inode, dst.subarray(0, n), pos);
        return n;
      },
      close(): void {
        /* nothing held per file */
      },
    };
  }

  close(): void {
    this.image.close();
  }
}

/** Reads through a mount of the kernel model: System.open/read/close, so page-cache figures move. */
export class MountedBackend implements Backend {
  readonly system: System;
  readonly mount: number;

  constructor(system: System, imagePath: string, opts: MountOptions) {
    this.system = system;
    this.mount = system.mount(imagePath, opts).mount;
  }

  get image(): ErofsImage {
    return erofsSb(this.system.kernel, this.mount).image;
  }

  openFile(path: string): FileReader {
    const system = this.system;
    const file = system.open(this.mount, path);
    return {
      read: (pos: number, dst: Uint8Array): number =>
        pos >= file.size ? 0 : system.read(file, pos, dst.length, dst, 0),
      close: (): void => {
        system.close(file);
      },
    };
  }

  close(): void {
    this.system.unmount(this.mount);
  }
}
