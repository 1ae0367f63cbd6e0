// The arena the bench's scratch tools read through: the images mounted COPIES times in one System, its
// pool sized as `pnpm bench` sizes its own (1.25x the data + 64 MiB), so that a few warm-up fills touch
// every frame and no measured pass pays for the first touch of fresh arena memory. (bench/pair-*.ts keep
// their own copy: pair-ab.sh runs them from older checkouts, which do not have this module.)
import { statSync } from 'node:fs';
import { System } from '../packages/core/src/index.ts';

export interface CopiesSystem {
  readonly sys: System;
  /** Per mount, in mount order (copy by copy, each image in turn): its mount and its files' paths. */
  readonly sets: { mount: number; paths: string[] }[];
}

/** Mount each image `copies` times; with `share`, copy c in domain `c<c>` with inode_share. */
export function mountCopies(images: readonly string[], copies: number, share = false): CopiesSystem {
  const dataBytes = images.reduce((n, img) => n + statSync(img).size, 0) * copies;
  const sys = System.create({
    poolMiB: Math.ceil((dataBytes * 1.25) / 2 ** 20) + 64,
    inodeSlots: 65536,
    mountSlots: 256,
  });
  const sets: { mount: number; paths: string[] }[] = [];
  for (let c = 0; c < copies; c++)
    for (const img of images) {
      const { mount } = sys.mount(img, share ? { inodeShare: true, domainId: `c${c}` } : {});
      sets.push({ mount, paths: sys.listFiles(mount).map((f) => f.path) });
    }
  return { sys, sets };
}
