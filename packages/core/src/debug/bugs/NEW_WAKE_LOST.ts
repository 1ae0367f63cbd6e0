// NEW_WAKE_LOST: unlock_new_inode decides whether to wake by re-reading the state word after clearing
// I_NEW (and I_WAITERS with it), instead of using what the clearing read-modify-write returned: the bit is
// always gone by then, so the sleepers of an I_NEW inode are never notified and each sleeps out its
// bounded wait. Not in the stress harness's `--inject` list (nothing breaks, it is only slow): caught by
// test/icache-fastpath.test.ts, whose threads install it through the step table.
import { inodeSteps, I_WAITERS } from '../../vfs/inode.ts';
import type { PlantedBug } from './types.ts';

export const NEW_WAKE_LOST: PlantedBug = {
  category: 'race',
  description: 'unlock_new_inode looks for sleepers after clearing I_NEW (re-reads the state word)',
  install(): void {
    inodeSteps.wake = (i32: Int32Array, w: number): void => {
      if (Atomics.load(i32, w) & I_WAITERS) Atomics.notify(i32, w);
    };
  },
};
