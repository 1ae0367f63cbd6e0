// Container images as mkfs sources. The flattened image is checked against what something other than
// our code says the container's filesystem is: umoci's own unpack of the same image (real images
// built with umoci from real trees), or the tree each hand-made test declares; seen through
// erofs-utils (fsck.erofs --extract, dump.erofs) as well as our reader.
import anyTest, { type TestFn } from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { mkfs, ErofsError } from '@ishare/core';
import { makeEdgeTree, removeDir, snapshotTree, tempDir, type TreeEntry } from '../../../test/helpers/trees.ts';
import { asObject, FSCK, fsck, readerSnapshot } from './mkfs-helpers.ts';
import { upstreamTool } from '../../../test/helpers/erofs-utils.ts';
import {
  dockerSaveLegacy,
  dockerSaveOci,
  gnuTarOf,
  layerTar,
  ociLayout,
  packDir,
  putBlob,
  putImage,
  sha256,
  toolAvailable,
  writeIndex,
} from './helpers/oci.ts';

interface Ctx {
  dir: string;
}
const test = anyTest as TestFn<Ctx>;

test.before((t) => {
  t.context = { dir: tempDir('ishare-oci-') };
});
test.after.always((t) => removeDir(t.context.dir));

const FIXED = { timestamp: 1_700_000_000, uuid: '0c1a0000-0000-4000-8000-000000000001' };

let seq = 0;
function fresh(t: { context: Ctx }, name: string): string {
  const d = join(t.context.dir, `${name}-${++seq}`);
  mkdirSync(d);
  return d;
}

/** Every name under `dir` (what a run may have left behind). */
function listing(dir: string): string[] {
  const out: string[] = [];
  const walk = (abs: string, rel: string): void => {
    for (const n of readdirSync(abs).sort()) {
      const r = rel ? `${rel}/${n}` : n;
      out.push(r);
      if (lstatSync(join(abs, n)).isDirectory()) walk(join(abs, n), r);
    }
  };
  walk(dir, '');
  return out;
}

/** Paths of the image that name the same inode as `path` (by nid, as dump.erofs prints it). */
function nidOf(img: string, path: string): string {
  const out = execFileSync(upstreamTool('dump.erofs'), [`--path=${path}`, img], { encoding: 'utf8' });
  const m = /NID:\s*(\d+)/.exec(out);
  if (!m) throw new Error(`no NID in dump.erofs output: ${out}`);
  return m[1];
}

/** The image through erofs-utils (fsck.erofs --extract) and through our reader, each against `want`. */
function checkTree(t: import('ava').ExecutionContext<Ctx>, img: string, want: Map<string, TreeEntry>): void {
  t.deepEqual(asObject(readerSnapshot(img)), asObject(want));
  if (!FSCK) {
    t.log('fsck.erofs not installed: the erofs-utils extraction check is skipped');
    return;
  }
  const ex = join(t.context.dir, `extract-${++seq}`);
  const r = fsck(img, ex);
  t.true(r.ok, r.output);
  // fsck.erofs 1.5 chowns after chmod when extracting, which clears setuid/setgid (the reader above
  // checks the full modes).
  const noSuid = (m: Map<string, TreeEntry>): Map<string, TreeEntry> =>
    new Map([...m].map(([k, v]) => [k, { ...v, mode: v.mode & ~0o6000 }]));
  t.deepEqual(asObject(noSuid(snapshotTree(ex))), asObject(noSuid(want)));
}

/**
 * Upstream erofs-utils 1.9.3 extracts an image of the same source (hard links kept), compared with
 * `want`, and verifies every fingerprint against the data it extracts.
 */
async function upstreamCheck(
  t: import('ava').ExecutionContext<Ctx>,
  source: string,
  want: Map<string, TreeEntry>,
  linked: [string, string][],
): Promise<void> {
  const img = join(t.context.dir, `upstream-${++seq}.img`);
  await mkfs({ out: img, source, ...FIXED });
  const ex = join(t.context.dir, `upstream-extract-${++seq}`);
  const r = spawnSync(upstreamTool('fsck.erofs'), ['--xattr-inode-digest', `--extract=${ex}`, '--preserve', img], {
    encoding: 'utf8',
  });
  t.is(r.status, 0, `${r.stdout}${r.stderr}`);
  t.deepEqual(asObject(snapshotTree(ex)), asObject(want));
  for (const [a, b] of linked)
    t.is(lstatSync(join(ex, a)).ino, lstatSync(join(ex, b)).ino, `${a} and ${b} are one inode`);
}

// ---------------------------------------------------------------------------------------------
// Real images: umoci builds them from a real tree, and unpacks them for the expected tree.

function umoci(args: string[], cwd: string): void {
  const r = spawnSync('umoci', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`umoci ${args.join(' ')}: ${r.stderr}`);
}

/**
 * A three-layer image: the edge-case tree (umoci repack); changes made in the unpacked tree — a file
 * changed, a file and a directory deleted, a file added — for which umoci repack writes its own
 * whiteouts; then a layer GNU tar packs from a staging tree holding an opaque marker for `sizes/` and
 * a whiteout for `dup-b`, added verbatim (umoci raw add-layer). (Debian's umoci 0.4.7 `insert` writes
 * truncated layers — see the test below — so it is not used to make them.)
 */
function buildUmociImage(work: string): { layout: string; rootfs: string } {
  const layout = join(work, 'layout');
  umoci(['init', '--layout', layout], work);
  umoci(['new', '--image', `${layout}:app`], work);
  umoci(['unpack', '--image', `${layout}:app`, 'b1'], work);
  makeEdgeTree(join(work, 'b1', 'rootfs'), { bigDir: false, xattrs: false });
  umoci(['repack', '--image', `${layout}:app`, 'b1'], work);
  umoci(['unpack', '--image', `${layout}:app`, 'b2'], work);
  const r2 = join(work, 'b2', 'rootfs');
  writeFileSync(join(r2, 'exec.sh'), '#!/bin/sh\necho changed in layer 2\n');
  rmSync(join(r2, 'one-byte'));
  rmSync(join(r2, 'deep', 'level0', 'level1'), { recursive: true });
  writeFileSync(join(r2, 'added-in-2'), 'new\n');
  umoci(['repack', '--image', `${layout}:app`, 'b2'], work);
  const stage = join(work, 'stage');
  mkdirSync(join(stage, 'sizes'), { recursive: true });
  writeFileSync(join(stage, 'sizes', '.wh..wh..opq'), '');
  writeFileSync(join(stage, 'sizes', 'only-this'), 'the opaque directory holds only this\n');
  writeFileSync(join(stage, '.wh.dup-b'), '');
  writeFileSync(join(work, 'layer3.tar'), gnuTarOf(stage));
  umoci(['raw', 'add-layer', '--image', `${layout}:app`, join(work, 'layer3.tar')], work);
  umoci(['unpack', '--image', `${layout}:app`, 'expected'], work);
  return { layout, rootfs: join(work, 'expected', 'rootfs') };
}

/** Names in the image's layer tars (to be sure the layers really carry whiteouts). */
function layerNames(layout: string): string[] {
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  const blob = (d: string): Buffer => readFileSync(join(layout, 'blobs', 'sha256', d.slice(7)));
  const manifest = JSON.parse(blob(index.manifests[0].digest).toString()) as { layers: { digest: string }[] };
  return manifest.layers.flatMap((l) =>
    execFileSync('tar', ['-tzf', '-'], { input: blob(l.digest), encoding: 'utf8' })
      .split('\n')
      .filter(Boolean),
  );
}

test.serial(
  "umoci image, three layers with whiteouts and an opaque directory: the flattened tree is umoci's unpack",
  async (t) => {
    if (!toolAvailable('umoci')) {
      t.log('umoci not installed (apt-get install umoci): skipping the real-image checks');
      t.pass();
      return;
    }
    const work = fresh(t, 'umoci');
    const { layout, rootfs } = buildUmociImage(work);
    const names = layerNames(layout);
    t.true(
      names.some((n) => n.endsWith('sizes/.wh..wh..opq')),
      'an opaque marker is in a layer',
    );
    t.true(
      names.some((n) => n.endsWith('.wh.dup-b')),
      'a whiteout is in a layer',
    );
    t.true(
      names.some((n) => n.endsWith('.wh.one-byte')),
      'umoci repack wrote a whiteout for the deleted file',
    );

    const before = listing(work);
    const img = join(t.context.dir, `umoci-${++seq}.img`);
    const rep = await mkfs({ out: img, source: layout, ...FIXED });
    t.deepEqual(listing(work), before, 'nothing written into the layout');
    t.is(rep.container?.format, 'oci-layout');
    t.is(rep.container?.layers, 3);
    t.is(rep.container?.platform, 'linux/amd64');
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    t.is(rep.container?.key, index.manifests[0].digest);

    const want = snapshotTree(rootfs);
    // What the test itself knows of the layers, so the comparison is not vacuous.
    t.false(want.has('dup-b'));
    t.false(want.has('one-byte'));
    t.false(want.has('deep/level0/level1'));
    t.deepEqual(
      [...want.keys()].filter((k) => k.startsWith('sizes/')),
      ['sizes/only-this'],
    );
    t.true(want.has('dup-a') && want.has('added-in-2'));
    checkTree(t, img, want);
    // Hard links of the base layer stay one inode.
    t.is(nidOf(img, '/links/hard-a'), nidOf(img, '/links/hard-b'));
    await upstreamCheck(t, layout, want, [['links/hard-a', 'links/hard-b']]);
    t.is(statSync(join(rootfs, 'links', 'hard-a')).ino, statSync(join(rootfs, 'links', 'hard-b')).ino);
  },
);

test.serial(
  "skopeo's OCI archive and docker archive (podman save's formats) of the umoci image flatten to the same image",
  async (t) => {
    if (!toolAvailable('umoci') || !toolAvailable('skopeo')) {
      t.log('umoci or skopeo not installed: skipping');
      t.pass();
      return;
    }
    const work = fresh(t, 'skopeo');
    const { layout, rootfs } = buildUmociImage(work);
    const ociArchive = join(work, 'app.oci'); // no .tar suffix: recognised by content
    const dockerArchive = join(work, 'app-docker.tar');
    execFileSync('skopeo', ['copy', '--quiet', `oci:${layout}:app`, `oci-archive:${ociArchive}:app`]);
    execFileSync('skopeo', ['copy', '--quiet', `oci:${layout}:app`, `docker-archive:${dockerArchive}:test/app:1`]);
    const imgs = [layout, ociArchive, dockerArchive].map((src, i) => ({
      src,
      img: join(t.context.dir, `skopeo-${++seq}-${i}.img`),
    }));
    const reps = [];
    for (const { src, img } of imgs) reps.push(await mkfs({ out: img, source: src, ...FIXED }));
    t.deepEqual(
      reps.map((r) => r.container?.format),
      ['oci-layout', 'oci-archive', 'docker-archive'],
    );
    // The docker archive holds uncompressed layers checked against the config's diff_ids.
    t.regex(reps[2].container!.key, /^docker-config:sha256:[0-9a-f]{64}$/);
    const want = snapshotTree(rootfs);
    checkTree(t, imgs[2].img, want);
    const first = readFileSync(imgs[0].img);
    t.true(first.equals(readFileSync(imgs[1].img)), "OCI archive gives the layout's image");
    t.true(first.equals(readFileSync(imgs[2].img)), "docker archive gives the layout's image");
  },
);

test.serial(
  'a truncated layer from a real tool (Debian umoci 0.4.7 insert) is refused, naming the layer; GNU tar agrees',
  async (t) => {
    if (!toolAvailable('umoci')) {
      t.log('umoci not installed: skipping');
      t.pass();
      return;
    }
    const work = fresh(t, 'insert');
    const layout = join(work, 'layout');
    umoci(['init', '--layout', layout], work);
    umoci(['new', '--image', `${layout}:app`], work);
    mkdirSync(join(work, 'nd'));
    writeFileSync(join(work, 'nd', 'f'), 'hello\n');
    umoci(['insert', '--image', `${layout}:app`, join(work, 'nd'), '/plain'], work);
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    const blob = (d: string): Buffer => readFileSync(join(layout, 'blobs', 'sha256', d.slice(7)));
    const layer = (JSON.parse(blob(index.manifests[0].digest).toString()) as { layers: { digest: string }[] }).layers[0]
      .digest;
    const gnu = spawnSync('tar', ['-tzf', '-'], { input: blob(layer), encoding: 'utf8' });
    if (gnu.status === 0) {
      t.log('this umoci writes whole layers: the image must then flatten');
      await mkfs({ out: join(work, 'x.img'), source: layout, ...FIXED });
      t.pass();
      return;
    }
    t.regex(gnu.stderr, /Unexpected EOF/);
    const e = await t.throwsAsync(mkfs({ out: join(work, 'x.img'), source: layout, ...FIXED }), {
      instanceOf: ErofsError,
    });
    t.is(e?.message.split(': ').slice(0, 2).join(': '), `image ${layout} (app): layer 1/1 (${layer.slice(0, 19)})`);
    t.regex(e?.message ?? '', /tar ends/);
    t.false(existsSync(join(work, 'x.img')));
  },
);

// ---------------------------------------------------------------------------------------------
// Hand-made docker save archives: whiteouts, an opaque directory, a hard link across layers.

async function dockerLayers(): Promise<Buffer[]> {
  const l1 = await layerTar([
    { name: 'bin/', type: 'directory' },
    { name: 'bin/tool', data: 'tool v1\n'.repeat(1000), mode: 0o755 },
    { name: 'etc/', type: 'directory' },
    { name: 'etc/conf', data: 'conf=1\n' },
    { name: 'etc/old', data: 'to be deleted\n' },
    { name: 'var/', type: 'directory' },
    { name: 'var/cache/', type: 'directory' },
    { name: 'var/cache/a', data: 'a' },
    { name: 'var/cache/sub/', type: 'directory' },
    { name: 'var/cache/sub/b', data: 'b' },
    { name: 'lib', type: 'symlink', linkname: 'usr/lib' },
  ]);
  const l2 = await layerTar([
    { name: 'bin/', type: 'directory' },
    { name: 'bin/tool-link', type: 'link', linkname: 'bin/tool' }, // target only in layer 1
    { name: 'etc/', type: 'directory' },
    { name: 'etc/conf', data: 'conf=2, longer\n' },
    { name: 'var/cache/c', data: 'c' },
    { name: 'var/cache/.wh..wh..opq', data: '' }, // after a sibling: still hides only the lower layer's entries
    { name: 'etc/.wh.old', data: '' },
    { name: '.wh.lib', data: '' },
    { name: '.wh..wh.plnk', type: 'directory' }, // aufs bookkeeping: ignored
  ]);
  return [l1, l2];
}

/** The tree the two layers above make, written down from their definition. */
function dockerExpected(): Map<string, TreeEntry> {
  const file = (data: string, mode = 0o644): TreeEntry => ({
    type: 'file',
    mode,
    size: Buffer.byteLength(data),
    sha256: sha256(data),
  });
  const dir: TreeEntry = { type: 'dir', mode: 0o755, size: 0 };
  return new Map<string, TreeEntry>([
    ['bin', dir],
    ['bin/tool', file('tool v1\n'.repeat(1000), 0o755)],
    ['bin/tool-link', file('tool v1\n'.repeat(1000), 0o755)],
    ['etc', dir],
    ['etc/conf', file('conf=2, longer\n')],
    ['var', dir],
    ['var/cache', dir],
    ['var/cache/c', file('c')],
  ]);
}

test.serial(
  'hand-made docker save, legacy and OCI layouts: whiteouts, opaque directory, hard link across layers',
  async (t) => {
    const work = fresh(t, 'docker');
    const layers = await dockerLayers();
    dockerSaveLegacy(join(work, 'legacy'), layers);
    dockerSaveOci(join(work, 'oci'), layers);
    packDir(join(work, 'legacy'), join(work, 'legacy.tar'));
    packDir(join(work, 'oci'), join(work, 'oci.tar'));
    const want = dockerExpected();
    const out: Buffer[] = [];
    for (const [name, format] of [
      ['legacy', 'docker-archive'],
      ['oci', 'oci-archive'],
    ] as const) {
      const img = join(t.context.dir, `docker-${name}-${++seq}.img`);
      const rep = await mkfs({ out: img, source: join(work, `${name}.tar`), ...FIXED });
      t.is(rep.container?.format, format);
      t.is(
        rep.container?.name,
        `${join(work, `${name}.tar`)} (${name === 'legacy' ? 'test/app:1' : 'docker.io/test/app:1'})`,
      );
      t.is(rep.hardlinks, 1);
      checkTree(t, img, want);
      t.is(nidOf(img, '/bin/tool'), nidOf(img, '/bin/tool-link'), 'the hard link across layers is one inode');
      await upstreamCheck(t, join(work, `${name}.tar`), want, [['bin/tool', 'bin/tool-link']]);
      out.push(readFileSync(img));
    }
    t.true(out[0].equals(out[1]), 'both docker save layouts give the same image');
    // layer.tar as a symlink member to the tar stored once.
    dockerSaveLegacy(join(work, 'linked'), layers, 'test/app:1', { symlinkLayers: true });
    packDir(join(work, 'linked'), join(work, 'linked.tar'));
    t.regex(
      execFileSync('tar', ['-tvf', join(work, 'linked.tar')], { encoding: 'utf8' }),
      /layer\.tar -> \.\.\/[0-9a-f]{64}\.tar/,
    );
    const linked = join(t.context.dir, `docker-linked-${++seq}.img`);
    await mkfs({ out: linked, source: join(work, 'linked.tar'), ...FIXED });
    t.true(readFileSync(linked).equals(out[0]), 'layer.tar symlinks are followed inside the archive');
  },
);

test.serial('the hand-made docker archive, through skopeo and umoci, unpacks to the tree we flatten', async (t) => {
  if (!toolAvailable('umoci') || !toolAvailable('skopeo')) {
    t.log('umoci or skopeo not installed: skipping');
    t.pass();
    return;
  }
  const work = fresh(t, 'docker-umoci');
  dockerSaveLegacy(join(work, 'legacy'), await dockerLayers());
  packDir(join(work, 'legacy'), join(work, 'legacy.tar'));
  execFileSync('skopeo', [
    'copy',
    '--quiet',
    `docker-archive:${join(work, 'legacy.tar')}`,
    `oci:${join(work, 'layout')}:x`,
  ]);
  umoci(['unpack', '--image', `${join(work, 'layout')}:x`, 'b'], work);
  const rootfs = join(work, 'b', 'rootfs');
  const img = join(t.context.dir, `docker-umoci-${++seq}.img`);
  await mkfs({ out: img, source: join(work, 'legacy.tar'), ...FIXED });
  // umoci leaves the root directory's implied parents and modes as its own: compare the entries.
  t.deepEqual(asObject(readerSnapshot(img)), asObject(snapshotTree(rootfs)));
  t.is(statSync(join(rootfs, 'bin', 'tool')).ino, statSync(join(rootfs, 'bin', 'tool-link')).ino);
});

// ---------------------------------------------------------------------------------------------
// Compression, platforms.

test.serial('zstd, gzip and uncompressed layers in one image', async (t) => {
  if (!toolAvailable('zstd')) {
    t.log('zstd not installed: skipping');
    t.pass();
    return;
  }
  const work = fresh(t, 'zstd');
  const big = Buffer.alloc(300_000, 'z');
  const layers = [
    await layerTar([
      { name: 'z/', type: 'directory' },
      { name: 'z/big', data: big },
      { name: 'z/gone', data: 'x' },
    ]),
    await layerTar([
      { name: 'z/.wh.gone', data: '' },
      { name: 'g', data: 'gzip layer\n' },
    ]),
    await layerTar([{ name: 'n', data: 'plain layer\n' }]),
  ];
  ociLayout(join(work, 'l'), { layers, compression: ['zstd', 'gzip', 'none'] });
  const img = join(t.context.dir, `zstd-${++seq}.img`);
  await mkfs({ out: img, source: join(work, 'l'), ...FIXED });
  const snap = readerSnapshot(img);
  t.deepEqual([...snap.keys()].sort(), ['g', 'n', 'z', 'z/big']);
  t.is(snap.get('z/big')?.sha256, sha256(big));
  t.is(snap.get('n')?.sha256, sha256('plain layer\n'));
});

/** A layout whose index.json points to a nested index of two platforms and an attestation. */
async function multiArch(dir: string): Promise<void> {
  const amd = putImage(dir, { layers: [await layerTar([{ name: 'arch', data: 'amd64\n' }])] });
  const arm = putImage(dir, {
    layers: [await layerTar([{ name: 'arch', data: 'arm64\n' }])],
    architecture: 'arm64',
    variant: 'v8',
  });
  const att = putBlob(dir, '{}', 'application/vnd.oci.image.manifest.v1+json');
  const nested = putBlob(
    dir,
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        { ...amd, platform: { os: 'linux', architecture: 'amd64' } },
        { ...arm, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
        { ...att, platform: { os: 'unknown', architecture: 'unknown' } },
      ],
    }),
    'application/vnd.oci.image.index.v1+json',
  );
  writeIndex(dir, [{ ...nested, annotations: { 'org.opencontainers.image.ref.name': 'multi' } }]);
}

test.serial(
  '--platform picks from a multi-arch index; without it, or with one not there, the error lists the platforms',
  async (t) => {
    const work = fresh(t, 'multi');
    const layout = join(work, 'l');
    await multiArch(layout);
    const img = join(work, 'out.img');
    for (const p of ['linux/arm64', 'linux/arm64/v8']) {
      const rep = await mkfs({ out: img, source: layout, platform: p, ...FIXED });
      t.is(rep.container?.platform, 'linux/arm64/v8');
      t.is(readerSnapshot(img).get('arch')?.sha256, sha256('arm64\n'));
    }
    await mkfs({ out: img, source: layout, platform: 'linux/amd64', ...FIXED });
    t.is(readerSnapshot(img).get('arch')?.sha256, sha256('amd64\n'));
    rmSync(img);
    const none = await t.throwsAsync(mkfs({ out: img, source: layout, ...FIXED }), { instanceOf: ErofsError });
    t.is(
      none?.message,
      `image ${layout}: holds 2 images (multi linux/amd64, multi linux/arm64/v8): pick one with --platform os/arch[/variant]`,
    );
    const missing = await t.throwsAsync(mkfs({ out: img, source: layout, platform: 'linux/s390x', ...FIXED }), {
      instanceOf: ErofsError,
    });
    t.is(
      missing?.message,
      `image ${layout}: no image for linux/s390x (available: multi linux/amd64, multi linux/arm64/v8)`,
    );
    await t.throwsAsync(mkfs({ out: img, source: layout, platform: 'linux', ...FIXED }), {
      message: /platform "linux" is not os\/arch/,
    });
    t.false(existsSync(img));
  },
);

// ---------------------------------------------------------------------------------------------
// Bad input: one line naming the image and the layer; nothing written but (not even) the output.

interface Bad {
  name: string;
  /** Make the bad input under `work`; returns the source path. */
  make: (work: string) => Promise<string>;
  code: string;
  /** What the message says after "image SRC: layer N/M (sha256:…): ". */
  tail: RegExp;
  layer?: string;
}

const good = (): Promise<Buffer> =>
  layerTar([
    { name: 'ok/', type: 'directory' },
    { name: 'ok/file', data: 'fine\n'.repeat(5000) },
  ]);
const good2 = (): Promise<Buffer> =>
  layerTar([
    { name: 'ok/', type: 'directory' },
    { name: 'ok/second', data: 'also fine\n'.repeat(5000) },
  ]);
const layerDigest = (layout: string, i: number): string => {
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  const m = JSON.parse(readFileSync(join(layout, 'blobs', 'sha256', index.manifests[0].digest.slice(7)), 'utf8')) as {
    layers: { digest: string }[];
  };
  return m.layers[i].digest;
};

const BAD: Bad[] = [
  {
    name: 'missing layer blob',
    code: 'ENOENT',
    tail: /^blob blobs\/sha256\/[0-9a-f]{64} is missing$/,
    make: async (w) => {
      const l = join(w, 'l');
      ociLayout(l, { layers: [await good(), await layerTar([{ name: 'x', data: 'x' }])] });
      rmSync(join(l, 'blobs', 'sha256', layerDigest(l, 1).slice(7)));
      return l;
    },
  },
  {
    name: 'layer digest mismatch',
    code: 'ECORRUPT',
    tail: /^blob does not match its digest/,
    make: async (w) => {
      const l = join(w, 'l');
      ociLayout(l, { layers: [await good(), await good2()], compression: 'none' });
      const p = join(l, 'blobs', 'sha256', layerDigest(l, 1).slice(7));
      const b = readFileSync(p);
      b[600] ^= 1; // inside the file data: the tar itself still parses
      writeFileSync(p, b);
      return l;
    },
  },
  {
    name: 'gzip layer cut short (size in the manifest too)',
    code: 'ETRUNCATED',
    tail: /truncated layer/,
    make: async (w) => {
      const l = join(w, 'l');
      const cut = (await import('node:zlib')).gzipSync(await good()).subarray(0, 100);
      const layer = putBlob(l, cut, 'application/vnd.oci.image.layer.v1.tar+gzip');
      const cfg = putBlob(
        l,
        JSON.stringify({
          os: 'linux',
          architecture: 'amd64',
          rootfs: { type: 'layers', diff_ids: [`sha256:${sha256(await good())}`, `sha256:${sha256(await good())}`] },
        }),
        'application/vnd.oci.image.config.v1+json',
      );
      const ok = putBlob(
        l,
        (await import('node:zlib')).gzipSync(await good()),
        'application/vnd.oci.image.layer.v1.tar+gzip',
      );
      const m = putBlob(
        l,
        JSON.stringify({ schemaVersion: 2, config: cfg, layers: [ok, layer] }),
        'application/vnd.oci.image.manifest.v1+json',
      );
      writeIndex(l, [m]);
      return l;
    },
  },
  {
    name: 'layer blob shorter than its descriptor',
    code: 'ETRUNCATED',
    tail: /^blob is \d+ bytes, the manifest says \d+$/,
    make: async (w) => {
      const l = join(w, 'l');
      ociLayout(l, { layers: [await good(), await good2()] });
      const p = join(l, 'blobs', 'sha256', layerDigest(l, 1).slice(7));
      truncateSync(p, statSync(p).size - 10);
      return l;
    },
  },
  {
    name: 'legacy docker layer.tar cut inside file data',
    code: 'ETRUNCATED',
    tail: /tar ends inside file data/,
    make: async (w) => {
      const g = await good();
      dockerSaveLegacy(join(w, 'd'), [await layerTar([{ name: 'a', data: 'a' }]), g]);
      const lt = readdirSync(join(w, 'd'))
        .filter((n) => /^[0-9a-f]{64}$/.test(n))
        .map((n) => join(w, 'd', n, 'layer.tar'))
        .find((p) => statSync(p).size === g.length)!;
      truncateSync(lt, 2000);
      packDir(join(w, 'd'), join(w, 'd.tar'));
      return join(w, 'd.tar');
    },
  },
  {
    name: '../ in a layer',
    code: 'EINVAL',
    tail: /^entry \.\.\/escape: path \.\.\/escape has a '\.\.' component$/,
    make: async (w) => {
      const l = join(w, 'l');
      ociLayout(l, { layers: [await good(), await layerTar([{ name: '../escape', data: 'x' }])] });
      return l;
    },
  },
  {
    name: 'absolute path in a layer',
    code: 'EINVAL',
    tail: /^entry \/etc\/passwd: absolute path \/etc\/passwd refused$/,
    make: async (w) => {
      const l = join(w, 'l');
      ociLayout(l, { layers: [await good(), await layerTar([{ name: '/etc/passwd', data: 'x' }])] });
      return l;
    },
  },
  {
    name: 'whiteout aimed outside the tree',
    code: 'EINVAL',
    tail: /^entry ok\/\.wh\.\.: whiteout aims outside its directory$/,
    make: async (w) => {
      const l = join(w, 'l');
      ociLayout(l, { layers: [await good(), await layerTar([{ name: 'ok/.wh..', data: '' }])] });
      return l;
    },
  },
  {
    name: "uncompressed tar not matching the config's diff_id",
    code: 'ECORRUPT',
    tail: /^uncompressed tar does not match the config's diff_id/,
    make: async (w) => {
      const l = join(w, 'l');
      const a = await good();
      const b = await layerTar([{ name: 'x', data: 'x' }]);
      const cfg = putBlob(
        l,
        JSON.stringify({
          os: 'linux',
          architecture: 'amd64',
          rootfs: { type: 'layers', diff_ids: [`sha256:${sha256(a)}`, `sha256:${sha256(a)}`] },
        }),
        'application/vnd.oci.image.config.v1+json',
      );
      const d = [a, b].map((x) => putBlob(l, x, 'application/vnd.oci.image.layer.v1.tar'));
      writeIndex(l, [
        putBlob(
          l,
          JSON.stringify({ schemaVersion: 2, config: cfg, layers: d }),
          'application/vnd.oci.image.manifest.v1+json',
        ),
      ]);
      return l;
    },
  },
  {
    name: 'zstd layer cut short',
    code: 'ETRUNCATED',
    tail: /zstd data ends early|tar ends/,
    make: async (w) => {
      const l = join(w, 'l');
      if (!toolAvailable('zstd')) return '';
      ociLayout(l, { layers: [await good(), await good2()], compression: 'zstd' });
      const p = join(l, 'blobs', 'sha256', layerDigest(l, 1).slice(7));
      const cut = readFileSync(p).subarray(0, 40);
      // The descriptor keeps announcing the full size: re-point the manifest at the cut blob.
      const cfgAndLayers = JSON.parse(
        readFileSync(
          join(
            l,
            'blobs',
            'sha256',
            (
              JSON.parse(readFileSync(join(l, 'index.json'), 'utf8')) as { manifests: { digest: string }[] }
            ).manifests[0].digest.slice(7),
          ),
          'utf8',
        ),
      ) as { config: unknown; layers: { digest: string; size: number; mediaType: string }[] };
      const d = putBlob(l, cut, 'application/vnd.oci.image.layer.v1.tar+zstd');
      cfgAndLayers.layers[1] = d;
      writeIndex(l, [
        putBlob(l, JSON.stringify({ schemaVersion: 2, ...cfgAndLayers }), 'application/vnd.oci.image.manifest.v1+json'),
      ]);
      rmSync(p);
      return l;
    },
  },
];

for (const bad of BAD) {
  test.serial(`bad input: ${bad.name} — one line naming the image and the layer, nothing written`, async (t) => {
    const work = fresh(t, 'bad');
    const src = await bad.make(work);
    if (src === '') {
      t.log('the tool this case needs is not installed: skipped');
      t.pass();
      return;
    }
    const outDir = fresh(t, 'bad-out');
    const before = listing(work);
    const e = await t.throwsAsync(mkfs({ out: join(outDir, 'x.img'), source: src, ...FIXED }), {
      instanceOf: ErofsError,
    });
    if (!e) return;
    t.is(e.code, bad.code as ErofsError['code']);
    t.false(e.message.includes('\n'));
    const esc = src.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    t.regex(e.message, new RegExp(`^image ${esc}( \\([^)]*\\))?: layer 2/2 \\(sha256:[0-9a-f]{12}\\): `));
    t.regex(e.message.replace(/^.*?: layer 2\/2 \(sha256:[0-9a-f]{12}\): /, ''), bad.tail);
    t.deepEqual(listing(outDir), [], 'no output, no temp file');
    t.deepEqual(listing(work), before, 'the input is untouched');
  });
}

test.serial('bad input: a manifest that does not match its digest names the manifest', async (t) => {
  const work = fresh(t, 'bad-manifest');
  const l = join(work, 'l');
  const d = ociLayout(l, { layers: [await good()] });
  const p = join(l, 'blobs', 'sha256', d.digest.slice(7));
  writeFileSync(p, readFileSync(p, 'utf8').replace('"schemaVersion":2', '"schemaVersion":3'));
  const e = await t.throwsAsync(mkfs({ out: join(work, 'x.img'), source: l, ...FIXED }), { instanceOf: ErofsError });
  t.regex(e?.message ?? '', new RegExp(`^image ${l}: manifest sha256:[0-9a-f]{12} does not match its digest`));
  t.false(existsSync(join(work, 'x.img')));
});

test.serial('a plain root-filesystem tar and directory are not taken for container images', async (t) => {
  const work = fresh(t, 'plain');
  const tree = join(work, 'tree');
  mkdirSync(tree);
  // A tree that happens to hold a manifest.json and a blobs directory is still a tree.
  writeFileSync(join(tree, 'manifest.json'), '[]');
  mkdirSync(join(tree, 'blobs'));
  writeFileSync(join(tree, 'blobs', 'x'), 'x');
  writeFileSync(join(work, 'tree.tar'), gnuTarOf(tree));
  for (const src of [tree, join(work, 'tree.tar')]) {
    const rep = await mkfs({ out: join(work, 'x.img'), source: src, ...FIXED });
    t.is(rep.container, undefined);
    t.is(rep.files, 2);
  }
  await t.throwsAsync(mkfs({ out: join(work, 'x.img'), source: tree, platform: 'linux/amd64', ...FIXED }), {
    message: /is not a container image/,
  });
});

test.serial('a gzip-compressed docker save is refused with what to do', async (t) => {
  const work = fresh(t, 'gz');
  dockerSaveLegacy(join(work, 'd'), [await good()]);
  packDir(join(work, 'd'), join(work, 'd.tar'));
  writeFileSync(join(work, 'd.tar.gz'), (await import('node:zlib')).gzipSync(readFileSync(join(work, 'd.tar'))));
  const e = await t.throwsAsync(mkfs({ out: join(work, 'x.img'), source: join(work, 'd.tar.gz'), ...FIXED }), {
    instanceOf: ErofsError,
  });
  t.is(
    e?.message,
    `${join(work, 'd.tar.gz')} looks like a gzip-compressed container image archive: gunzip it first (layers are read from it by offset)`,
  );
  t.false(existsSync(join(work, 'x.img')));
});

test.serial('a docker save archive cut before its manifest.json is refused, not taken for a tree', async (t) => {
  const work = fresh(t, 'cut');
  dockerSaveLegacy(join(work, 'd'), [await good(), await good2()]);
  packDir(join(work, 'd'), join(work, 'd.tar'));
  // GNU tar --sort=name puts manifest.json and repositories after the layer directories: cut there.
  const listing = execFileSync('tar', ['--block-number', '-tvf', join(work, 'd.tar')], { encoding: 'utf8' });
  const at = /block (\d+): .* \.\/manifest\.json/.exec(listing);
  if (!at) throw new Error(`manifest.json not found in ${listing}`);
  truncateSync(join(work, 'd.tar'), Number(at[1]) * 512);
  const e = await t.throwsAsync(mkfs({ out: join(work, 'x.img'), source: join(work, 'd.tar'), ...FIXED }), {
    instanceOf: ErofsError,
  });
  t.is(
    e?.message,
    `${join(work, 'd.tar')} holds container image layers but no manifest.json or index.json (cut short?)`,
  );
  t.false(existsSync(join(work, 'x.img')));
});
