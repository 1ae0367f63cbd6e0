// Bootstrap for race-plant-worker.ts: worker threads load plain JS, so register tsx's loader first.
import { register } from 'tsx/esm/api';

register();
await import('./race-plant-worker.ts');
