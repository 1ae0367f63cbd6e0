// Worker bootstrap: piscina loads plain JS, so register tsx's loader and hand over to the TypeScript
// worker. The worker module's top level (arena attach) runs once per thread.
import { register } from 'tsx/esm/api';

register();
const mod = await import('./worker.ts');
export default mod.default;
