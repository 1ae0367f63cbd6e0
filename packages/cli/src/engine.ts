// The EROFS reader from @ishare/core (see core.ts for why the path is relative).
export { ErofsImage } from '../../core/src/erofs/index.ts';
