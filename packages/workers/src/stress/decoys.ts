// Decoy images the stress workload always mounts beside the user's: files whose fingerprint xattr is
// forged to claim another file's content. Correct code never lets them share pages with the victim
// (different domain, or different size), so any bug that does is caught by the byte oracle.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync, mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { mkfs, MANIFEST_FORMAT, type ManifestEntry, type SourceManifest } from '@ishare/core';
import { forgeFingerprint } from '@ishare/core/stress';

function bytes(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed | 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

export interface Decoy {
  readonly image: string;
  readonly domainId: string;
  /** The tree it was built from and mkfs's manifest of it: the byte oracle's reference. */
  readonly source: string;
  readonly manifest: SourceManifest;
  /** Compressed (the decoys whose readers race on pclusters). */
  readonly compressed?: boolean;
}

/**
 * X (domain decoy-1): f, g. Y (decoy-2): f' forged as f, same size. Z (decoy-1): g' forged as g, other
 * size. With `poison`: W (decoy-1): f'' forged as f, same size, same domain.
 */
export async function buildDecoys(
  dir = mkdtempSync(join(tmpdir(), 'ishare-decoys-')),
  opts: { poison?: boolean } = {},
): Promise<{ dir: string; decoys: Decoy[]; remove: () => void }> {
  const f = bytes(24_000, 7);
  const g = bytes(9_000, 8);
  const f2 = bytes(24_000, 9);
  const g2 = bytes(13_000, 10);
  const trees: [string, [string, Buffer][]][] = [
    [
      'x',
      [
        ['f', f],
        ['g', g],
      ],
    ],
    ['y', [['f', f2]]],
    ['z', [['g', g2]]],
  ];
  const f3 = bytes(24_000, 11);
  if (opts.poison) trees.push(['w', [['f', f3]]]);
  const manifests = new Map<string, SourceManifest>();
  for (const [name, files] of trees) {
    mkdirSync(join(dir, name), { recursive: true });
    for (const [p, data] of files) writeFileSync(join(dir, name, p), data);
    const r = await mkfs({
      out: join(dir, `${name}.img`),
      source: join(dir, name),
      timestamp: 0,
      uuid: '00000000-0000-0000-0000-000000000000',
    });
    manifests.set(name, r.manifest);
  }
  forgeFingerprint(join(dir, 'y.img'), f2, f);
  forgeFingerprint(join(dir, 'z.img'), g2, g);
  if (opts.poison) forgeFingerprint(join(dir, 'w.img'), f3, f);
  const decoy = (name: string, domainId: string): Decoy => ({
    image: join(dir, `${name}.img`),
    domainId,
    source: join(dir, name),
    manifest: manifests.get(name)!,
  });
  const decoys = [decoy('x', 'decoy-1'), decoy('y', 'decoy-2'), decoy('z', 'decoy-1')];
  if (opts.poison) decoys.push(decoy('w', 'decoy-1'));
  decoys.push(...compressedDecoys(dir));
  return { dir, decoys, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

function text(n: number, seed: number): Buffer {
  let s = '';
  for (let i = 0; s.length < n; i++) s += `${seed}:${i} compressible stress line ${(i * 7919 + seed) % 1000}\n`;
  return Buffer.from(s.slice(0, n));
}

/**
 * The mkfs.erofs for the compressed decoys: $ISHARE_MKFS_EROFS, else the upstream 1.9.3 the repository
 * builds into its cache (scripts/build-erofs-utils.sh: $ISHARE_EROFS_UTILS_PREFIX, else
 * ${XDG_CACHE_HOME:-~/.cache}/ishare/erofs-utils-1.9.3) when it is there, else the one on PATH. Only a
 * release that writes fingerprints (erofs-utils 1.9.3+, --xattr-inode-digest) makes them shareable —
 * readers of both images then race on one shared inode's pclusters; an older one still gives compressed
 * images to read under chaos, unshared.
 */
function compressedMkfs(): { bin: string; digest: boolean } | undefined {
  const cached = join(
    process.env.ISHARE_EROFS_UTILS_PREFIX ||
      join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'ishare', 'erofs-utils-1.9.3'),
    'bin',
    'mkfs.erofs',
  );
  const bin = process.env.ISHARE_MKFS_EROFS || (existsSync(cached) ? cached : 'mkfs.erofs');
  const help = spawnSync(bin, ['--help'], { encoding: 'utf8' });
  if (help.error) return undefined;
  return { bin, digest: `${help.stdout}${help.stderr}`.includes('--xattr-inode-digest') };
}

/**
 * Two lz4hc-compressed images (mkfs.erofs, with 16 KiB pclusters and inline tails) that hold the same
 * compressed file `h` in one domain: with a fingerprinting mkfs their shared inode is filled pcluster by
 * pcluster while the controller evicts and unmounts. Skipped (empty) where no mkfs.erofs is found.
 */
function compressedDecoys(dir: string): Decoy[] {
  const mkfsErofs = compressedMkfs();
  if (!mkfsErofs) return [];
  const h = text(150_000, 21);
  const out: Decoy[] = [];
  for (const [name, other] of [
    ['cx', text(40_000, 22)],
    ['cy', text(33_333, 23)],
  ] as const) {
    const src = join(dir, name);
    mkdirSync(src, { recursive: true });
    const files: ManifestEntry[] = [];
    for (const [p, data] of [
      ['h', h],
      ['other', other],
    ] as const) {
      writeFileSync(join(src, p), data);
      files.push({ path: `/${p}`, size: data.length, sha256: createHash('sha256').update(data).digest('hex') });
    }
    const image = join(dir, `${name}.img`);
    const args = [
      '--quiet',
      '-T0',
      '-zlz4hc',
      '-C16384',
      '-Eztailpacking',
      ...(mkfsErofs.digest ? ['--xattr-inode-digest'] : []),
      image,
      src,
    ];
    const r = spawnSync(mkfsErofs.bin, args, { encoding: 'utf8' });
    if (r.status !== 0) return [];
    const manifest: SourceManifest = { format: MANIFEST_FORMAT, files };
    out.push({ image, domainId: 'decoy-c', source: src, manifest, compressed: true });
  }
  // The compressed file really is compressed (else this decoy tests nothing new).
  return readFileSync(out[0].image).length < 150_000 ? out : [];
}
