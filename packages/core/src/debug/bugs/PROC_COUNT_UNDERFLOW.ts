// PROC_COUNT_UNDERFLOW: read_begin trusts the read already in flight to keep the inode listed and does not
// count this one; its read_end takes one off all the same.
import { ishareSteps } from '../../fs/erofs/ishare.ts';
import type { PlantedBug } from './types.ts';

export const PROC_COUNT_UNDERFLOW: PlantedBug = {
  category: 'race',
  description:
    "processing_count going negative: read_begin does not add a read of an inode another thread's read already keeps on the processing list (it trusts that read to keep it there), read_end still takes one off — the other read ends first and the count drops below zero",
  install(): void {
    ishareSteps.countAgain = (): void => undefined;
  },
};
