// Bootstrap for lzma-retain.ts: a plain node child, so register tsx's loader first.
import { register } from 'tsx/esm/api';

register();
await import('./lzma-retain.ts');
