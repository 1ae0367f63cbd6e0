// The `ishare host` result as people read it: per phase (no share, share) a table with one row per
// container — its memory.max, the kernel's charge, the split account, what it read, what it paid for
// others, what it read for free, refaults and memory.events — then the dying cgroups and the host's
// page cache. Pure: result in, text out.
import type { HostPhase, HostResult } from '@ishare/workers';
import { table } from './table.ts';

const MiB = 1024 * 1024;

/** MiB with two decimals: small scenarios are a few hundred KiB. */
export function mib2(bytes: number): string {
  return (bytes / MiB).toFixed(2);
}

function phaseTable(p: HostPhase): string {
  const t = table(
    [
      'container',
      'memory.max',
      'memory.current',
      'split',
      'read',
      'paid, shared',
      'read free',
      'refaults',
      'events high/max/oom',
    ],
    { colAligns: ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right'] },
  );
  for (const c of p.containers)
    t.push([
      c.state === 'stopped' ? `${c.name} (stopped)` : c.name,
      c.memoryMax === null ? 'max' : mib2(c.memoryMax),
      mib2(c.memoryCurrent),
      mib2(c.splitCharge),
      mib2(c.readBytes),
      mib2(c.paidShared),
      mib2(c.freeRead),
      String(c.refaults),
      `${c.events.high}/${c.events.max}/${c.events.oom}`,
    ]);
  return t.toString();
}

export function hostReport(r: HostResult, scenario: string): string[] {
  const lines = [
    `host ${scenario}: ${r.noShare.containers.length} containers, ${r.workers} worker${r.workers === 1 ? '' : 's'}, ` +
      `charge ${r.charge}, policy ${r.policy}, domain ${JSON.stringify(r.domainId)}, pool ${mib2(r.poolBytes)} MiB`,
  ];
  for (const [title, p] of [
    ['no page cache share', r.noShare],
    ['page cache share (inode_share)', r.share],
  ] as const) {
    lines.push('', `${title}:`, phaseTable(p));
    const dying = p.dying.map((d) => `${d.name} pins ${mib2(d.memoryCurrent)} MiB`);
    lines.push(`dying cgroups: ${dying.length > 0 ? dying.join(', ') : 'none'}`);
    lines.push(
      `page cache ${mib2(p.pageCacheBytes)} MiB (charged to the root: ${mib2(p.rootBytes)} MiB), ` +
        `${p.reclaimedPages} pages reclaimed, ${Math.round(p.elapsedMs)} ms`,
    );
  }
  lines.push(
    '',
    'MiB = 2^20 bytes of file-data pages; split = each page divided among the cgroups that read it (an account, not a charge);',
    'paid, shared = charged here and read by others too; read free = read here, charged elsewhere; refaults in pages',
  );
  return lines;
}
