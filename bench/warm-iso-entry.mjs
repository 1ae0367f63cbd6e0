// Worker bootstrap for bench/warm-iso.ts run from source: register tsx, then load the TypeScript module.
import { register } from 'tsx/esm/api';

register();
await import('./warm-iso.ts');
