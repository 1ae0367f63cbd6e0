// From a container image store to the one image to flatten: its layers in order, each with the digests
// that will be checked while it is read. OCI: index.json → (nested indexes, picked by platform) →
// manifest → config + layers. docker save (legacy): manifest.json → config (named by its digest) +
// layer tars (checked against the config's diff_ids). Every JSON blob read here is checked against
// its digest before it is believed.
import { ErofsError, isErofsError } from '../erofs/errors.ts';
import { blobPath, hasher, parseDigest, shortDigest, type Digest } from './digest.ts';
import { openStore, type BlobStore, type ContainerFormat } from './store.ts';

/** JSON documents here are small; a bigger one is not what it claims to be. */
const MAX_JSON = 16 << 20;

const MT_OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const MT_DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
const MT_OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const MT_DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';

export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
}

export interface LayerRef {
  /** 1-based position, for messages. */
  readonly number: number;
  /** Member of the store holding the layer. */
  readonly member: string;
  /** Digest of the blob as stored (OCI descriptors; docker archives whose member is named by it). */
  readonly blobDigest: Digest | undefined;
  /** Size the descriptor announces. */
  readonly size: number | undefined;
  /** Digest of the uncompressed tar (the config's rootfs.diff_ids). */
  readonly diffId: Digest | undefined;
  readonly mediaType: string | undefined;
  /** Short name for messages: the blob digest, else the diff id, else the member. */
  readonly label: string;
}

export interface ContainerImage {
  readonly store: BlobStore;
  readonly format: ContainerFormat;
  /** The input path, with the picked reference or tag when the store names one. */
  readonly name: string;
  /**
   * What identifies the image's content: the manifest digest (OCI), or for a legacy docker archive,
   * which has no manifest blob, the config digest (the image id) — it pins the layers' diff_ids.
   */
  readonly key: string;
  readonly platform: string | undefined;
  readonly layers: readonly LayerRef[];
}

export interface ResolveOptions {
  /** "os/arch[/variant]": which image of a multi-platform index. */
  platform?: string;
}

export function parsePlatform(v: string): Platform {
  const m = /^([a-z0-9_-]+)\/([a-z0-9_-]+)(?:\/([a-z0-9_.-]+))?$/i.exec(v);
  if (!m)
    throw new ErofsError(
      'EINVAL',
      `platform ${JSON.stringify(v)} is not os/arch[/variant] (e.g. linux/amd64, linux/arm64/v8)`,
    );
  return m[3] ? { os: m[1], architecture: m[2], variant: m[3] } : { os: m[1], architecture: m[2] };
}

export function platformText(p: Platform | undefined): string {
  if (!p) return 'unknown platform';
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

/** Does `p` satisfy what was asked? Without a variant any variant does; arm64's default variant is v8. */
function platformMatches(p: Platform | undefined, want: Platform): boolean {
  if (!p || p.os !== want.os || p.architecture !== want.architecture) return false;
  if (want.variant === undefined) return true;
  const v = p.variant ?? (p.architecture === 'arm64' ? 'v8' : undefined);
  return v === want.variant;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

async function readAll(store: BlobStore, name: string, what: string, limit = MAX_JSON): Promise<Buffer> {
  const size = store.size(name);
  if (size === undefined) throw new ErofsError('ENOENT', `${what} (${name}) is missing`);
  if (size > limit)
    throw new ErofsError('ECORRUPT', `${what} (${name}) is ${size} bytes: too big to be what it claims`);
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of store.read(name)) {
    parts.push(c);
    n += c.length;
  }
  if (n !== size) throw new ErofsError('ETRUNCATED', `${what} (${name}): read ${n} of ${size} bytes`);
  return Buffer.concat(parts);
}

function parseJson(buf: Buffer, what: string): unknown {
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch (e) {
    throw new ErofsError('ECORRUPT', `${what} is not valid JSON (${(e as Error).message})`);
  }
}

interface Descriptor {
  readonly mediaType: string | undefined;
  readonly digest: Digest;
  readonly size: number;
  readonly platform: Platform | undefined;
  readonly ref: string | undefined;
}

function parseDescriptor(v: unknown, what: string): Descriptor {
  if (!isObject(v)) throw new ErofsError('ECORRUPT', `${what}: descriptor is not an object`);
  const digest = parseDigest(v.digest, what);
  if (typeof v.size !== 'number' || !Number.isSafeInteger(v.size) || v.size < 0)
    throw new ErofsError('ECORRUPT', `${what}: descriptor size ${JSON.stringify(v.size)} is not a byte count`);
  let platform: Platform | undefined;
  if (isObject(v.platform) && typeof v.platform.os === 'string' && typeof v.platform.architecture === 'string') {
    platform =
      typeof v.platform.variant === 'string' && v.platform.variant !== ''
        ? { os: v.platform.os, architecture: v.platform.architecture, variant: v.platform.variant }
        : { os: v.platform.os, architecture: v.platform.architecture };
  }
  const ann = isObject(v.annotations) ? v.annotations : {};
  // containerd's (and docker save's) full name says more than the OCI tag alone.
  const ref = [ann['io.containerd.image.name'], ann['org.opencontainers.image.ref.name']].find(
    (r): r is string => typeof r === 'string',
  );
  return { mediaType: typeof v.mediaType === 'string' ? v.mediaType : undefined, digest, size: v.size, platform, ref };
}

/** A blob named by a descriptor: present, of the announced size, with the announced digest. */
async function readBlob(
  store: BlobStore,
  d: Descriptor | { digest: Digest; size: number | undefined },
  what: string,
): Promise<Buffer> {
  const buf = await readAll(store, blobPath(d.digest), `${what} ${shortDigest(d.digest)}`);
  if (d.size !== undefined && buf.length !== d.size)
    throw new ErofsError(
      'ECORRUPT',
      `${what} ${shortDigest(d.digest)} is ${buf.length} bytes, its descriptor says ${d.size}`,
    );
  const got = hasher(d.digest).update(buf).digest('hex');
  if (got !== d.digest.hex)
    throw new ErofsError(
      'ECORRUPT',
      `${what} ${shortDigest(d.digest)} does not match its digest (content is ${d.digest.algorithm}:${got.slice(0, 12)}…)`,
    );
  return buf;
}

function configPlatform(config: unknown): Platform | undefined {
  if (!isObject(config) || typeof config.os !== 'string' || typeof config.architecture !== 'string') return undefined;
  return typeof config.variant === 'string' && config.variant !== ''
    ? { os: config.os, architecture: config.architecture, variant: config.variant }
    : { os: config.os, architecture: config.architecture };
}

function diffIds(config: unknown, layers: number, what: string): Digest[] {
  const rootfs = isObject(config) ? config.rootfs : undefined;
  const ids = isObject(rootfs) ? rootfs.diff_ids : undefined;
  if (!Array.isArray(ids)) throw new ErofsError('ECORRUPT', `${what}: config has no rootfs.diff_ids`);
  if (ids.length !== layers)
    throw new ErofsError('ECORRUPT', `${what}: config lists ${ids.length} diff_ids for ${layers} layers`);
  return ids.map((v, i) => parseDigest(v, `${what}: diff_id ${i + 1}`));
}

interface Candidate {
  readonly desc: Descriptor;
  platform: Platform | undefined;
}

function describe(c: Candidate): string {
  return `${c.desc.ref ? `${c.desc.ref} ` : ''}${platformText(c.platform)}`;
}

/** The image manifests an OCI index leads to (nested indexes followed), attestations left out. */
async function manifestsOf(store: BlobStore, index: unknown, what: string, depth: number): Promise<Candidate[]> {
  if (!isObject(index) || !Array.isArray(index.manifests))
    throw new ErofsError('ECORRUPT', `${what} has no manifests list`);
  const out: Candidate[] = [];
  for (const [i, v] of index.manifests.entries()) {
    const d = parseDescriptor(v, `${what}: manifests[${i}]`);
    if (d.platform?.os === 'unknown') continue; // buildkit attestation manifests
    if (d.mediaType === MT_OCI_INDEX || d.mediaType === MT_DOCKER_LIST) {
      if (depth >= 4) throw new ErofsError('ECORRUPT', `${what}: indexes nested too deep`);
      const nested = parseJson(await readBlob(store, d, 'index'), `index ${shortDigest(d.digest)}`);
      for (const c of await manifestsOf(store, nested, `index ${shortDigest(d.digest)}`, depth + 1)) {
        out.push({ desc: { ...c.desc, ref: c.desc.ref ?? d.ref }, platform: c.platform });
      }
    } else if (d.mediaType === undefined || d.mediaType === MT_OCI_MANIFEST || d.mediaType === MT_DOCKER_MANIFEST) {
      out.push({ desc: d, platform: d.platform });
    }
    // Other media types (artifacts, signatures) are not images.
  }
  return out;
}

async function loadManifest(
  store: BlobStore,
  d: Descriptor,
): Promise<{ manifest: Json; config: unknown; configDesc: Descriptor }> {
  const manifest = parseJson(await readBlob(store, d, 'manifest'), `manifest ${shortDigest(d.digest)}`);
  if (!isObject(manifest) || !Array.isArray(manifest.layers)) {
    throw new ErofsError('ECORRUPT', `manifest ${shortDigest(d.digest)} is not an image manifest (no layers list)`);
  }
  const configDesc = parseDescriptor(manifest.config, `manifest ${shortDigest(d.digest)}: config`);
  const config = parseJson(await readBlob(store, configDesc, 'config'), `config ${shortDigest(configDesc.digest)}`);
  return { manifest, config, configDesc };
}

async function resolveOci(store: BlobStore, opts: ResolveOptions): Promise<ContainerImage> {
  const index = parseJson(await readAll(store, 'index.json', 'index.json'), 'index.json');
  const all = await manifestsOf(store, index, 'index.json', 0);
  // The same manifest can be listed twice (two tags): one image.
  const seen = new Map<string, Candidate>();
  for (const c of all) if (!seen.has(c.desc.digest.text)) seen.set(c.desc.digest.text, c);
  const cands = [...seen.values()];
  if (cands.length === 0) throw new ErofsError('ECORRUPT', 'index.json lists no image manifest');
  // Manifests listed without a platform take it from their config.
  const loaded = new Map<string, Awaited<ReturnType<typeof loadManifest>>>();
  if (cands.length > 1 || opts.platform !== undefined) {
    for (const c of cands) {
      if (c.platform) continue;
      const l = await loadManifest(store, c.desc);
      loaded.set(c.desc.digest.text, l);
      c.platform = configPlatform(l.config);
    }
  }
  let pick: Candidate;
  if (opts.platform !== undefined) {
    const want = parsePlatform(opts.platform);
    const hits = cands.filter((c) => platformMatches(c.platform, want));
    const list = cands.map(describe).join(', ');
    if (hits.length === 0) throw new ErofsError('ENOENT', `no image for ${opts.platform} (available: ${list})`);
    if (hits.length > 1)
      throw new ErofsError(
        'EINVAL',
        `${opts.platform} matches ${hits.length} images (${hits.map(describe).join(', ')}): be more precise`,
      );
    pick = hits[0];
  } else {
    if (cands.length > 1) {
      const platforms = new Set(cands.map((c) => platformText(c.platform)));
      const how =
        platforms.size === cands.length
          ? 'pick one with --platform os/arch[/variant]'
          : 'copy the one wanted into a layout of its own (skopeo copy oci:DIR:TAG oci:NEWDIR)';
      throw new ErofsError('EINVAL', `holds ${cands.length} images (${cands.map(describe).join(', ')}): ${how}`);
    }
    pick = cands[0];
  }
  const { manifest, config } = loaded.get(pick.desc.digest.text) ?? (await loadManifest(store, pick.desc));
  const platform = pick.platform ?? configPlatform(config);
  const layerDescs = (manifest.layers as unknown[]).map((v, i) =>
    parseDescriptor(v, `manifest ${shortDigest(pick.desc.digest)}: layer ${i + 1}`),
  );
  const ids = diffIds(config, layerDescs.length, `manifest ${shortDigest(pick.desc.digest)}`);
  return {
    store,
    format: store.format,
    name: pick.desc.ref ? `${store.path} (${pick.desc.ref})` : store.path,
    key: pick.desc.digest.text,
    platform: platform ? platformText(platform) : undefined,
    layers: layerDescs.map((d, i) => ({
      number: i + 1,
      member: blobPath(d.digest),
      blobDigest: d.digest,
      size: d.size,
      diffId: ids[i],
      mediaType: d.mediaType,
      label: shortDigest(d.digest),
    })),
  };
}

/** A docker archive member named by a digest: "<hex>.json", "<hex>.tar", "blobs/sha256/<hex>". */
function digestOfMember(name: string): Digest | undefined {
  const m = /^(?:blobs\/sha256\/)?([0-9a-f]{64})(?:\.json|\.tar)?$/.exec(name);
  return m ? parseDigest(`sha256:${m[1]}`, name) : undefined;
}

async function resolveDocker(store: BlobStore, opts: ResolveOptions): Promise<ContainerImage> {
  const list = parseJson(await readAll(store, 'manifest.json', 'manifest.json'), 'manifest.json');
  if (!Array.isArray(list) || list.length === 0 || !list.every(isObject))
    throw new ErofsError('ECORRUPT', 'manifest.json is not a list of images');
  const tags = (e: Json): string =>
    Array.isArray(e.RepoTags) && e.RepoTags.length > 0 ? e.RepoTags.join(' ') : String(e.Config);
  if (list.length > 1) {
    throw new ErofsError(
      'EINVAL',
      `holds ${list.length} images (${list.map(tags).join(', ')}): save one image per archive`,
    );
  }
  const entry = list[0];
  if (
    typeof entry.Config !== 'string' ||
    !Array.isArray(entry.Layers) ||
    !entry.Layers.every((l) => typeof l === 'string')
  ) {
    throw new ErofsError('ECORRUPT', 'manifest.json: entry without Config and Layers');
  }
  const configDigest = digestOfMember(entry.Config);
  if (!configDigest)
    throw new ErofsError(
      'ECORRUPT',
      `manifest.json: config ${entry.Config} is not named by its digest, so it cannot be checked`,
    );
  const configBuf = await readAll(store, entry.Config, 'config');
  const got = hasher(configDigest).update(configBuf).digest('hex');
  if (got !== configDigest.hex)
    throw new ErofsError(
      'ECORRUPT',
      `config ${entry.Config} does not match its digest (content is sha256:${got.slice(0, 12)}…)`,
    );
  const config = parseJson(configBuf, `config ${entry.Config}`);
  const layers = entry.Layers;
  const ids = diffIds(config, layers.length, `config ${shortDigest(configDigest)}`);
  const platform = configPlatform(config);
  if (opts.platform !== undefined && !platformMatches(platform, parsePlatform(opts.platform))) {
    throw new ErofsError('ENOENT', `no image for ${opts.platform} (available: ${platformText(platform)})`);
  }
  const ref = Array.isArray(entry.RepoTags) && typeof entry.RepoTags[0] === 'string' ? entry.RepoTags[0] : undefined;
  return {
    store,
    format: store.format,
    name: ref ? `${store.path} (${ref})` : store.path,
    key: `docker-config:${configDigest.text}`,
    platform: platform ? platformText(platform) : undefined,
    layers: layers.map((member, i) => {
      const blobDigest = member.startsWith('blobs/') ? digestOfMember(member) : undefined;
      return {
        number: i + 1,
        member,
        blobDigest,
        size: undefined,
        diffId: ids[i],
        mediaType: undefined,
        label: shortDigest(blobDigest ?? ids[i]),
      };
    }),
  };
}

/** Open the container image at `path` and pick the image to flatten. Errors name the input. */
export async function resolveContainerImage(path: string, opts: ResolveOptions = {}): Promise<ContainerImage> {
  try {
    if (opts.platform !== undefined) parsePlatform(opts.platform);
    const store = await openStore(path);
    return store.format === 'docker-archive' ? await resolveDocker(store, opts) : await resolveOci(store, opts);
  } catch (e) {
    if (isErofsError(e)) throw new ErofsError(e.code, `image ${path}: ${e.message}`);
    throw e;
  }
}
