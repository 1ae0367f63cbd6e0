// Container images made by hand for the tests: layer tars (tar-stream, or GNU tar of a real tree), OCI
// image layouts, `docker save` archives in the legacy layout and in the OCI-in-docker-save layout, and
// the real tools' output (umoci, skopeo) where a test asks for it. Digests are computed here from the
// bytes written, never by the code under test.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as tarStream from 'tar-stream';
import { hasCommand } from '../../../../test/helpers/trees.ts';

export const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

export interface LayerEntry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link';
  data?: Buffer | string;
  linkname?: string;
  mode?: number;
}

/** An uncompressed layer tar (ustar/pax, as tar-stream writes it). */
export async function layerTar(entries: readonly LayerEntry[]): Promise<Buffer> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<void>((resolve, reject) => {
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  for (const e of entries) {
    const type = e.type ?? 'file';
    const header = {
      name: e.name,
      type,
      mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644),
      mtime: new Date(1_700_000_000_000),
      uid: 0,
      gid: 0,
      ...(e.linkname !== undefined ? { linkname: e.linkname } : {}),
    };
    if (type === 'file')
      pack.entry(header, typeof e.data === 'string' ? Buffer.from(e.data) : (e.data ?? Buffer.alloc(0)));
    else pack.entry(header);
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** GNU tar of a real directory (hard links kept), as a layer. */
export function gnuTarOf(dir: string): Buffer {
  return execFileSync('tar', ['--sort=name', '--numeric-owner', '--owner=0', '--group=0', '-C', dir, '-cf', '-', '.'], {
    maxBuffer: 1 << 30,
  });
}

export type Compression = 'gzip' | 'zstd' | 'none';

export function compress(tar: Buffer, how: Compression): Buffer {
  if (how === 'gzip') return gzipSync(tar);
  if (how === 'zstd') return execFileSync('zstd', ['-q', '-c', '-'], { input: tar, maxBuffer: 1 << 30 });
  return tar;
}

const MEDIA: Record<Compression, string> = {
  gzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  none: 'application/vnd.oci.image.layer.v1.tar',
};

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os: string; architecture: string; variant?: string };
  annotations?: Record<string, string>;
}

/** Store `data` as a blob of the layout at `dir`; returns its descriptor. */
export function putBlob(dir: string, data: Buffer | string, mediaType: string): Descriptor {
  const buf = typeof data === 'string' ? Buffer.from(data) : data;
  const hex = sha256(buf);
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(join(dir, 'blobs', 'sha256', hex), buf);
  return { mediaType, digest: `sha256:${hex}`, size: buf.length };
}

export interface ImageSpec {
  /** Uncompressed layer tars, bottom first. */
  layers: readonly Buffer[];
  compression?: Compression | readonly Compression[];
  os?: string;
  architecture?: string;
  variant?: string;
}

/** Write one image's config, layers and manifest into the layout at `dir`; returns the manifest's descriptor. */
export function putImage(dir: string, spec: ImageSpec): Descriptor {
  const how = (i: number): Compression =>
    Array.isArray(spec.compression)
      ? (spec.compression[i] as Compression)
      : ((spec.compression as Compression | undefined) ?? 'gzip');
  const layers = spec.layers.map((tar, i) => putBlob(dir, compress(tar, how(i)), MEDIA[how(i)]));
  const config = {
    architecture: spec.architecture ?? 'amd64',
    os: spec.os ?? 'linux',
    ...(spec.variant ? { variant: spec.variant } : {}),
    config: {},
    rootfs: { type: 'layers', diff_ids: spec.layers.map((t) => `sha256:${sha256(t)}`) },
  };
  const cfg = putBlob(dir, JSON.stringify(config), 'application/vnd.oci.image.config.v1+json');
  const manifest = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: cfg, layers };
  return putBlob(dir, JSON.stringify(manifest), 'application/vnd.oci.image.manifest.v1+json');
}

export function writeIndex(dir: string, manifests: readonly Descriptor[]): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }),
  );
}

/** An OCI image layout at `dir` holding one image. */
export function ociLayout(dir: string, spec: ImageSpec, ref = 'latest'): Descriptor {
  const m = putImage(dir, spec);
  const d = { ...m, annotations: { 'org.opencontainers.image.ref.name': ref } };
  writeIndex(dir, [d]);
  return d;
}

/**
 * `docker save` as Docker before 25 wrote it: `<id>/layer.tar` (uncompressed), `<config sha>.json`,
 * `manifest.json`, `repositories`. Written as a directory at `dir`; pack it with packDir.
 */
export function dockerSaveLegacy(
  dir: string,
  layers: readonly Buffer[],
  tag = 'test/app:1',
  opts: { symlinkLayers?: boolean } = {},
): void {
  mkdirSync(dir, { recursive: true });
  const config = JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    config: {},
    rootfs: { type: 'layers', diff_ids: layers.map((t) => `sha256:${sha256(t)}`) },
  });
  const configName = `${sha256(config)}.json`;
  writeFileSync(join(dir, configName), config);
  const names: string[] = [];
  let parent = '';
  for (const tar of layers) {
    // Legacy layer ids chain the parent's id, as docker's v1 ids did.
    const id = sha256(`${parent}\n${sha256(tar)}`);
    mkdirSync(join(dir, id));
    if (opts.symlinkLayers) {
      // As skopeo (and docker for layers shared between saved images) write it: the tar once, linked.
      writeFileSync(join(dir, `${sha256(tar)}.tar`), tar);
      symlinkSync(`../${sha256(tar)}.tar`, join(dir, id, 'layer.tar'));
    } else {
      writeFileSync(join(dir, id, 'layer.tar'), tar);
    }
    writeFileSync(join(dir, id, 'VERSION'), '1.0');
    writeFileSync(join(dir, id, 'json'), JSON.stringify({ id, ...(parent ? { parent } : {}) }));
    names.push(`${id}/layer.tar`);
    parent = id;
  }
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify([{ Config: configName, RepoTags: [tag], Layers: names }]));
  const [repo, t] = tag.split(':');
  writeFileSync(join(dir, 'repositories'), JSON.stringify({ [repo]: { [t]: parent } }));
}

/** `docker save` as Docker 25+ writes it: an OCI layout plus manifest.json naming blobs/sha256/... */
export function dockerSaveOci(dir: string, layers: readonly Buffer[], tag = 'test/app:1'): void {
  const m = putImage(dir, { layers, compression: 'none' });
  writeIndex(dir, [
    {
      ...m,
      annotations: {
        'io.containerd.image.name': `docker.io/${tag}`,
        'org.opencontainers.image.ref.name': tag.split(':')[1],
      },
    },
  ]);
  const manifest = JSON.parse(readFileSync(join(dir, 'blobs', 'sha256', m.digest.slice(7)), 'utf8')) as {
    config: Descriptor;
    layers: Descriptor[];
  };
  writeFileSync(
    join(dir, 'manifest.json'),
    JSON.stringify([
      {
        Config: `blobs/sha256/${manifest.config.digest.slice(7)}`,
        RepoTags: [tag],
        Layers: manifest.layers.map((l) => `blobs/sha256/${l.digest.slice(7)}`),
      },
    ]),
  );
}

/** A tar of the directory's contents (what `docker save -o` gives for that layout). */
export function packDir(dir: string, out: string): void {
  execFileSync('tar', ['--sort=name', '-C', dir, '-cf', out, '.']);
}

/**
 * Is `tool` here? In CI it must be (.ci/run installs it): a missing tool fails there. Elsewhere the
 * caller skips, printing `reason`.
 */
export function toolAvailable(tool: string): boolean {
  if (hasCommand(tool)) return true;
  if (process.env.CI) throw new Error(`${tool} is missing in CI (.ci/run installs it)`);
  return false;
}
