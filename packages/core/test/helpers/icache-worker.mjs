// Bootstrap for icache-worker.ts: worker threads load plain JS, so register tsx's loader first.
import { register } from 'tsx/esm/api';

register();
await import('./icache-worker.ts');
