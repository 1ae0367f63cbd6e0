// mkfs --layers: a container image as containerd's EROFS snapshotter keeps it — one EROFS blob per
// layer (fromlayer.ts: whiteouts in overlayfs form), named by the layer's diff_id (the digest of its
// uncompressed tar), so two images that share a layer share the blob file: a blob already in the
// output directory is reused, not rebuilt. Each blob is written beside its name and renamed into place.
import { closeSync, mkdirSync, openSync, readSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ErofsError, isErofsError } from '../errors.ts';
import { EROFS_SUPER_MAGIC_V1, EROFS_SUPER_OFFSET } from '../format.ts';
import { detectContainer } from '../../oci/store.ts';
import { resolveContainerImage, type LayerRef } from '../../oci/resolve.ts';
import { resolveOptions, type MkfsOptions } from './options.ts';
import { buildImage, containerReport, type ContainerReport } from './build.ts';
import { readLayerSource } from './fromlayer.ts';
import { mkfsFsmeta } from './fsmeta.ts';
import { createHash } from 'node:crypto';

export interface MkfsLayersOptions extends Omit<MkfsOptions, 'out' | 'manifest' | 'inline' | 'devices'> {
  /** Directory the layer blobs are written to (created when missing). */
  outDir: string;
}

export interface LayerBlobReport {
  /** 1-based, bottom layer first. */
  readonly number: number;
  /** The layer's diff_id (digest of its uncompressed tar): the blob's name. */
  readonly diffId: string;
  /** The blob file. */
  readonly file: string;
  /** Written now (false: an earlier run, or an image sharing the layer, left it there). */
  readonly built: boolean;
  readonly bytes: number;
}

export interface MkfsLayersReport {
  readonly container: ContainerReport;
  /** Bottom layer first, as the image lists them. */
  readonly layers: readonly LayerBlobReport[];
  /**
   * The image's fsmeta (`fsmeta-<manifest digest hex>.erofs`): merged metadata whose extra devices are
   * the layer blobs, in this order (tagged by their uuids: mount it with them as `device=`s, in order).
   */
  readonly fsmeta: string;
}

/**
 * Each layer's uuid, from the run's (given or random) uuid and the layer's diff_id: distinct per layer
 * (an fsmeta's device tags tell them apart) and, with a fixed uuid, the same blob every time.
 */
function layerUuid(base: Buffer, diffId: string): string {
  const b = createHash('sha256').update(base).update(diffId).digest().subarray(0, 16);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** File name of a layer's blob: its diff_id, as `sha256-<hex>.erofs`. */
export function layerBlobName(layer: Pick<LayerRef, 'diffId' | 'label'>): string {
  if (!layer.diffId) throw new ErofsError('ECORRUPT', `layer ${layer.label} has no diff_id to name its blob by`);
  return `${layer.diffId.algorithm}-${layer.diffId.hex}.erofs`;
}

/** An EROFS image is already there (a reused blob must at least be one). */
function isErofsFile(path: string): boolean {
  let fd: number;
  try {
    if (!statSync(path).isFile()) return false;
    fd = openSync(path, 'r');
  } catch {
    return false;
  }
  try {
    const b = Buffer.alloc(4);
    return readSync(fd, b, 0, 4, EROFS_SUPER_OFFSET) === 4 && b.readUInt32LE(0) === EROFS_SUPER_MAGIC_V1;
  } finally {
    closeSync(fd);
  }
}

export async function mkfsLayers(opts: MkfsLayersOptions): Promise<MkfsLayersReport> {
  if (typeof opts.outDir !== 'string' || opts.outDir === '')
    throw new ErofsError('EINVAL', 'mkfs: outDir must be a path');
  const outDir = resolve(opts.outDir);
  // Checked once for every layer (the output path is a placeholder: each layer names its own). No
  // inline tails, as containerd's differ asks (-Enoinline_data): every file's data is whole blocks of
  // the blob, which an fsmeta image's chunk indexes can then point at.
  const base = resolveOptions({ ...opts, inline: false, out: join(outDir, 'layer.erofs') });
  let st;
  try {
    st = statSync(base.source);
  } catch {
    throw new ErofsError('ENOENT', `source ${base.source} does not exist`);
  }
  if (!(st.isDirectory() || st.isFile()) || !(await detectContainer(base.source)))
    throw new ErofsError('EINVAL', `source ${base.source} is not a container image (mkfs --layers needs one)`);
  const img = await resolveContainerImage(base.source, base.platform !== undefined ? { platform: base.platform } : {});
  try {
    mkdirSync(outDir, { recursive: true });
  } catch (e) {
    throw new ErofsError('EIO', `cannot create ${outDir}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  if (!statSync(outDir).isDirectory()) throw new ErofsError('EINVAL', `output ${opts.outDir} is not a directory`);
  let total = 0;
  for (const l of img.layers) total += img.store.size(l.member) ?? 0;
  let before = 0;
  const layers: LayerBlobReport[] = [];
  for (const layer of img.layers) {
    const file = join(outDir, layerBlobName(layer));
    if (isErofsFile(file)) {
      layers.push({ number: layer.number, diffId: layer.diffId!.text, file, built: false, bytes: statSync(file).size });
    } else {
      const offset = before;
      const cfg = {
        ...base,
        out: file,
        uuid: Buffer.from(layerUuid(base.uuid, layer.diffId!.text).replace(/-/g, ''), 'hex'),
        onProgress: base.onProgress && ((done: number) => base.onProgress?.(offset + done, total)),
      };
      try {
        const r = await buildImage(cfg, (sink, tailInline) => readLayerSource(img, layer, sink, cfg, tailInline));
        layers.push({ number: layer.number, diffId: layer.diffId!.text, file, built: true, bytes: r.bytes });
      } catch (e) {
        const where = `image ${img.name}: layer ${layer.number}/${img.layers.length} (${layer.label})`;
        if (isErofsError(e)) throw new ErofsError(e.code, `${where}: ${e.message}`);
        throw e;
      }
    }
    before += img.store.size(layer.member) ?? 0;
    base.onProgress?.(before, total);
  }
  const fsmeta = join(outDir, `fsmeta-${img.key.slice(img.key.lastIndexOf(':') + 1)}.erofs`);
  if (!isErofsFile(fsmeta) || layers.some((l) => l.built)) {
    try {
      await mkfsFsmeta({
        out: fsmeta,
        layers: layers.map((l) => l.file),
        ...(base.timestamp !== undefined ? { timestamp: base.timestamp } : {}),
        ...(opts.uuid !== undefined ? { uuid: opts.uuid } : {}),
      });
    } catch (e) {
      if (isErofsError(e)) throw new ErofsError(e.code, `image ${img.name}: ${e.message}`);
      throw e;
    }
  }
  return { container: containerReport(img), layers, fsmeta };
}
