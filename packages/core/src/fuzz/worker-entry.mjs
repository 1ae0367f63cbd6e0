// Fuzz worker bootstrap: worker threads load plain JS, so register tsx's loader, then load the worker
// module the runner named (the real checker, or a test's stand-in).
import { register } from 'tsx/esm/api';
import { workerData } from 'node:worker_threads';

register();
await import(workerData.module);
