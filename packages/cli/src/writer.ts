// The EROFS writer, from @ishare/core's `format` entry. Commands that write load it with
// `await import('./writer.ts')`.
export { mkfs, mkfsLayers } from '@ishare/core/format';
export type { MkfsOptions, MkfsReport, MkfsLayersOptions, MkfsLayersReport } from '@ishare/core/format';
