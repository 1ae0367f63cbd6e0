// The stress controller's chaos (main thread): between checks it evicts unused inodes, unmounts and
// remounts an image, drops caches, shrinks the page pool, or drops the pages of a file of the workers'
// hot set while they read it — the reclaim, eviction and unmount that race the workers' reads.
import type { System } from '@ishare/core';
import { sharedInodeView, inodeMount } from '@ishare/core/stress';
import { MAX_IMAGES, type Control } from './control.ts';
import { Rng } from './rng.ts';
import type { StressImage } from './task.ts';

/** Files at the head of each image's list that half of every worker's ops read (they collide there). */
export const HOT = 8;
/**
 * Chance that a worker's op reads the focus file instead: one file of the hot set of one image that the
 * controller points every worker at, and drops the pages of, evicts the inodes of and unmounts the image
 * of, while they read it. What makes the races meet on one page, one pcluster, one inode.
 */
export const FOCUS = 0.3;
/** Chance per chaos step that the focus moves to another file (it stays a few steps: tens of ms). */
const REFOCUS = 0.25;
/**
 * How long the controller waits, at most, for a worker to begin reading the focus file again through
 * another image before it unmounts (a worker finishes the op it is in first; on a loaded machine it may
 * not run at all for a while).
 */
const STOPPING_LEAD_MS = 5;

export interface ChaosContext {
  readonly sys: System;
  readonly control: Control;
  readonly images: readonly StressImage[];
  readonly rng: Rng;
  readonly watchdogMs: number;
  /** Mount image i again (same options as at the start). */
  mount(i: number): number;
  /** Credit the device pages mount m of image i served before it goes away. */
  harvest(i: number, m: number): void;
  note(s: string): void;
}

export class Chaos {
  readonly counts: Record<string, number> = {
    evict: 0,
    remount: 0,
    drop: 0,
    shrink: 0,
    fadviseHot: 0,
    refocus: 0,
    memcg: 0,
  };
  // When each image was last mounted (in chaos steps; 0 = at the start, in image order).
  private readonly mountedAt: number[] = [];
  // Chaos steps taken (the remount clock and the memcg cadence).
  private steps = 0;
  constructor(private readonly c: ChaosContext) {}

  // Containers: each worker reads in its own memory cgroup under one parent, every other one limited to
  // a quarter of the pool; chaos replaces a worker's cgroup (the old one removed under a charge policy
  // drawn each time, while the worker may still be reading in it). Own random stream and cadence, so
  // the other chaos kinds' sequence is the one it was.
  private readonly mrng = new Rng(0x3e3c9);
  private parent = -1;
  private nworkers = 0;

  /** Create the containers' cgroups and put worker w in the w-th (before the workers start). */
  startContainers(workers: number): void {
    const { sys, control } = this.c;
    this.parent = sys.memcgCreate('stress');
    this.nworkers = Math.min(workers, 24);
    for (let w = 0; w < workers && w < 24; w++) control.setMemcgOf(w, this.container(w));
  }

  private container(w: number): number {
    const frames = this.c.sys.arena.nframes;
    return this.c.sys.memcgCreate(`w${w}`, { parent: this.parent, max: w % 2 ? (frames >>> 2) * 4096 : null });
  }

  private memcg(): void {
    const { sys, control } = this.c;
    if (this.parent < 0 || this.nworkers === 0) return;
    const w = this.mrng.int(this.nworkers);
    const old = control.memcgOf(w);
    let fresh: number;
    try {
      fresh = this.container(w);
    } catch (e) {
      // every id taken by dying cgroups (keep): wait until reclaim frees some
      this.c.note(`memcg: ${(e as Error).message}`);
      sys.memcgReap();
      return;
    }
    control.setMemcgOf(w, fresh);
    const policy = (['keep', 'reparent', 'recharge', 'reparent'] as const)[this.mrng.int(4)];
    sys.chargePolicy = policy;
    sys.memcgRemove(old);
    this.counts.memcg++;
    this.c.note(`memcg: worker ${w} moved to cgroup ${fresh}, cgroup ${old} removed (${policy})`);
  }

  /** One chaos step, its kind drawn by weight. Throws what the kernel threw (the caller reports it). */
  once(): void {
    this.steps++;
    if (this.steps % 2 === 0) this.memcg();
    if (this.c.control.focusImage < 0 || this.c.rng.next() < REFOCUS) this.refocus();
    // Weights: evict, remount, drop caches, shrink the pool, drop a hot file's pages. Remounts and hot
    // drops are weighted up so every race window opens often (README: race windows and their rates).
    const kind = this.c.rng.weighted([3, 4, 1, 1, 10]);
    if (kind === 0) this.evict();
    else if (kind === 1) this.remount();
    else if (kind === 2) this.drop();
    else if (kind === 3) this.shrink();
    else this.fadviseHot();
  }

  /** Point every worker at one file of the hot set of one image (chosen by the images' focus weights). */
  private refocus(): void {
    const { images, rng, control } = this.c;
    const i = rng.weighted(images.map((x) => x.focusWeight));
    const n = images[i].files.length;
    if (n === 0) return;
    control.setFocus(i, rng.int(Math.min(HOT, n)));
    this.counts.refocus++;
  }

  private evict(): void {
    const n = this.c.sys.evictInodes(8 + this.c.rng.int(64));
    this.counts.evict++;
    this.c.note(`evicted ${n} unused inodes`);
  }

  private remount(): void {
    const { sys, control, images, rng } = this.c;
    // The image to stop: the one holding the focus file whose inode heads its shared inode's backing list
    // (else the holder mounted longest ago), as a container stops while the others read what it shares;
    // with no focus yet, one picked as the workload picks images.
    const atFocus = control.focusImage >= 0;
    const i = atFocus ? (this.backingHead() ?? this.focusHolder()) : rng.weighted(images.map((x) => x.weight));
    const m = control.mountOf(i);
    // Whatever fails on the way (the drop, the unmount), the image is not left marked as stopping.
    try {
      if (atFocus) {
        // The workers read the focus file whole through the other images holding it, its pages dropped
        // first, so they fill them again mapping through this image's inode (the backing list's head, the
        // `any` policy's pick) while the unmount sweeps: the references it must wait for
        // (`unmountBusyInodes`).
        const seen = control.refills;
        control.setStopping(i);
        this.dropFocusPages();
        control.awaitRefill(seen, STOPPING_LEAD_MS);
      }
      control.setMountOf(i, -1);
      this.c.harvest(i, m);
      // Correct code unmounts in milliseconds (workers hold files for a few ops at most).
      sys.unmount(m, Math.min(this.c.watchdogMs, 3000));
    } finally {
      control.setStopping(-1);
    }
    const mount = this.c.mount(i);
    this.mountedAt[i] = this.steps;
    control.setMountOf(i, mount);
    this.counts.remount++;
    this.c.note(`unmounted ${images[i].image} (m${m}) and remounted it as m${mount}`);
  }

  /**
   * Of the images holding a file of the focus file's path, the one mounted longest ago: its inode joined
   * the shared inode first, so it heads the backing list, and the readers of the other images map through
   * it (the `any` policy's pick) — unmounting it meets their references.
   */
  private focusHolder(): number {
    const { images, control } = this.c;
    const focus = control.focusImage;
    const path = images[focus].files[control.focusFile]?.path;
    // Mounted earlier first; at the start (all 0), in image order, as they were mounted.
    const age = (i: number): number => (this.mountedAt[i] ?? 0) * MAX_IMAGES + i;
    let best = focus;
    if (path === undefined) return best;
    for (let i = 0; i < images.length; i++)
      if (age(i) < age(best) && images[i].files.some((f) => f.path === path)) best = i;
    return best;
  }

  /**
   * The image whose inode heads the backing list of the focus file's shared inode — the one the `any`
   * policy's readers map through — or undefined (not shared, or no image of ours holds it).
   */
  private backingHead(): number | undefined {
    const { sys, control, images } = this.c;
    const m = control.mountOf(control.focusImage);
    const path = images[control.focusImage]?.files[control.focusFile]?.path;
    if (m < 0 || path === undefined) return undefined;
    const f = sys.open(m, path);
    try {
      if (f.mapping === f.inode) return undefined;
      const head = sharedInodeView(sys.arena, f.mapping).backing[0];
      if (head === undefined) return undefined;
      const hm = inodeMount(sys.arena, head);
      for (let i = 0; i < images.length; i++) if (control.mountOf(i) === hm) return i;
      return undefined;
    } finally {
      sys.close(f);
    }
  }

  /** fadvise(DONTNEED) of the whole focus file, through its own image: every image's pages of it go. */
  private dropFocusPages(): void {
    const { sys, control, images } = this.c;
    const m = control.mountOf(control.focusImage);
    const path = images[control.focusImage]?.files[control.focusFile]?.path;
    if (m < 0 || path === undefined) return;
    const f = sys.open(m, path);
    try {
      sys.fadvise(f, 0, 0, 'dontneed');
    } finally {
      sys.close(f);
    }
  }

  private drop(): void {
    this.c.sys.dropCaches();
    this.counts.drop++;
    this.c.note('dropped caches');
  }

  private shrink(): void {
    const a = this.c.sys.arena;
    const frames = Math.floor(a.nframes * (0.25 + this.c.rng.next() * 0.75));
    this.c.sys.setPoolLimit(frames);
    this.counts.shrink++;
    this.c.note(`pool limited to ${frames} frames`);
  }

  /**
   * fadvise(DONTNEED) of the focus file (or of a file of the workers' hot set, any image: decoys and
   * compressed ones too): its pages and page-index buckets go while readers are using them, its compressed
   * pclusters are decompressed again by readers racing each other.
   */
  private fadviseHot(): void {
    const { sys, control, images, rng } = this.c;
    const focus = control.focusImage >= 0 && rng.next() < 0.75;
    const i = focus ? control.focusImage : rng.int(images.length);
    const m = control.mountOf(i);
    const files = images[i].files;
    if (m < 0 || files.length === 0) return;
    const f = sys.open(m, files[focus ? control.focusFile : rng.int(Math.min(HOT, files.length))].path);
    const dropped = sys.fadvise(f, 0, 0, 'dontneed');
    sys.close(f);
    this.counts.fadviseHot++;
    this.c.note(`fadvise DONTNEED ${images[i].image}:${f.path} → ${dropped} pages dropped`);
  }
}
