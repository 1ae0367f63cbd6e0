// The EROFS reader and writer from @ishare/core (see core.ts for why the path is relative).
export { ErofsImage } from '../../core/src/erofs/index.ts';
export { mkfs } from '../../core/src/erofs/mkfs/index.ts';
export type { MkfsOptions, MkfsReport } from '../../core/src/erofs/mkfs/index.ts';
