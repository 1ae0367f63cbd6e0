// What each stressed image's files must read as, from outside our reader: a directory holding the
// source's bytes — the source tree itself, GNU tar's extraction of a tar source, or upstream
// `fsck.erofs --extract` of an image given as it is — checked before the run against the manifest that
// mkfs recorded from the source bytes when the image was built (when there is one). Workers compare
// every byte they read with these files.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fsckExtract, fsckOnPath, regularFilesUnder } from '@ishare/core/format';
import type { SourceManifest } from '@ishare/core';

export interface ReferenceSpec {
  /** The source directory the image was built from. */
  readonly source?: string;
  /** Or the tar it was built from. */
  readonly tar?: string;
  /** The manifest recorded when the image was built (mkfs from the source bytes), if any. */
  readonly manifest?: SourceManifest;
}

export interface Reference {
  /** Directory whose files are the expected content ('/a/b' in the image = root + '/a/b'). */
  readonly root: string;
  /** Expected regular files: path → size. */
  readonly files: Map<string, number>;
  /** Where the bytes came from, for reports. */
  readonly origin: 'source tree' | 'tar extraction' | 'fsck.erofs extraction';
  readonly remove: () => void;
}

/** The expected bytes cannot be had, or disagree with the build's manifest: bad input, not a finding. */
export class StressReferenceError extends Error {
  override name = 'StressReferenceError';
}

const sha256File = (p: string | Buffer): string => createHash('sha256').update(readFileSync(p)).digest('hex');

/** Build the reference for `image`; throws StressReferenceError (one line) when it cannot be had or disagrees. */
export function prepareReference(
  image: string,
  spec: ReferenceSpec,
  fsck: string | undefined,
  /** The image's extra devices (table order): fsck.erofs reads the data from them. */
  devices?: readonly string[],
): Reference {
  let root: string;
  let origin: Reference['origin'];
  let tmp: string | undefined;
  const remove = (): void => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  };
  try {
    if (spec.source !== undefined) {
      root = spec.source;
      origin = 'source tree';
    } else if (spec.tar !== undefined) {
      tmp = mkdtempSync(join(tmpdir(), 'ishare-ref-'));
      const r = spawnSync('tar', ['-xf', spec.tar, '-C', tmp, '--no-same-owner', '--no-same-permissions'], {
        encoding: 'utf8',
        timeout: 300_000,
      });
      if (r.status !== 0)
        throw new StressReferenceError(
          `cannot extract ${spec.tar} with tar for the byte oracle: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`,
        );
      root = tmp;
      origin = 'tar extraction';
    } else {
      const tool = fsck ?? fsckOnPath();
      if (tool === undefined)
        throw new StressReferenceError(
          `${image}: no source to check its bytes against — give its source tree, or fsck.erofs (--fsck PATH) to extract it`,
        );
      tmp = mkdtempSync(join(tmpdir(), 'ishare-ref-'));
      const out = join(tmp, 'x');
      const r = fsckExtract(tool, image, out, 300_000, devices);
      if (!r.ok) throw new StressReferenceError(`${image}: ${tool} --extract refused it: ${r.reason}`);
      root = out;
      origin = 'fsck.erofs extraction';
    }
    const onDisk = regularFilesUnder(root);
    const files = new Map<string, number>();
    if (spec.manifest) {
      for (const e of spec.manifest.files) {
        const p = onDisk.get(e.path);
        if (p === undefined)
          throw new StressReferenceError(
            `${image}: ${e.path} of the build manifest is missing from the ${origin} ${root}`,
          );
        if (sha256File(p) !== e.sha256)
          throw new StressReferenceError(
            `${image}: ${e.path} in the ${origin} differs from the bytes mkfs read when it built the image`,
          );
        files.set(e.path, e.size);
      }
    } else {
      for (const [path, p] of onDisk) files.set(path, lstatSync(p).size);
    }
    return { root, files, origin, remove };
  } catch (e) {
    remove();
    throw e;
  }
}
