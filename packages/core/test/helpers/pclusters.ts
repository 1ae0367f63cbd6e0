// Every whole pcluster of one algorithm that an upstream mkfs.erofs image maps for a small tree, as it
// lies in the image (zero padding kept): the input the decoder tests feed zDecompress.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ErofsImage, type Z_ALG } from '@ishare/core/format';
import { newZMapOut, ZF_FRAGMENT, ZF_FULL_MAPPED, ZF_META, ZF_PARTIAL_REF } from '../../src/erofs/zmap.ts';
import { makeCompressTree } from '../../../../test/helpers/compress-tree.ts';
import { upstreamTool } from '../../../../test/helpers/erofs-utils.ts';

export interface Pcl {
  raw: Uint8Array;
  llen: number;
}

/** Build `dir/src` and an image of it with upstream mkfs.erofs `args`; its pclusters of `alg`. */
export function upstreamPclusters(
  dir: string,
  args: readonly string[],
  alg: (typeof Z_ALG)[keyof typeof Z_ALG],
): Pcl[] {
  const src = join(dir, 'src');
  mkdirSync(src);
  makeCompressTree(src);
  const image = join(dir, 'z.img');
  execFileSync(upstreamTool('mkfs.erofs'), ['-T0', ...args, image, src], { stdio: 'ignore' });
  const pcls: Pcl[] = [];
  const img = ErofsImage.open(image);
  try {
    const walk = (nid: number): void => {
      for (const e of img.readdir(img.inode(nid))) {
        if (e.name === '.' || e.name === '..') continue;
        const ino = img.inode(e.nid);
        if (ino.type === 'dir') walk(e.nid);
        if (ino.type !== 'file' || !ino.compressed) continue;
        const zm = img.zmapper(ino);
        const m = newZMapOut();
        for (let pos = 0; pos < ino.size; pos = m.la + m.llen) {
          zm.mapFull(pos, m);
          if (m.alg !== alg || !(m.flags & ZF_FULL_MAPPED) || m.flags & (ZF_FRAGMENT | ZF_META | ZF_PARTIAL_REF))
            continue;
          const raw = new Uint8Array(m.plen);
          img.source.read(raw, m.pa);
          pcls.push({ raw, llen: m.llen });
        }
      }
    };
    walk(img.root().nid);
  } finally {
    img.close();
  }
  return pcls;
}
