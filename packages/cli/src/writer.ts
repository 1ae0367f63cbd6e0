// The EROFS writer from @ishare/core. Commands that write load it with `await import('./writer.ts')`,
// so the read-only commands start without it.
export { mkfs } from '../../core/src/erofs/mkfs/index.ts';
export type { MkfsOptions, MkfsReport } from '../../core/src/erofs/mkfs/index.ts';
