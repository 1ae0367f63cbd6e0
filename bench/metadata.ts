// `pnpm bench --metadata`: what the kernel model holds beside the page cache for N containers of two
// images that share their base layers (issue 19, part 3), per layout (flat: one image per container
// image; layers: one blob per layer under the overlay; fsmeta: the image's merged metadata with the
// layer blobs as its devices) × superblock_share off/on × inode_share off/on:
// page cache, superblocks, mounts, inode records, arena control bytes (inode + superblock records),
// path-cache entries and per-thread superblock states, as compare --json reports them (`metadata`).
//
// Data (built once into the bench cache): image A = base1 (400 files) + base2 (200) + topA (60), image
// B = base1 + base2 + topB (60); files of one to three pages; containers alternate A, B, A, ...
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCompare, type CompareResult } from '@ishare/workers';
import { prepareInputs } from '../packages/cli/src/image-cache.ts';
import { layerTar, ociLayout, type LayerEntry } from '../packages/core/test/helpers/oci.ts';
import type { BenchOptions } from './args.ts';
import { benchCacheDir } from './derive.ts';
import { MiB } from './stats.ts';

export const METADATA_CONTAINERS = [2, 10, 50] as const;

function files(prefix: string, n: number, seed: string): LayerEntry[] {
  const out: LayerEntry[] = [{ name: `${prefix}/`, type: 'directory' }];
  for (let i = 0; i < n; i++) {
    const size = 1000 + ((i * 2654435761) % 11000);
    out.push({ name: `${prefix}/f${i}`, data: `${seed}:${i}:`.padEnd(size, seed) });
  }
  return out;
}

/** Two OCI images sharing two base layers (built once). */
async function imagesSharingBases(log: (s: string) => void): Promise<[string, string]> {
  const dir = join(benchCacheDir(), 'metadata-v1');
  const a = join(dir, 'A');
  const b = join(dir, 'B');
  if (existsSync(join(b, 'index.json'))) return [a, b];
  log(`building two OCI images sharing base layers in ${dir}`);
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  const base1 = await layerTar([{ name: 'usr/', type: 'directory' }, ...files('usr/lib', 400, 'base1')]);
  const base2 = await layerTar(files('opt', 200, 'base2'));
  const top = async (name: string): Promise<Buffer> =>
    layerTar([
      ...files('app', 50, name),
      { name: 'usr/', type: 'directory' },
      { name: 'usr/lib/', type: 'directory' },
      ...Array.from({ length: 10 }, (_, i) => ({ name: `usr/lib/f${i * 7}`, data: `${name} override ${i}` })),
    ]);
  ociLayout(join(tmp, 'A'), { layers: [base1, base2, await top('topA')] });
  ociLayout(join(tmp, 'B'), { layers: [base1, base2, await top('topB')] });
  mkdirSync(dir, { recursive: true });
  renameSync(join(tmp, 'A'), a);
  renameSync(join(tmp, 'B'), b);
  rmSync(tmp, { recursive: true, force: true });
  return [a, b];
}

interface Row {
  containers: number;
  layout: 'flat' | 'layers' | 'fsmeta';
  superblockShare: boolean;
  inodeShare: boolean;
  pageCacheBytes: number;
  superblocks: number;
  mounts: number;
  inodes: number;
  arenaControlBytes: number;
  dentries: number;
  threadStates: number;
}

export async function runMetadataBench(o: BenchOptions, log: (s: string) => void): Promise<number> {
  const [a, b] = await imagesSharingBases(log);
  const onBuild = (i: string, image: string): void => log(`building ${image} from ${i}`);
  const flat = await prepareInputs([a, b], { onBuild });
  const layered = await prepareInputs([a, b], { onBuild, layout: 'layers' });
  const fsmeta = await prepareInputs([a, b], { onBuild, layout: 'fsmeta' });
  const inputs = { flat, layers: layered, fsmeta };
  const ns = o.containers ?? METADATA_CONTAINERS;
  const rows: Row[] = [];
  for (const n of ns) {
    for (const layout of ['flat', 'layers', 'fsmeta'] as const) {
      for (const superblockShare of [false, true]) {
        const pick = (i: number): number => i % 2;
        const images = Array.from({ length: n }, (_, i) => inputs[layout][pick(i)].image);
        const layers = layout === 'layers' ? Array.from({ length: n }, (_, i) => layered[pick(i)].layers) : undefined;
        // fsmeta: each image's fsmeta mounted with its layer blobs as device=s.
        const devices =
          layout === 'fsmeta' ? Object.fromEntries(fsmeta.map((p) => [p.image, p.devices ?? []])) : undefined;
        log(`N=${n} ${layout} superblock_share ${superblockShare ? 'on' : 'off'}`);
        const r: CompareResult = await runCompare({
          images,
          ...(layers ? { layers } : {}),
          ...(devices ? { devices } : {}),
          workers: 1,
          superblockShare,
        });
        for (const [inodeShare, p] of [
          [false, r.noShare],
          [true, r.share],
        ] as const) {
          const m = p.metadata;
          rows.push({
            containers: n,
            layout,
            superblockShare,
            inodeShare,
            pageCacheBytes: p.pageCacheBytes,
            superblocks: m.superblocks,
            mounts: m.mounts,
            inodes: m.inodes,
            arenaControlBytes: m.arenaControlBytes,
            dentries: m.dentries,
            threadStates: m.threadStates,
          });
        }
      }
    }
  }
  const on = (x: boolean): string => (x ? 'on' : 'off');
  const lines = [
    '| N | layout | superblock_share | inode_share | page cache MiB | superblocks | mounts | inode records | arena control KiB | dentries | thread states |',
    '|---:|---|---|---|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.containers} | ${r.layout} | ${on(r.superblockShare)} | ${on(r.inodeShare)} | ${(r.pageCacheBytes / MiB).toFixed(2)} | ${r.superblocks} | ${r.mounts} | ${r.inodes} | ${(r.arenaControlBytes / 1024).toFixed(1)} | ${r.dentries} | ${r.threadStates} |`,
    ),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  mkdirSync(o.outDir, { recursive: true });
  writeFileSync(
    join(o.outDir, `metadata-${Date.now()}.json`),
    `${JSON.stringify({ kind: 'metadata', rows }, null, 2)}\n`,
  );
  mkdirSync(o.reportDir, { recursive: true });
  writeFileSync(
    join(o.reportDir, 'metadata.md'),
    `# pnpm bench --metadata\n\nContainers alternate two images that share two base layers (${a}, ${b}); every file read once per container, 1 worker.\n\n${lines.join('\n')}\n`,
  );
  return 0;
}
