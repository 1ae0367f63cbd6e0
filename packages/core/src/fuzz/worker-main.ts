// The fuzz worker module the runner loads by default: the real checker.
import { defaultCheck, serve } from './worker.ts';

serve(defaultCheck);
