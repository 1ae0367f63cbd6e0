// The kernel pass: the same damaged image mounted in the shared-memory kernel with inode_share, every
// regular file the reader's walk found opened and read through the page cache, then unmounted, and
// the kernel's quiescent invariants checked (a failed read must not leave a page locked or pinned).
// The kernel opens images by path, so the bytes go to a per-worker scratch file first.
import { closeSync, ftruncateSync, openSync, rmSync, writeSync } from 'node:fs';
import { System } from '../system.ts';
import { checkQuiescent } from '../debug/invariants.ts';
import { Finding, type Recorder } from './outcome.ts';
import { SAMPLE_LEN, sampleOffsets, type ReaderResult } from './reader-pass.ts';

export interface KernelPassOptions {
  /** Page pool of the fuzzing kernel (MiB). */
  poolMiB?: number;
}

/** One kernel reused across images (creating an arena per image would dominate the run time). */
export class FuzzKernel {
  readonly path: string;
  private sys: System;
  /** Kept open and rewritten in place: truncating and refilling a file by name costs a flush on ext4. */
  private readonly fd: number;
  private images = 0;
  private readonly poolMiB: number;

  constructor(scratchPath: string, opts: KernelPassOptions = {}) {
    this.path = scratchPath;
    this.poolMiB = opts.poolMiB ?? 8;
    this.fd = openSync(scratchPath, 'w+');
    this.sys = this.fresh();
  }

  private fresh(): System {
    return System.create({ poolMiB: this.poolMiB, inodeSlots: 4096, mountSlots: 4 });
  }

  /** After a crash the shared state may be inconsistent: start over with a new kernel. */
  reset(): void {
    try {
      this.sys.detach();
    } catch {
      /* the old kernel is dropped either way */
    }
    this.sys = this.fresh();
  }

  close(): void {
    try {
      this.sys.detach();
    } finally {
      closeSync(this.fd);
      rmSync(this.path, { force: true });
    }
  }

  run(bytes: Uint8Array, reader: ReaderResult, rec: Recorder, cap: number): void {
    const sys = this.sys;
    writeSync(this.fd, bytes, 0, bytes.length, 0);
    ftruncateSync(this.fd, bytes.length);
    // A domain per image: shared inodes (and their cached pages) never carry over to the next image.
    const domainId = `fuzz-${this.images++}`;
    let m: number;
    try {
      m = sys.mount(this.path, { inodeShare: true, domainId }).mount;
    } catch (e) {
      rec.note(e, 'kernel');
      return;
    }
    let failed: unknown;
    try {
      for (const f of reader.files) this.readOne(sys, m, f.path, reader, rec, cap);
    } catch (e) {
      failed = e;
    }
    try {
      sys.unmount(m, 2000);
    } catch (e) {
      failed ??= new Finding(
        'crash',
        'kernel',
        `unmount failed after reading: ${(e as Error).message}`,
        (e as Error).stack,
      );
    }
    if (failed === undefined) {
      const v = checkQuiescent(sys.arena);
      if (v.length > 0)
        failed = new Finding(
          'crash',
          'kernel',
          `kernel state after unmount: ${v[0]}${v.length > 1 ? ` (+${v.length - 1} more)` : ''}`,
        );
    }
    if (this.images % 256 === 0) sys.dropCaches();
    if (failed !== undefined) {
      if (failed instanceof Finding && failed.kind === 'crash') this.reset();
      throw failed;
    }
  }

  private readOne(sys: System, m: number, path: string, reader: ReaderResult, rec: Recorder, cap: number): void {
    let file;
    try {
      file = sys.open(m, path);
    } catch (e) {
      rec.note(e, 'kernel');
      return;
    }
    const f = file;
    try {
      if (f.size <= cap) {
        // A ranged read first (a readahead window that starts mid-file), then the whole file, which
        // re-reads through read_folio any page the first read left in error.
        const pos = f.size === 0 ? 0 : (f.nid * 2654435761) % f.size;
        const len = Math.min(f.size - pos, 1 + ((f.nid * 40503) % 20000));
        const part = new Uint8Array(len);
        try {
          const n = sys.read(f, pos, len, part);
          if (!this.acceptable(f.nid, part.subarray(0, n), reader.data, pos, reader.fingerprints)) {
            throw new Finding(
              'wrong',
              'kernel',
              `${path} (nid ${f.nid}): the kernel read ${n} bytes at ${pos} that differ from the reader's`,
            );
          }
        } catch (e) {
          rec.note(e, 'kernel');
        }
        const got = sys.readAll(f);
        rec.out.filesRead++;
        if (!this.acceptable(f.nid, got, reader.data, 0, reader.fingerprints)) {
          throw new Finding(
            'wrong',
            'kernel',
            `${path} (nid ${f.nid}): the kernel read ${got.length} bytes that differ from the reader's`,
          );
        }
      } else {
        const got = Buffer.concat(
          sampleOffsets(f.size).map((off) => {
            const b = new Uint8Array(SAMPLE_LEN);
            const n = sys.read(f, off, SAMPLE_LEN, b);
            return b.subarray(0, n);
          }),
        );
        rec.out.filesRead++;
        if (!this.acceptable(f.nid, got, reader.samples, 0, reader.fingerprints)) {
          throw new Finding(
            'wrong',
            'kernel',
            `${path} (nid ${f.nid}): the kernel's samples of ${f.size} bytes differ from the reader's`,
          );
        }
      }
    } catch (e) {
      rec.note(e, 'kernel');
      // Once more after the failure: pages left in error are re-read (read_folio), and must fail
      // the same typed way or give the right bytes; nothing may stay locked.
      try {
        const n = Math.min(f.size, SAMPLE_LEN);
        const b = new Uint8Array(n);
        const got = b.subarray(0, sys.read(f, 0, n, b));
        const table = f.size <= cap ? reader.data : reader.samples;
        if (!this.acceptable(f.nid, got, table, 0, reader.fingerprints)) {
          throw new Finding(
            'wrong',
            'kernel',
            `${path} (nid ${f.nid}): a retried read gave bytes that differ from the reader's`,
          );
        }
      } catch (e2) {
        rec.note(e2, 'kernel');
      }
    } finally {
      sys.close(f);
    }
  }

  /**
   * The kernel's bytes must be what the reader read for that inode, or (inode sharing) what it read for
   * another file with the same fingerprint and size: sharing trusts the fingerprint, so a forged one
   * legitimately serves another file's pages. A file the reader could not read has nothing to compare.
   */
  private acceptable(
    nid: number,
    got: Uint8Array,
    table: ReadonlyMap<number, Uint8Array>,
    at: number,
    fps: ReadonlyMap<number, string>,
  ): boolean {
    const same = (b: Uint8Array | undefined): boolean =>
      b !== undefined &&
      Buffer.from(b.buffer, b.byteOffset, b.byteLength)
        .subarray(at, at + got.length)
        .equals(got);
    const mine = table.get(nid);
    if (mine === undefined) return true;
    if (same(mine)) return true;
    const fp = fps.get(nid);
    if (fp === undefined) return false;
    for (const [other, ofp] of fps) {
      if (other !== nid && ofp === fp && same(table.get(other))) return true;
    }
    return false;
  }
}
