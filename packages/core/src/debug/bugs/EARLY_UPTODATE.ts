// EARLY_UPTODATE: readahead page at a time, each published — uptodate and unlocked — before its data is
// read, so a concurrent reader can copy a page still being filled.
import { dataSteps, fillPage, raProgress } from '../../fs/erofs/data.ts';
import { setPageFlag, unlockPage, lruAdd, putPage, folioLastPage, PG_UPTODATE } from '../../mm/pagepool.ts';
import { ctrInc, CTR } from '../../fs/erofs/counters.ts';
import type { Kernel } from '../../vfs/kernel.ts';
import type { OpenFile } from '../../vfs/file.ts';
import type { PlantedBug } from './types.ts';

function readaheadEarlyUptodate(k: Kernel, file: OpenFile, index0: number, n: number): number {
  const a = k.a;
  const frames = k.raFrames;
  raProgress.done = 0;
  for (let i = 0; i < n; i++) {
    const f = frames[i];
    setPageFlag(a, f, PG_UPTODATE);
    unlockPage(a, f);
    fillPage(k, file, f, index0 + i);
    ctrInc(a.i32, CTR.DEVICE_PAGES);
    if (folioLastPage(a, f)) lruAdd(a, f); // as the correct step: a folio joins the LRU with its last page
    putPage(a, f);
    raProgress.done = i + 1;
  }
  return n;
}

export const EARLY_UPTODATE: PlantedBug = {
  category: 'race',
  description: 'mark a page uptodate and unlock it before its data is read',
  install(): void {
    dataSteps.readahead = readaheadEarlyUptodate;
  },
};
