// Invariants of the shared kernel, checked when it is quiescent (no file open, no read in flight): the
// stress harness pauses its workers, calls checkQuiescent, and reports any violation. Each check reads
// the arena through the owning modules' functions.
import type { Arena } from '../mm/arena.ts';
import {
  pageFlags,
  pageRef,
  pageMapping,
  framesUsed,
  folioHead,
  folioNrPages,
  PG_LOCKED,
  PG_FREE,
} from '../mm/pagepool.ts';
import { ctrReadSigned, CTR } from '../fs/erofs/counters.ts';
import { NIL } from '../mm/list.ts';
import {
  forEachInode,
  inodeCount,
  inodeOpenCount,
  inodeNrPages,
  inodeMount,
  inodeMountGen,
  inodeSize,
  inodeState,
  I_ANON,
  I_FREEING,
  I_INUSE,
} from '../vfs/inode.ts';
import { mountOpenCount, mountParams, mountState, mountGen, mountSlots, MS_FREE } from '../vfs/mount.ts';
import { sharedInodeView, processingCount, ishareOf } from '../fs/erofs/ishare.ts';
import { ishareSharedFilePages } from '../fs/erofs/ishare_stats.ts';
import { zpclHeld } from '../fs/erofs/zpcluster.ts';
import { memcgCheckQuiescent, memcgFolioViolations } from '../mm/memcontrol.ts';

const MAX_REPORTED = 20;

export function checkQuiescent(a: Arena): string[] {
  const v: string[] = [];
  const add = (s: string): void => {
    if (v.length < MAX_REPORTED) v.push(s);
  };
  // No compressed pcluster is still being read.
  const held = zpclHeld(a);
  if (held > 0) add(`${held} pcluster lock stripe(s) still held at quiesce`);
  // Frames: none locked, none pinned, none leaked. Flags and counts are a folio's (its head's): checked
  // once, on the head; every page, tails too, must be indexed.
  let indexed = 0;
  for (let f = 0; f < a.nframes; f++) {
    const fl = pageFlags(a, f);
    if (fl & PG_FREE) continue;
    const head = folioHead(a, f) === f;
    if (head && fl & PG_LOCKED) add(`frame ${f} still locked at quiesce (mapping ${pageMapping(a, f)})`);
    if (pageMapping(a, f) === NIL) {
      add(`frame ${f} in use but in no mapping (leaked, refcount ${pageRef(a, f)})`);
      continue;
    }
    indexed++;
    const nr = folioNrPages(a, f);
    if (head && pageRef(a, f) !== nr)
      add(
        `frame ${f} refcount ${pageRef(a, f)} at quiesce (expected ${nr}: the page cache's, one per page of its folio)`,
      );
  }
  const filePages = ctrReadSigned(a.i32, CTR.FILE_PAGES);
  if (indexed !== filePages) add(`page-cache pages counter ${filePages} != frames indexed ${indexed}`);
  if (framesUsed(a) !== indexed) add(`frames in use ${framesUsed(a)} != frames indexed ${indexed} (leak)`);
  // Memory cgroups: charges conserved, none on a freed cgroup, removed ones' charges as their policy says.
  for (const m of memcgCheckQuiescent(a, filePages)) add(m);
  // A folio has one memcg (its head's, naming the lruvec it sits on): a recharge or a reparent moves it whole.
  for (const m of memcgFolioViolations(a)) add(m);
  const inflight = ctrReadSigned(a.i32, CTR.RA_INFLIGHT);
  if (inflight !== 0) add(`${inflight} readahead frames still counted in flight at quiesce`);

  let nrpagesSum = 0;
  let sharedPages = 0;
  const dedups: number[] = [];
  forEachInode(a, (slot, st) => {
    nrpagesSum += inodeNrPages(a, slot);
    if (st & I_ANON) {
      sharedPages += inodeNrPages(a, slot);
      dedups.push(slot);
      return;
    }
    const im = inodeMount(a, slot);
    if (im >= 0 && (mountState(a, im) === MS_FREE || mountGen(a, im) !== inodeMountGen(a, slot)))
      add(`inode ${slot} outlived the unmount of its mount ${im}`);
    const pc = processingCount(a, slot);
    if (pc !== 0) add(`inode ${slot}: processingCount ${pc} at quiesce`);
    const open = inodeOpenCount(a, slot);
    const cnt = inodeCount(a, slot);
    if (cnt !== open) add(`inode ${slot} (mount ${inodeMount(a, slot)}): i_count ${cnt} != open files ${open}`);
    const d = ishareOf(a, slot);
    if (d !== NIL && !(inodeState(a, d) & I_ANON))
      add(`inode ${slot} attached to slot ${d}, which is not a shared inode`);
  });
  if (nrpagesSum !== filePages) add(`sum of mappings' nrpages ${nrpagesSum} != page-cache pages ${filePages}`);
  const sharedCtr = ishareSharedFilePages(a);
  if (sharedPages !== sharedCtr) add(`shared pages counter ${sharedCtr} != pages in shared mappings ${sharedPages}`);

  for (const d of dedups) {
    const view = sharedInodeView(a, d);
    if (view.processing.length)
      add(`shared inode ${d}: processing list not empty at quiesce (${view.processing.join(',')})`);
    if (view.backing.length !== view.nbacking)
      add(`shared inode ${d}: backing list has ${view.backing.length} entries, count says ${view.nbacking}`);
    if (new Set(view.backing).size !== view.backing.length)
      add(`shared inode ${d}: backing list has duplicates (corrupted)`);
    const cnt = inodeCount(a, d);
    if (cnt !== view.nbacking) add(`shared inode ${d}: i_count ${cnt} != backing inodes ${view.nbacking}`);
    const domains = new Set<string>();
    for (const b of view.backing) {
      const st = inodeState(a, b);
      if ((st & (I_INUSE | I_FREEING | I_ANON)) !== I_INUSE) {
        add(`shared inode ${d}: backing entry ${b} is not a live inode (state ${st})`);
        continue;
      }
      if (ishareOf(a, b) !== d) add(`shared inode ${d}: backing inode ${b} points to ${ishareOf(a, b)}`);
      if (inodeSize(a, b) !== inodeSize(a, d))
        add(`shared inode ${d}: backing inode ${b} size ${inodeSize(a, b)} != shared size ${inodeSize(a, d)}`);
      const m = inodeMount(a, b);
      if (m >= 0 && m < mountSlots(a) && mountState(a, m) !== MS_FREE) domains.add(mountParams(a, m).domainId);
    }
    if (domains.size > 1) add(`shared inode ${d}: backing inodes from different domains (${[...domains].join(', ')})`);
  }
  for (let m = 0; m < mountSlots(a); m++) {
    if (mountState(a, m) !== MS_FREE && mountOpenCount(a, m) !== 0)
      add(`mount ${m}: ${mountOpenCount(a, m)} open files at quiesce`);
  }
  return v;
}
