// Stress worker bootstrap (see ../worker-entry.mjs): register tsx, then hand over to worker.ts.
import { register } from 'tsx/esm/api';

register();
const mod = await import('./worker.ts');
export default mod.default;
