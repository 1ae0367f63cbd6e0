// The checker for one damaged image: the reader pass, the untouched-files comparison against the seed,
// then the kernel pass. Synchronous on purpose: the caller bounds it in time by running it in a worker
// it can terminate.
import type { ErofsImage } from '../erofs/image.ts';
import { Finding, Recorder, type CheckOutcome } from './outcome.ts';
import { untouchedFiles, type SeedOracle } from './oracle.ts';
import { DEFAULT_READ_CAP, readerPass } from './reader-pass.ts';
import type { FuzzKernel } from './kernel-pass.ts';
import { differentialPass, type DifferentialConfig } from './differential.ts';

export interface CheckInput {
  readonly bytes: Uint8Array;
  /** The seed image's files, when the image is a mutation of a known seed. */
  readonly oracle?: SeedOracle;
  /** Byte ranges the mutations changed, as [at, len]. */
  readonly touched?: readonly (readonly [number, number])[];
}

export interface CheckOptions {
  /** Kernel to run the second pass in; without one only the reader pass runs. */
  kernel?: FuzzKernel;
  /** Files up to this many bytes are read whole, larger ones sampled (default 8 MiB). */
  readCap?: number;
  /** Compare with upstream fsck.erofs --extract when both accept the image. */
  differential?: DifferentialConfig;
}

function verifyUntouched(img: ErofsImage, input: CheckInput, rec: Recorder): void {
  if (!input.oracle || !input.touched) return;
  for (const f of untouchedFiles(input.oracle, input.touched)) {
    let got: Uint8Array;
    try {
      got = img.readFile(img.inode(f.nid));
    } catch (e) {
      rec.note(e, 'reader'); // a crash stays a crash
      throw new Finding(
        'wrong',
        'reader',
        `untouched file ${f.path} (nid ${f.nid}) failed to read: ${(e as Error).message}`,
      );
    }
    if (!Buffer.from(got).equals(Buffer.from(f.data))) {
      throw new Finding(
        'wrong',
        'reader',
        `untouched file ${f.path} (nid ${f.nid}) reads different bytes than in the seed image`,
      );
    }
    rec.out.verified++;
  }
}

export function checkImage(input: CheckInput, opts: CheckOptions = {}): CheckOutcome {
  const rec = new Recorder();
  const cap = opts.readCap ?? DEFAULT_READ_CAP;
  let finding: Finding | undefined;
  try {
    const reader = readerPass(input.bytes, rec, cap);
    const readerErrors = rec.out.typedErrors;
    if (reader.img) verifyUntouched(reader.img, input, rec);
    opts.kernel?.run(input.bytes, reader, rec, cap);
    if (opts.differential)
      rec.out.differential = differentialPass(input.bytes, reader, readerErrors, cap, opts.differential);
  } catch (e) {
    if (e instanceof Finding) {
      finding = e;
    } else {
      // Raised outside any guarded operation: the checker's own bug, still not to be lost.
      const err = e instanceof Error ? e : new Error(String(e));
      finding = new Finding('crash', 'worker', `${err.name}: ${err.message.split('\n')[0]}`, err.stack);
    }
  }
  return rec.finish(finding);
}
