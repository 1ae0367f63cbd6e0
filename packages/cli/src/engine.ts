// The EROFS reader, from @ishare/core's `format` entry.
export { ErofsImage } from '@ishare/core/format';
