// How this thread numbered what the layers declared in mm's registries (arena-layout.test.ts).
import { counterNames, WINDOWS } from '../../src/mm/counters.ts';
import { LOCK_CLASS_NAMES } from '../../src/mm/lockstat.ts';
import { PROTECTED, SITE_NAMES } from '../../src/mm/lockdep.ts';

export interface Numbering {
  counters: string[];
  windows: Record<string, number>;
  lockClasses: string[];
  protectedStructures: string[];
  sites: string[];
}
export function numbering(): Numbering {
  return {
    counters: [...counterNames()],
    windows: { ...WINDOWS },
    lockClasses: [...LOCK_CLASS_NAMES],
    protectedStructures: PROTECTED.map((p) => p.name),
    sites: [...SITE_NAMES],
  };
}
