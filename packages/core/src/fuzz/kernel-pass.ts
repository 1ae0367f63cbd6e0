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
      failed ??= new Finding('crash', 'kernel', `unmount failed after reading: ${(e as Error).message}`, (e as Error).stack);
    }
    if (failed === undefined) {
      const v = checkQuiescent(sys.arena);
      if (v.length > 0) failed = new Finding('crash', 'kernel', `kernel state after unmount: ${v[0]}${v.length > 1 ? ` (+${v.length - 1} more)` : ''}`);
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
    try {
      let got: Uint8Array;
      let whole: boolean;
      if (file.size <= cap) {
        got = sys.readAll(file);
        whole = true;
      } else {
        got = Buffer.concat(sampleOffsets(file.size).map((off) => {
          const b = new Uint8Array(SAMPLE_LEN);
          const n = sys.read(file!, off, SAMPLE_LEN, b);
          return b.subarray(0, n);
        }));
        whole = false;
      }
      rec.out.filesRead++;
      if (!this.acceptable(file.nid, got, whole, reader)) {
        throw new Finding('wrong', 'kernel', `${path} (nid ${file.nid}): the kernel read ${got.length} bytes that differ from the reader's`);
      }
    } catch (e) {
      rec.note(e, 'kernel');
    } finally {
      sys.close(file);
    }
  }

  /**
   * The kernel's bytes must be what the reader read for that inode, or (inode sharing) what it read for
   * another file with the same fingerprint and size: sharing trusts the fingerprint, so a forged one
   * legitimately serves another file's pages. A file the reader could not read has nothing to compare.
   */
  private acceptable(nid: number, got: Uint8Array, whole: boolean, reader: ReaderResult): boolean {
    const table = whole ? reader.data : reader.samples;
    const mine = table.get(nid);
    if (mine === undefined) return true;
    if (Buffer.from(mine.buffer, mine.byteOffset, mine.byteLength).equals(got)) return true;
    const fp = reader.fingerprints.get(nid);
    if (fp === undefined) return false;
    for (const [other, ofp] of reader.fingerprints) {
      if (other === nid || ofp !== fp) continue;
      const theirs = table.get(other);
      if (theirs && Buffer.from(theirs.buffer, theirs.byteOffset, theirs.byteLength).equals(got)) return true;
    }
    return false;
  }
}
