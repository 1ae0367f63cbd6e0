// How this thread numbered what the layers declared in mm's registries (arena-layout.test.ts).
import { counterNames, WINDOWS } from '../../src/mm/counters.ts';
import { LOCK_CLASS_NAMES } from '../../src/mm/lockstat.ts';
import { PROTECTED, SITE_NAMES } from '../../src/mm/lockdep.ts';
import { POINT_NAMES } from '../../src/mm/points.ts';

export interface Numbering {
  counters: string[];
  windows: Record<string, number>;
  lockClasses: string[];
  protectedStructures: string[];
  sites: string[];
  points: string[];
}
export function numbering(): Numbering {
  return {
    counters: [...counterNames()],
    windows: { ...WINDOWS },
    lockClasses: [...LOCK_CLASS_NAMES],
    protectedStructures: PROTECTED.map((p) => p.name),
    sites: [...SITE_NAMES],
    points: [...POINT_NAMES],
  };
}
