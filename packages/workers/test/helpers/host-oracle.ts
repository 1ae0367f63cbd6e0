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
//
// Folios. The kernel charges and recharges a folio as a whole (one memcg per folio), so under
// `recharge` a reader of one page of a dying cgroup's folio takes over every page of that folio. Where
// the folios lie is the page cache's business — readahead (page_cache_ra_order) cuts a window into
// naturally aligned folios as its index alignment, the window and the free memory allow — and this
// oracle does not claim to know it. It brackets it instead: `oraclePhase` with `folioPages` 1 is the
// per-page figure (every folio one page: the least a reader can take over), and with `folioPages` =
// MAX_FOLIO_PAGES it rounds each read out to that alignment at both ends (every folio as large as a
// folio can be: the most). A folio is naturally aligned and never larger than the readahead window
// that allocated it, which read_ahead_kb bounds, so every folio a read touches lies inside its rounded
// range, and the truth lies between the two (`withinBounds`). Figures no charge moves (the page cache,
// the root's charge, what each container read, the split) are the same at both ends: exact.
import { sourceFiles, PAGE, type SourceFile } from './pair-trees.ts';

/**
 * The largest folio the page cache makes, in pages: page_cache_ra_order caps a folio at the readahead
 * window (new_order ≤ ilog2(ra->size)), and the window at read_ahead_kb, 128 KiB by default.
 */
export const MAX_FOLIO_PAGES = (128 * 1024) / PAGE;

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

interface Read {
  readonly file: SourceFile;
  /** The page indexes it reads. */
  readonly pages: number[];
  /** The pages whose folios it may touch: its pages rounded out to `folioPages` at both ends (in the file). */
  readonly folios: number[];
}

/** Files a container opens and the page indexes it reads of each. */
function reads(c: OracleContainer, folioPages: number): Read[] {
  const files = sourceFiles(c.tree);
  const read = (file: SourceFile, first: number, end: number): Read => {
    const range = (s: number, e: number): number[] => Array.from({ length: Math.max(0, e - s) }, (_, i) => s + i);
    const filePages = Math.ceil(file.size / PAGE);
    const lo = Math.floor(first / folioPages) * folioPages;
    const hi = Math.min(Math.ceil(end / folioPages) * folioPages, filePages);
    return { file, pages: range(first, end), folios: range(lo, hi) };
  };
  if (c.trace === undefined) return files.map((file) => read(file, 0, Math.ceil(file.size / PAGE)));
  const byPath = new Map(files.map((f) => [f.rel, f]));
  const out: Read[] = [];
  for (const op of c.trace) {
    const file = byPath.get(op.path);
    if (!file) continue;
    const end = Math.min(op.offset + op.length, file.size);
    const first = Math.floor(op.offset / PAGE);
    out.push(read(file, first, Math.max(first, Math.ceil(end / PAGE))));
  }
  return out;
}

/**
 * The figures of one phase. `folioPages` (a power of two; 1 by default) is the folio size assumed under
 * `recharge`: a read takes over, besides the pages it reads, every cached page charged to a stopped
 * container in its range rounded out to that size (see the header: 1 and MAX_FOLIO_PAGES bracket the truth).
 */
export function oraclePhase(
  containers: readonly OracleContainer[],
  steps: readonly OracleStep[],
  share: boolean,
  charge: Charge,
  folioPages = 1,
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
      for (const { file, pages: idx, folios } of reads(containers[c], folioPages)) {
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
        // The rest of the folios it touched move with the pages it read (recharge): cached pages only,
        // and the reader reads none of them.
        if (charge === 'recharge' && folioPages > 1)
          for (const i of folios) {
            const page = pages.get(`${fk}:${i}`);
            if (page && page.charge !== ROOT && stopped.has(page.charge)) page.charge = c;
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

/**
 * Where a phase's figures may lie under folio-whole recharge: each figure of `got` between its value
 * with one-page folios (`lo`) and with MAX_FOLIO_PAGES folios (`hi`) — exact where the two agree — and
 * the charges adding up to the page cache. Returns what does not hold (empty: all does).
 */
export function withinBounds(
  got: {
    readonly pageCacheBytes: number;
    readonly rootBytes: number;
    readonly dying: readonly { name: string; memoryCurrent: number }[];
    readonly containers: readonly (OracleFigures & { readonly name: string })[];
  },
  lo: OraclePhase,
  hi: OraclePhase,
): string[] {
  const bad: string[] = [];
  const between = (what: string, v: number, a: number, b: number): void => {
    const [min, max] = a <= b ? [a, b] : [b, a];
    if (!(v >= min - 1e-6 && v <= max + 1e-6))
      bad.push(min === max ? `${what}: ${v}, want ${min}` : `${what}: ${v}, want within [${min}, ${max}]`);
  };
  between('page cache', got.pageCacheBytes, lo.pageCacheBytes, hi.pageCacheBytes);
  between('root', got.rootBytes, lo.rootBytes, hi.rootBytes);
  got.containers.forEach((c, i) => {
    for (const k of ['memoryCurrent', 'readBytes', 'paidShared', 'freeRead', 'splitCharge'] as const)
      between(`${c.name} ${k}`, c[k], lo.containers[i][k], hi.containers[i][k]);
  });
  // A dying container listed at either end may be listed (one whose every page a reader took over is gone).
  const names = new Set([...lo.dying, ...hi.dying].map((d) => d.name));
  for (const d of got.dying) {
    if (!names.has(d.name)) bad.push(`dying ${d.name}: listed, at neither bound`);
    const l = lo.dying.find((x) => x.name === d.name)?.memoryCurrent ?? 0;
    const h = hi.dying.find((x) => x.name === d.name)?.memoryCurrent ?? 0;
    between(`dying ${d.name} memoryCurrent`, d.memoryCurrent, l, h);
  }
  for (const n of names)
    if (
      lo.dying.some((x) => x.name === n) &&
      hi.dying.some((x) => x.name === n) &&
      !got.dying.some((x) => x.name === n)
    )
      bad.push(`dying ${n}: listed at both bounds, missing`);
  // Recharge moves charges, it never makes or drops one: they add up to the page cache.
  const charged = got.containers.reduce((s, c) => s + c.memoryCurrent, 0) + got.rootBytes;
  if (charged !== got.pageCacheBytes) bad.push(`charges sum to ${charged}, the page cache holds ${got.pageCacheBytes}`);
  return bad;
}
