// Worker bootstrap: worker threads do not inherit tsx's loader, so register it and hand over to the
// TypeScript worker (as packages/workers/src/worker-entry.mjs does).
import { register } from 'tsx/esm/api';

register();
await import('./kernel-worker.ts');
