// A stand-in fuzz worker for the runner's own tests: the real checker, except that image 2 never
// returns (an infinite loop: the hang detector must terminate it) and image 4 kills its worker with
// an uncaught TypeError (the runner must count a crash and carry on with a fresh worker).
import { defaultCheck, serve } from '../src/fuzz/worker.ts';

serve((init) => {
  const real = defaultCheck(init);
  return (task) => {
    if (task.type === 'check' && task.index === 2) {
      for (;;);
    }
    if (task.type === 'check' && task.index === 4) {
      const nothing = undefined as unknown as { field: number };
      return { seed: '', outcome: { kind: 'ok', typedErrors: nothing.field, filesRead: 0, verified: 0, guarded: 0 } };
    }
    return real(task);
  };
});
