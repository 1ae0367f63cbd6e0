// What one fuzzed image came to, and the rules that decide it. A typed ErofsError with a one-line
// message is the accepted answer to damage; anything else thrown is a crash; a short device read in the
// kernel means the data path asked for bytes past the image (an out-of-bounds read the mapping should
// have refused); data that differs from what it must be is wrong.
import { ErofsError } from '../erofs/errors.ts';
import { VfsError } from '../vfs/errno.ts';

// The differential pass's verdict (differential.ts), part of an image's outcome.
export type DiffStatus =
  | 'compared' // both accepted: files compared
  | 'upstream-rejected' // ours accepted, fsck.erofs did not (its reason kept)
  | 'ours-rejected' // our reader met a typed error: not compared, fsck not run
  | 'skipped'; // a file over the read cap, or fsck timed out

export interface Disagreement {
  readonly path: string;
  readonly kind: 'content' | 'size' | 'only-ours' | 'only-upstream';
  readonly detail: string;
  /** Set when the evidence matches a known upstream bug (KNOWN_UPSTREAM_BUGS): reported, not failing. */
  readonly upstreamBug?: string;
}

export interface DiffOutcome {
  readonly status: DiffStatus;
  /** Files compared byte for byte. */
  readonly files: number;
  readonly disagreements: Disagreement[];
  /** fsck.erofs's last line when it refused the image or gave no answer. */
  readonly upstream?: string;
}

export type OutcomeKind = 'ok' | 'error' | 'crash' | 'hang' | 'oob' | 'wrong';
export const OUTCOME_KINDS: readonly OutcomeKind[] = ['ok', 'error', 'crash', 'hang', 'oob', 'wrong'];
/** Kinds that are bugs: the run fails and the image is saved. */
export const FAILING_KINDS: readonly OutcomeKind[] = ['crash', 'hang', 'oob', 'wrong'];

export type Phase = 'reader' | 'kernel' | 'worker';

export interface CheckOutcome {
  kind: OutcomeKind;
  phase?: Phase;
  /** ErofsError code of the first typed error (kind 'error'). */
  code?: string;
  /** First typed error's message, or what failed (one line). */
  message?: string;
  /** Stack of a crash. */
  stack?: string;
  /** Typed errors met over all operations on the image (reader and kernel). */
  typedErrors: number;
  /** Whole-file (or sampled) reads that completed, reader and kernel. */
  filesRead: number;
  /** Files no mutation touched that were compared with the seed image's read (and matched). */
  verified: number;
  /** Reads outside the image stopped by the block source's range check (typed ETRUNCATED). */
  guarded: number;
  /** The differential pass against upstream fsck.erofs, when it ran (differential.ts). */
  differential?: DiffOutcome;
}

/** Thrown inside a check to stop at the first finding that is a bug. */
export class Finding extends Error {
  readonly kind: OutcomeKind;
  readonly phase: Phase;
  readonly detail: string | undefined;
  constructor(kind: OutcomeKind, phase: Phase, message: string, detail?: string) {
    super(message);
    this.name = 'Finding';
    this.kind = kind;
    this.phase = phase;
    this.detail = detail;
  }
}

/** The short device read the kernel's data path turns into ETRUNCATED (fs/erofs/data.ts). */
const SHORT_DEVICE_READ = /short device read/;

/** Collects what happened during one image's check. */
export class Recorder {
  readonly out: CheckOutcome = { kind: 'ok', typedErrors: 0, filesRead: 0, verified: 0, guarded: 0 };

  /**
   * Judge a thrown value: a typed, one-line ErofsError (or the kernel's VfsError) is recorded and the check goes on; anything
   * else becomes a Finding that stops the check.
   */
  note(e: unknown, phase: Phase): void {
    if (e instanceof Finding) throw e;
    if (e instanceof ErofsError || e instanceof VfsError) {
      if (/[\n\r\v\f\x85\u2028\u2029]/.test(e.message)) {
        throw new Finding(
          'crash',
          phase,
          `${e.name} ${e.code} message spans lines: ${JSON.stringify(e.message)}`,
          e.stack,
        );
      }
      if (phase === 'kernel' && e.code === 'ETRUNCATED' && SHORT_DEVICE_READ.test(e.message)) {
        throw new Finding('oob', phase, `device read past the end of the image: ${e.message}`, e.stack);
      }
      if (this.out.typedErrors++ === 0) {
        this.out.kind = 'error';
        this.out.phase = phase;
        this.out.code = e.code;
        this.out.message = e.message;
      }
      return;
    }
    const err = e instanceof Error ? e : new Error(String(e));
    const first = (err.message || '').split('\n')[0];
    throw new Finding('crash', phase, `${err.name}: ${first}`, err.stack);
  }

  /** Run `fn`, recording a typed error; returns undefined when it threw one. */
  attempt<T>(phase: Phase, fn: () => T): T | undefined {
    try {
      return fn();
    } catch (e) {
      this.note(e, phase);
      return undefined;
    }
  }

  /** Final outcome: the finding when there was one, else ok / error. */
  finish(finding: Finding | undefined): CheckOutcome {
    if (finding) {
      this.out.kind = finding.kind;
      this.out.phase = finding.phase;
      this.out.code = undefined;
      this.out.message = finding.message.split('\n')[0];
      if (finding.kind === 'crash' && finding.detail) this.out.stack = finding.detail;
    }
    return this.out;
  }
}

/** Group messages that differ only in numbers, names in quotes and paths (for "top errors"). */
export function normalizeMessage(msg: string): string {
  return msg
    .replace(/"[^"]*"/g, '"…"')
    .replace(/'[^']*'/g, "'…'")
    .replace(/(^|[\s(:])\/[^\s)]*/g, '$1/…')
    .replace(/0x[0-9a-f]+/gi, 'N')
    .replace(/\d+/g, 'N');
}
