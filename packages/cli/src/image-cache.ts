// Inputs of the experiment commands may be images, directories, tar archives or container images
// (keyed by their manifest digest). Trees are turned into
// images with our mkfs, once: images live in a cache directory (`$ISHARE_CACHE`, else .cache/images/
// in the repository), named by a key over the source and the writer's own code, and built with a fixed
// timestamp and uuid so the same source always gives the same bytes.
import { createHash } from 'node:crypto';
import {
  createReadStream,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readSync,
  closeSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
// The format constants only (as core.ts does): the package entry would load the whole kernel.
import { EROFS_SUPER_MAGIC_V1, EROFS_SUPER_OFFSET } from '@ishare/core/format';
import { fileError, namingInput, UsageError } from './errors.ts';
import { openImage } from './image.ts';
import { pruneCache, touchImage } from './cache-store.ts';
import { progressBar } from './progress.ts';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const BUILD_TIME = 1_700_000_000;
export const BUILD_UUID = '15a4e000-0000-4000-8000-0000000000ca';

/** 'oci': a container image (OCI layout or archive, docker/podman save archive), flattened into one image. */
export type InputKind = 'image' | 'dir' | 'tar' | 'oci';

/**
 * How a container image input is laid out on the host: `flat` one image of the merged tree (ishare's
 * own); `layers` one EROFS blob per layer under a read-only overlay, as containerd's EROFS snapshotter
 * mounts them; `fsmeta` the merged metadata image with the layer blobs as its extra devices.
 */
export type Layout = 'flat' | 'layers' | 'fsmeta';
export const LAYOUTS: readonly Layout[] = ['flat', 'layers', 'fsmeta'];

export interface PreparedInput {
  /** As given on the command line. */
  readonly input: string;
  readonly kind: InputKind;
  /** The image to mount (the input itself, or the cached build). */
  readonly image: string;
  /** Built now (false: an image input, or reused from the cache). */
  readonly built: boolean;
  /** Short name for tables: the input's base name without .img/.tar/.tar.gz. */
  readonly label: string;
  /** Layout `layers` (container inputs): the layer blobs, bottom first; `image` is then the top one. */
  readonly layers?: readonly string[];
  /**
   * Layout `fsmeta` (container inputs): `image` is the fsmeta and these are its extra devices, the layer
   * blobs in table order (bottom first), mounted as its `device=`s.
   */
  readonly devices?: readonly string[];
  /**
   * The source manifest (path, size, sha256 of each regular file as mkfs read it from the source) kept
   * beside a cached build, or beside an image input as IMAGE.manifest.json; absent when there is none.
   */
  readonly manifest?: string;
}

/** Where a build's source manifest is kept: beside the image. */
export function manifestPathOf(image: string): string {
  return `${image}.manifest.json`;
}

export function defaultCacheDir(): string {
  const env = process.env.ISHARE_CACHE;
  return env !== undefined && env !== '' ? resolve(env) : join(REPO_ROOT, '.cache', 'images');
}

export function inputLabel(input: string): string {
  return basename(resolve(input)).replace(/\.(img|erofs|tar\.gz|tgz|tar)$/i, '') || input;
}

/** What an input is, by content where it can tell (an image need not end in .img). */
export function inputKind(input: string): InputKind {
  let st;
  try {
    st = statSync(input);
  } catch (e) {
    throw fileError(input, e);
  }
  if (st.isDirectory()) return 'dir';
  if (!st.isFile()) throw new UsageError(`${input}: not an image, a directory or a tar archive`);
  const head = Buffer.alloc(EROFS_SUPER_OFFSET + 4);
  const fd = openSync(input, 'r');
  let n: number;
  try {
    n = readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  if (n >= head.length && head.readUInt32LE(EROFS_SUPER_OFFSET) === EROFS_SUPER_MAGIC_V1) return 'image';
  const gzip = n >= 2 && head[0] === 0x1f && head[1] === 0x8b;
  const ustar = n >= 262 && head.toString('latin1', 257, 262) === 'ustar';
  if (gzip || ustar || /\.(tar|tar\.gz|tgz)$/i.test(input)) return 'tar';
  // Let the reader say what is wrong with it (bad magic...): that message names the problem.
  return 'image';
}

/**
 * Cheap key of a directory: every entry's path, type and mode, owner, size, mtime, inode number and
 * link target. Not the link count or ctime: pnpm's trees are hard links into a store shared by every
 * install on the machine, and another install elsewhere changes both without changing a byte here.
 * Hard links inside the tree are still seen: two paths with one inode number.
 */
export function dirKey(dir: string): string {
  const h = createHash('sha256');
  const walk = (abs: string, rel: string): void => {
    for (const name of readdirSync(abs).sort()) {
      const p = join(abs, name);
      const r = rel === '' ? name : `${rel}/${name}`;
      const st = lstatSync(p, { bigint: true });
      h.update(`${r}\0${st.mode}\0${st.size}\0${st.mtimeNs}\0${st.ino}\0${st.uid}\0${st.gid}\0`);
      if (st.isSymbolicLink()) h.update(readlinkSync(p));
      h.update('\n');
      if (st.isDirectory()) walk(p, r);
    }
  };
  walk(dir, '');
  return h.digest('hex');
}

export async function fileKey(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

let writerStampMemo: string | undefined;
/** Hash of the image writer's code: images made by an older writer are not reused. */
export function writerStamp(): string {
  if (writerStampMemo !== undefined) return writerStampMemo;
  const h = createHash('sha256');
  const walk = (abs: string): void => {
    if (!existsSync(abs)) return;
    for (const name of readdirSync(abs).sort()) {
      const p = join(abs, name);
      if (lstatSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.ts')) h.update(`${name}\0`).update(readFileSync(p));
    }
  };
  walk(join(REPO_ROOT, 'packages/core/src/erofs'));
  walk(join(REPO_ROOT, 'packages/core/src/oci')); // flattens container images
  writerStampMemo = h.digest('hex');
  return writerStampMemo;
}

export interface PrepareOptions {
  cacheDir?: string;
  /** Container image inputs: which image of a multi-platform index ("os/arch[/variant]"). */
  platform?: string;
  /** Show a bar on a terminal while an input's image is built (not for cache hits); never a line left behind. */
  progress?: boolean;
  /** Told before a build starts (not for cache hits): the bench's log. The CLI shows `progress` instead. */
  onBuild?: (input: string, image: string) => void;
  /** Container inputs: flat (default) or one blob per layer (see Layout). Other inputs are one image either way. */
  layout?: Layout;
}

/**
 * A container image's layer blobs in the cache (`layers-<writer stamp>/`, one directory for every
 * image, so a layer two images share is one blob file), built on first use.
 */
async function buildLayers(
  input: string,
  cacheDir: string,
  progress: boolean,
  onBuild: ((input: string, image: string) => void) | undefined,
  platform: string | undefined,
  fsmeta: boolean,
): Promise<{ layers: string[]; fsmeta: string; built: boolean }> {
  const dir = join(cacheDir, `layers-${writerStamp().slice(0, 16)}`);
  const { mkfsLayers, resolveContainerImage, layerBlobName } = await import('@ishare/core/format');
  let names: string[];
  let meta: string;
  try {
    const img = await resolveContainerImage(input, platform !== undefined ? { platform } : {});
    names = img.layers.map((l) => join(dir, layerBlobName(l)));
    meta = join(dir, `fsmeta-${img.key.slice(img.key.lastIndexOf(':') + 1)}.erofs`);
  } catch (e) {
    throw namingInput(input, e);
  }
  if (names.every((n) => existsSync(n)) && (!fsmeta || existsSync(meta))) {
    for (const n of fsmeta ? [...names, meta] : names) touchImage(n);
    return { layers: names, fsmeta: meta, built: false };
  }
  const hadMeta = existsSync(meta);
  mkdirSync(dir, { recursive: true });
  onBuild?.(input, dir);
  const bar = progressBar(progress, `building the layers of ${input}`, 'bytes');
  try {
    const r = await mkfsLayers({
      outDir: dir,
      source: input,
      timestamp: BUILD_TIME,
      uuid: BUILD_UUID,
      onProgress: bar.update,
      ...(platform !== undefined ? { platform } : {}),
    });
    const layers = r.layers.map((l) => l.file);
    for (const n of [...layers, r.fsmeta]) touchImage(n);
    return { layers, fsmeta: r.fsmeta, built: r.layers.some((l) => l.built) || (fsmeta && !hadMeta) };
  } catch (e) {
    throw namingInput(input, e);
  } finally {
    bar.stop();
  }
}

/** A container image is named by its content: the digest of the manifest picked (see core's oci/). */
async function containerKey(input: string, platform: string | undefined): Promise<string> {
  const { resolveContainerImage } = await import('@ishare/core/format');
  return (await resolveContainerImage(input, platform !== undefined ? { platform } : {})).key;
}

async function buildCached(
  input: string,
  kind: 'dir' | 'tar' | 'oci',
  cacheDir: string,
  progress: boolean,
  onBuild: ((input: string, image: string) => void) | undefined,
  platform?: string,
): Promise<{ image: string; built: boolean }> {
  let source: string;
  try {
    source =
      kind === 'dir' ? dirKey(input) : kind === 'oci' ? await containerKey(input, platform) : await fileKey(input);
  } catch (e) {
    throw namingInput(input, e);
  }
  const key = createHash('sha256')
    .update(`${kind}\0${source}\0${writerStamp()}\0${BUILD_TIME}\0${BUILD_UUID}`)
    .digest('hex');
  const safe =
    inputLabel(input)
      .replace(/[^A-Za-z0-9._+-]/g, '_')
      .slice(0, 80) || 'image';
  const image = join(cacheDir, `${safe}-${key.slice(0, 16)}.img`);
  if (existsSync(image) && existsSync(manifestPathOf(image))) {
    touchImage(image);
    return { image, built: false };
  }
  mkdirSync(cacheDir, { recursive: true });
  onBuild?.(input, image);
  const bar = progressBar(progress, `building ${input}`, 'bytes');
  const { mkfs } = await import('@ishare/core');
  // Built beside its final name and renamed: a concurrent run or a crash never leaves half an image.
  const tmp = `${image}.tmp-${process.pid}`;
  const tmpManifest = `${tmp}.manifest.json`;
  try {
    const r = await mkfs({
      out: tmp,
      source: input,
      timestamp: BUILD_TIME,
      uuid: BUILD_UUID,
      manifest: tmpManifest,
      onProgress: bar.update,
      ...(kind === 'oci' && platform !== undefined ? { platform } : {}),
    });
    // The image must be the one the key names (the input could have been swapped meanwhile).
    if (kind === 'oci' && r.container?.key !== source)
      throw new UsageError(`${input}: changed while its image was being built`);
    // The manifest first: an image in the cache always has its manifest beside it.
    renameSync(tmpManifest, manifestPathOf(image));
    renameSync(tmp, image);
    touchImage(image);
  } catch (e) {
    throw namingInput(input, e);
  } finally {
    bar.stop();
    rmSync(tmp, { force: true });
    rmSync(tmpManifest, { force: true });
  }
  return { image, built: true };
}

/** Open and close an image input now, so a bad one is named as the user gave it, before any work. */
function checkImage(input: string): void {
  openImage(input).close();
}

/** A container image input (what `--layout` applies to), as prepareInputs tells them. */
export async function isContainerInput(input: string): Promise<boolean> {
  const { detectContainer } = await import('@ishare/core/format');
  return inputKind(input) !== 'image' && (await detectContainer(input)) !== undefined;
}

/** Images for every input, building (or reusing) the trees' images in the cache. */
export async function prepareInputs(inputs: readonly string[], opts: PrepareOptions = {}): Promise<PreparedInput[]> {
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  const out: PreparedInput[] = [];
  const { detectContainer } = await import('@ishare/core/format');
  const kinds: InputKind[] = [];
  for (const input of inputs) {
    const kind = inputKind(input);
    kinds.push(kind !== 'image' && (await detectContainer(input)) ? 'oci' : kind);
  }
  if (opts.platform !== undefined && !kinds.includes('oci'))
    throw new UsageError('--platform: no input is a container image');
  const layout = opts.layout ?? 'flat';
  if (layout !== 'flat' && !kinds.includes('oci'))
    throw new UsageError(`--layout ${layout}: no input is a container image (the layouts are for container images)`);
  for (const [i, input] of inputs.entries()) {
    const kind = kinds[i];
    const label = inputLabel(input);
    if (kind === 'image') {
      checkImage(input);
      const image = resolve(input);
      out.push({
        input,
        kind,
        image,
        built: false,
        label,
        ...(existsSync(manifestPathOf(image)) ? { manifest: manifestPathOf(image) } : {}),
      });
    } else if (kind === 'oci' && layout !== 'flat') {
      const { layers, fsmeta, built } = await buildLayers(
        input,
        cacheDir,
        opts.progress ?? false,
        opts.onBuild,
        opts.platform,
        layout === 'fsmeta',
      );
      if (layout === 'layers') out.push({ input, kind, image: layers[layers.length - 1], built, label, layers });
      // fsmeta: the merged metadata, its layer blobs the extra devices in table order (mkfsLayers writes
      // the table bottom layer first), as containerd's fsmerge mounts it.
      else out.push({ input, kind, image: fsmeta, built, label, devices: layers });
    } else {
      const { image, built } = await buildCached(
        input,
        kind,
        cacheDir,
        opts.progress ?? false,
        opts.onBuild,
        opts.platform,
      );
      out.push({ input, kind, image, built, label, manifest: manifestPathOf(image) });
    }
  }
  // Bounded: after building, the least recently used images of other runs go first.
  if (out.some((p) => p.built))
    pruneCache(cacheDir, new Set(out.flatMap((p) => [...(p.layers ?? [p.image]), ...(p.devices ?? [])])));
  return out;
}
