// Who pays for every page of a host scenario, computed from the source trees alone (paths, inode
// numbers, sizes and sha256 of the bytes) — never from an image or the kernel. Valid with one worker,
// the steps in order and no memory limit (nothing is reclaimed), and for reads whose pages are exactly
// the pages they touch (whole files, or the ranges of helpers/traces.ts).
//
// The rules, as the kernel has them:
//  - a page is identified, without sharing, by (container, inode, index): each mount has its own
//    inodes; with inode_share, by (content sha256, index): one page cache per distinct content;
//  - a page enters the cache on the first read that misses it and is charged to the reader's cgroup;
//    a later read by another cgroup is a hit and charges nothing (`recharge`: unless the cgroup that
//    pays is offline: then the reader pays from now on);
//  - a container holds a file while its mount has the file's inode, i.e. once it opened the file
//    (whole reads: every regular file; traces: the files of the trace its tree has), until it stops;
//    stopping unmounts, and a page cache no running container holds any more is freed (uncharged);
//  - what stays charged to a stopped container: kept by its dying cgroup (`keep`, `recharge`) or moved
//    to the parent, the root (`reparent`);
//  - a stopped container's cgroup is freed once nothing is charged to it (at once under `reparent`):
//    from then on it is no reader of anything — it is gone, and so is its share of any page;
//  - split: each resident page's bytes divided equally among the cgroups that read it while it was
//    resident and still exist (dying ones included).
import { sourceFiles, PAGE, type SourceFile } from './pair-trees.ts';

export type Charge = 'keep' | 'reparent' | 'recharge';

export interface OracleContainer {
  readonly name: string;
  readonly tree: string;
  /** Ranges read; undefined: every regular file in full. */
  readonly trace?: readonly { path: string; offset: number; length: number }[];
}

export interface OracleStep {
  readonly kind: 'start' | 'read' | 'stop';
  readonly container: number;
}

export interface OracleFigures {
  readonly memoryCurrent: number;
  readonly splitCharge: number;
  readonly readBytes: number;
  readonly paidShared: number;
  readonly freeRead: number;
}

export interface OraclePhase {
  readonly containers: OracleFigures[];
  readonly dying: { name: string; memoryCurrent: number }[];
  readonly pageCacheBytes: number;
  readonly rootBytes: number;
}

const ROOT = -1;

interface Page {
  charge: number;
  readonly readers: Set<number>;
}

/** Files a container opens and the page indexes it reads of each. */
function reads(c: OracleContainer): { file: SourceFile; pages: number[] }[] {
  const files = sourceFiles(c.tree);
  if (c.trace === undefined)
    return files.map((file) => ({
      file,
      pages: Array.from({ length: Math.ceil(file.size / PAGE) }, (_, i) => i),
    }));
  const byPath = new Map(files.map((f) => [f.rel, f]));
  const out: { file: SourceFile; pages: number[] }[] = [];
  for (const op of c.trace) {
    const file = byPath.get(op.path);
    if (!file) continue;
    const pages: number[] = [];
    const end = Math.min(op.offset + op.length, file.size);
    for (let p = Math.floor(op.offset / PAGE); p * PAGE < end; p++) pages.push(p);
    out.push({ file, pages });
  }
  return out;
}

export function oraclePhase(
  containers: readonly OracleContainer[],
  steps: readonly OracleStep[],
  share: boolean,
  charge: Charge,
): OraclePhase {
  const pages = new Map<string, Page>();
  // File key → running containers holding it; file key → its page keys.
  const holders = new Map<string, Set<number>>();
  const pagesOfFile = new Map<string, Set<string>>();
  const stopped = new Set<number>();
  const freed = new Set<number>();
  const reap = (): void => {
    for (const c of stopped) {
      if (freed.has(c) || [...pages.values()].some((p) => p.charge === c)) continue;
      freed.add(c);
      for (const page of pages.values()) page.readers.delete(c);
    }
  };
  const fileKey = (c: number, f: SourceFile): string => (share ? f.sha256 : `${c}:${f.ino}`);
  for (const step of steps) {
    const c = step.container;
    if (step.kind === 'read') {
      for (const { file, pages: idx } of reads(containers[c])) {
        const fk = fileKey(c, file);
        let h = holders.get(fk);
        if (!h) holders.set(fk, (h = new Set()));
        h.add(c);
        let pk = pagesOfFile.get(fk);
        if (!pk) pagesOfFile.set(fk, (pk = new Set()));
        for (const i of idx) {
          const key = `${fk}:${i}`;
          pk.add(key);
          const page = pages.get(key);
          if (!page) pages.set(key, { charge: c, readers: new Set([c]) });
          else {
            page.readers.add(c);
            if (charge === 'recharge' && page.charge !== ROOT && stopped.has(page.charge)) page.charge = c;
          }
        }
      }
    } else if (step.kind === 'stop') {
      stopped.add(c);
      for (const [fk, h] of holders) {
        if (!h.delete(c) || h.size > 0) continue;
        for (const key of pagesOfFile.get(fk) ?? []) pages.delete(key);
        holders.delete(fk);
        pagesOfFile.delete(fk);
      }
      if (charge === 'reparent') for (const page of pages.values()) if (page.charge === c) page.charge = ROOT;
    }
    reap();
  }
  const figures = containers.map(() => ({
    memoryCurrent: 0,
    splitCharge: 0,
    readBytes: 0,
    paidShared: 0,
    freeRead: 0,
  }));
  let rootBytes = 0;
  for (const page of pages.values()) {
    if (page.charge === ROOT) rootBytes += PAGE;
    else {
      figures[page.charge].memoryCurrent += PAGE;
      if ([...page.readers].some((r) => r !== page.charge)) figures[page.charge].paidShared += PAGE;
    }
    for (const r of page.readers) {
      figures[r].readBytes += PAGE;
      figures[r].splitCharge += PAGE / page.readers.size;
      if (r !== page.charge) figures[r].freeRead += PAGE;
    }
  }
  return {
    containers: figures,
    dying: containers
      .map((c, i) => ({ name: c.name, memoryCurrent: figures[i].memoryCurrent, i }))
      .filter((d) => stopped.has(d.i) && !freed.has(d.i))
      .map(({ name, memoryCurrent }) => ({ name, memoryCurrent })),
    pageCacheBytes: pages.size * PAGE,
    rootBytes,
  };
}

/**
 * The scenario both host tests run on the pair trees: a and c run version 1 (c replays a trace), b
 * version 2; a stops before c starts, so what a paid for and b still holds is pinned by a's dying
 * cgroup — unless reparented, or recharged to c when c reads it.
 */
export const PAIR_STEPS: readonly OracleStep[] = [
  { kind: 'start', container: 0 },
  { kind: 'read', container: 0 },
  { kind: 'start', container: 1 },
  { kind: 'read', container: 1 },
  { kind: 'stop', container: 0 },
  { kind: 'start', container: 2 },
  { kind: 'read', container: 2 },
];

export function pairContainers(
  srcs: readonly [string, string],
  trace: readonly { path: string; offset: number; length: number }[],
): OracleContainer[] {
  return [
    { name: 'a', tree: srcs[0] },
    { name: 'b', tree: srcs[1] },
    { name: 'c', tree: srcs[0], trace },
  ];
}
