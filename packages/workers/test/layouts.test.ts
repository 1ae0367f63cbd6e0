// The layouts of containerd's EROFS snapshotter against the page cache the layer trees alone imply.
// Two container images share their two base layers; each has a top layer of its own that deletes a
// base file (whiteout), replaces a base directory (opaque), overrides a file, and adds files — some with
// contents another layer also holds. Three containers (A, B, and A again) are read in full, per layout
// (flat, layers, fsmeta):
//   no sharing       — every inode a container sees is read once per mount: sum over containers of the
//                      pages of the distinct inodes of its merged tree;
//   superblock_share — layers: each distinct (layer blob, inode) once: the base layers' inodes once for
//                      all three containers; fsmeta: as no sharing (a mount with devices is never shared);
//   inode_share      — each distinct content once.
// Hosts of fsmeta and of layered containers are charged from the same trees.
// Every figure below is computed here from the layers as written (an overlay applied by this test's own
// few lines), never from the code under test. mkfs --layers's blobs are also checked against upstream
// mkfs.erofs --tar=f --aufs (the containerd differ's conversion), entry by entry.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { mkfs, mkfsLayers, ErofsImage } from '@ishare/core/format';
import { runCompare } from '../src/experiment.ts';
import { runHost } from '../src/host.ts';
import { layerTar, ociLayout, type LayerEntry } from '../../core/test/helpers/oci.ts';
import { upstreamTool } from '../../../test/helpers/erofs-utils.ts';

const PAGE = 4096;
const bytes = (n: number, seed: string): string => seed.repeat(Math.ceil(n / seed.length)).slice(0, n);

/** The layers, bottom first, as the entries each tar holds. */
const base1: LayerEntry[] = [
  { name: 'usr/', type: 'directory' },
  { name: 'usr/lib/', type: 'directory' },
  { name: 'usr/lib/libc.so', data: bytes(20000, 'libc') },
  { name: 'usr/lib/libm.so', data: bytes(9000, 'libm') },
  { name: 'etc/', type: 'directory' },
  { name: 'etc/passwd', data: bytes(700, 'root:x:0:0') },
  { name: 'etc/hosts', data: bytes(300, '127.0.0.1 ') },
  { name: 'lib', type: 'symlink', linkname: 'usr/lib' },
];
const base2: LayerEntry[] = [
  { name: 'opt/', type: 'directory' },
  { name: 'opt/tool/', type: 'directory' },
  { name: 'opt/tool/bin', data: bytes(13000, 'tool') },
  { name: 'opt/tool/data', data: bytes(5000, 'data') },
  { name: 'usr/lib/libz.so', data: bytes(7000, 'libz') },
  { name: 'usr/lib/libz.so.1', type: 'link', linkname: 'usr/lib/libz.so' },
];
const topA: LayerEntry[] = [
  { name: 'etc/', type: 'directory' },
  { name: 'etc/.wh.hosts', data: '' },
  { name: 'etc/passwd', data: bytes(800, 'root:x:0:0:a') },
  { name: 'opt/', type: 'directory' },
  { name: 'opt/tool/', type: 'directory' },
  { name: 'opt/tool/.wh..wh..opq', data: '' },
  { name: 'opt/tool/bin', data: bytes(4000, 'newtool') },
  { name: 'app/', type: 'directory' },
  { name: 'app/a.js', data: bytes(11000, 'appA') },
  { name: 'app/copy-of-libm', data: bytes(9000, 'libm') },
];
const topB: LayerEntry[] = [
  { name: 'usr/', type: 'directory' },
  { name: 'usr/lib/', type: 'directory' },
  { name: 'usr/lib/.wh.libm.so', data: '' },
  { name: 'app/', type: 'directory' },
  { name: 'app/b.js', data: bytes(6000, 'appB') },
  { name: 'app/a.js', data: bytes(11000, 'appA') },
];

interface Seen {
  /** Which layer (index in the image's list) and which entry of it: an inode of that layer's blob. */
  layer: number;
  inode: string;
  content: string;
  size: number;
}

/** The merged tree of an image, as overlayfs shows it: path → the file a container reads there. */
function mergedFiles(layers: readonly LayerEntry[][]): Map<string, Seen> {
  const files = new Map<string, Seen>();
  const dirs = new Set<string>(['']);
  layers.forEach((entries, layer) => {
    const strip = (n: string): string => n.replace(/\/$/, '');
    for (const e of entries) {
      const name = strip(e.name);
      const dir = name.includes('/') ? name.slice(0, name.lastIndexOf('/')) : '';
      const leaf = name.slice(dir.length ? dir.length + 1 : 0);
      const under = (p: string, d: string): boolean => p.startsWith(`${d}/`);
      if (leaf === '.wh..wh..opq') {
        for (const k of [...files.keys()]) if (under(k, dir) && files.get(k)!.layer < layer) files.delete(k);
      } else if (leaf.startsWith('.wh.')) {
        const gone = dir ? `${dir}/${leaf.slice(4)}` : leaf.slice(4);
        for (const k of [...files.keys()]) if (k === gone || under(k, gone)) files.delete(k);
      }
    }
    for (const e of entries) {
      const name = strip(e.name);
      const leaf = name.slice(name.lastIndexOf('/') + 1);
      if (leaf.startsWith('.wh.')) continue;
      if (e.type === 'directory') dirs.add(name);
      else if (e.type === 'link') files.set(name, { ...files.get(e.linkname!)! });
      else if ((e.type ?? 'file') === 'file') {
        const content = String(e.data ?? '');
        files.set(name, { layer, inode: `${layer}:${name}`, content, size: Buffer.byteLength(content) });
      }
    }
  });
  return files;
}

const pages = (size: number): number => Math.ceil(size / PAGE);

/** Page-cache bytes the trees imply for `containers` (each a list of layers, the blob of a layer named by its key). */
function expected(containers: { image: string; layers: { key: string; entries: LayerEntry[] }[] }[]) {
  let noShare = 0;
  const perContentFlat = new Map<string, number>();
  const perInodeLayers = new Map<string, number>();
  for (const c of containers) {
    const merged = mergedFiles(c.layers.map((l) => l.entries));
    const inodes = new Map<string, number>();
    for (const f of merged.values()) {
      inodes.set(f.inode, pages(f.size));
      if (f.size > 0) perContentFlat.set(createHash('sha256').update(f.content).digest('hex'), pages(f.size));
      perInodeLayers.set(`${c.layers[f.layer].key}/${f.inode.slice(f.inode.indexOf(':') + 1)}`, pages(f.size));
    }
    for (const n of inodes.values()) noShare += n;
  }
  const sum = (m: Map<string, number>): number => [...m.values()].reduce((s, n) => s + n, 0) * PAGE;
  return {
    noShare: noShare * PAGE,
    inodeShare: sum(perContentFlat),
    sbShareLayers: sum(perInodeLayers),
  };
}

test('compare of containers sharing base layers: flat, layers and fsmeta, with each sharing option, as the trees say', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ishare-layouts-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const tars = {
    base1: await layerTar(base1),
    base2: await layerTar(base2),
    topA: await layerTar(topA),
    topB: await layerTar(topB),
  };
  ociLayout(join(dir, 'A'), { layers: [tars.base1, tars.base2, tars.topA] });
  ociLayout(join(dir, 'B'), { layers: [tars.base1, tars.base2, tars.topB], compression: 'none' });

  const layersDir = join(dir, 'layers');
  const la = await mkfsLayers({
    outDir: layersDir,
    source: join(dir, 'A'),
    timestamp: 1,
    uuid: '15a4e000-0000-4000-8000-0000000000ca',
  });
  const lb = await mkfsLayers({
    outDir: layersDir,
    source: join(dir, 'B'),
    timestamp: 1,
    uuid: '15a4e000-0000-4000-8000-0000000000ca',
  });
  t.deepEqual(
    lb.layers.map((l) => l.built),
    [false, false, true],
    'B reuses the base blobs A wrote (same diff_id, same file) though its layers are stored uncompressed',
  );
  t.deepEqual(
    lb.layers.slice(0, 2).map((l) => l.file),
    la.layers.slice(0, 2).map((l) => l.file),
  );
  await mkfs({ out: join(dir, 'A.img'), source: join(dir, 'A'), timestamp: 1 });
  await mkfs({ out: join(dir, 'B.img'), source: join(dir, 'B'), timestamp: 1 });

  const containers = [
    { image: 'A', layers: [base1, base2, topA] },
    { image: 'B', layers: [base1, base2, topB] },
    { image: 'A', layers: [base1, base2, topA] },
  ].map((c) => ({
    image: c.image,
    layers: c.layers.map((entries, i) => ({ key: i < 2 ? `base${i}` : c.image, entries })),
  }));
  const want = expected(containers);
  t.true(want.inodeShare < want.sbShareLayers && want.sbShareLayers < want.noShare, 'the cells differ');

  const flatImages = [join(dir, 'A.img'), join(dir, 'B.img'), join(dir, 'A.img')];
  const layerFiles = [la, lb, la].map((r) => r.layers.map((l) => l.file));
  const run = (layered: boolean, superblockShare: boolean) =>
    runCompare({
      images: layered ? layerFiles.map((l) => l[l.length - 1]) : flatImages,
      ...(layered ? { layers: layerFiles } : {}),
      workers: 1,
      superblockShare,
    });
  // Three runs of two phases each (CI time): flat and layers without superblock_share, layers with it
  // (flat's superblock_share cell is the superblock_share test's).
  for (const [layered, sbShare] of [
    [false, false],
    [true, false],
    [true, true],
  ] as const) {
    const name = `${layered ? 'layers' : 'flat'}${sbShare ? ' + superblock_share' : ''}`;
    const r = await run(layered, sbShare);
    t.is(
      r.noShare.pageCacheBytes,
      sbShare ? want.sbShareLayers : want.noShare,
      sbShare
        ? `${name}: each distinct (layer blob, inode) once`
        : `${name}, no sharing: every inode a container sees, per mount`,
    );
    t.is(r.share.pageCacheBytes, want.inodeShare, `${name} + inode_share: each distinct content once`);
    if (sbShare) t.is(r.noShare.metadata.superblocks, 4, `${name}: one superblock per distinct layer blob`);
  }

  // fsmeta: each container mounts its image's fsmeta with the layer blobs as device=s. Its inodes are
  // the merged tree's (the data stays in the blobs), so without sharing it is every inode a container
  // sees, per mount, as flat. A mount with extra devices never reuses a superblock (mainline's
  // superblock_share shares plain file-backed mounts only), so superblock_share changes nothing here.
  const metas = [la, lb, la].map((r) => r.fsmeta);
  for (const sbShare of [false, true]) {
    const name = `fsmeta${sbShare ? ' + superblock_share' : ''}`;
    const r = await runCompare({
      images: metas,
      devices: { [la.fsmeta]: layerFiles[0], [lb.fsmeta]: layerFiles[1] },
      workers: 1,
      superblockShare: sbShare,
    });
    t.is(r.noShare.pageCacheBytes, want.noShare, `${name}, no sharing: every inode a container sees, per mount`);
    t.is(r.share.pageCacheBytes, want.inodeShare, `${name} + inode_share: each distinct content once`);
    t.is(r.noShare.metadata.superblocks, 3, `${name}: one superblock per mount (device= mounts are not shared)`);
  }

  // A host of the two fsmeta containers (each a cgroup; started, then read, A first): without sharing
  // each pays for the distinct inodes of its merged tree; with inode_share A pays for each content it
  // holds, B only for the contents A does not.
  const contents = (entries: LayerEntry[][]): Map<string, number> =>
    new Map(
      [...mergedFiles(entries).values()]
        .filter((f) => f.size > 0)
        .map((f) => [createHash('sha256').update(f.content).digest('hex'), pages(f.size) * PAGE]),
    );
  const inodeBytes = (entries: LayerEntry[][]): number =>
    [...new Map([...mergedFiles(entries).values()].map((f) => [f.inode, pages(f.size) * PAGE])).values()].reduce(
      (s, n) => s + n,
      0,
    );
  const [ca, cb] = [contents([base1, base2, topA]), contents([base1, base2, topB])];
  const sum = (xs: Iterable<number>): number => [...xs].reduce((s, n) => s + n, 0);
  const h = await runHost({
    containers: [
      { name: 'a', image: la.fsmeta, devices: layerFiles[0] },
      { name: 'b', image: lb.fsmeta, devices: layerFiles[1] },
    ],
    steps: [
      { kind: 'start', container: 0 },
      { kind: 'start', container: 1 },
      { kind: 'read', container: 0 },
      { kind: 'read', container: 1 },
    ],
    workers: 1,
  });
  t.deepEqual(
    h.noShare.containers.map((c) => c.memoryCurrent),
    [inodeBytes([base1, base2, topA]), inodeBytes([base1, base2, topB])],
    'host, fsmeta, no sharing: each container its own inodes',
  );
  t.deepEqual(
    h.share.containers.map((c) => c.memoryCurrent),
    [sum(ca.values()), sum([...cb].filter(([k]) => !ca.has(k)).map(([, n]) => n))],
    'host, fsmeta + inode_share: the first reader of a content pays',
  );

  // A host of layered containers: each mounts its layer blobs once for itself and reads through their
  // overlay. a and a2 mount the very same blob files, yet each mount is its own superblock: without
  // sharing a2 pays for every inode of its merged tree again. Stopping a unmounts all of its layers:
  // without sharing its pages go (nothing stays charged, its cgroup is freed); with inode_share the
  // contents a2 and b still hold stay, charged to a's dying cgroup (keep).
  const hl = await runHost({
    containers: [
      { name: 'a', image: layerFiles[0][2], layers: layerFiles[0] },
      { name: 'b', image: layerFiles[1][2], layers: layerFiles[1] },
      { name: 'a2', image: layerFiles[0][2], layers: layerFiles[0] },
    ],
    steps: [
      { kind: 'start', container: 0 },
      { kind: 'start', container: 1 },
      { kind: 'start', container: 2 },
      { kind: 'read', container: 0 },
      { kind: 'read', container: 1 },
      { kind: 'read', container: 2 },
      { kind: 'stop', container: 0 },
    ],
    workers: 1,
  });
  const [ia, ib] = [inodeBytes([base1, base2, topA]), inodeBytes([base1, base2, topB])];
  const bOnly = sum([...cb].filter(([k]) => !ca.has(k)).map(([, n]) => n));
  t.deepEqual(
    hl.noShare.containers.map((c) => [c.state, c.memoryCurrent]),
    [
      ['stopped', 0],
      ['running', ib],
      ['running', ia],
    ],
    'host, layers, no sharing: each container its own inodes, per mount of the same blobs; a stopped one none',
  );
  t.deepEqual(hl.noShare.dying, [], 'host, layers, no sharing: the stopped container pins nothing');
  t.is(hl.noShare.pageCacheBytes, ia + ib, "host, layers, no sharing: the stopped container's pages are gone");
  t.deepEqual(
    hl.share.containers.map((c) => c.memoryCurrent),
    [sum(ca.values()), bOnly, 0],
    'host, layers + inode_share: the first reader of a content pays, and keeps paying once stopped (keep)',
  );
  t.deepEqual(hl.share.dying, [{ name: 'a', memoryCurrent: sum(ca.values()) }]);
  t.is(hl.share.pageCacheBytes, sum(ca.values()) + bOnly, 'host, layers + inode_share: each distinct content once');
});

/** Every entry of an image: path, type, mode, size, rdev, xattrs (the overlay ones included), data hash. */
function listing(path: string): string[] {
  const img = ErofsImage.open(path);
  try {
    const out: string[] = [];
    for (const { path: p, inode } of img.walk()) {
      if (p === '/') continue; // the tar has no root entry: its mode is each writer's default
      const x = img
        .xattrs(inode)
        .filter((a) => a.name.startsWith('trusted.overlay.'))
        .map((a) => `${a.name}=${Buffer.from(a.value).toString()}`)
        .sort();
      const data = inode.type === 'file' ? createHash('sha256').update(img.readFile(inode)).digest('hex') : '';
      out.push(
        `${p} ${inode.type} ${(inode.mode & 0o7777).toString(8)} ${inode.size} ${inode.rdev} ${x.join(',')} ${data}`,
      );
    }
    return out.sort();
  } finally {
    img.close();
  }
}

test("mkfs --layers converts a layer as upstream's mkfs.erofs --tar=f --aufs does (containerd's differ)", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ishare-layer-aufs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const tar = await layerTar(topA);
  ociLayout(join(dir, 'A'), { layers: [await layerTar(base1), tar] });
  const r = await mkfsLayers({ outDir: join(dir, 'out'), source: join(dir, 'A') });
  writeFileSync(join(dir, 'top.tar'), tar);
  execFileSync(upstreamTool('mkfs.erofs'), [
    '--tar=f',
    '--aufs',
    '--quiet',
    '-Enoinline_data',
    join(dir, 'up.erofs'),
    join(dir, 'top.tar'),
  ]);
  const ours = listing(r.layers[1].file);
  t.deepEqual(ours, listing(join(dir, 'up.erofs')));
  t.true(
    ours.some((l) => l.startsWith('/etc/hosts chardev 0 0 0 ')),
    'the whiteout is a character device 0:0',
  );
  t.true(ours.some((l) => l.startsWith('/opt/tool dir') && l.includes('trusted.overlay.opaque=y')));
  execFileSync(upstreamTool('fsck.erofs'), [r.layers[1].file]);
});

test("the fsmeta image mkfs --layers writes: upstream fsck.erofs, given the layer blobs as devices in order, extracts the flat image's tree", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ishare-fsmeta-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  ociLayout(join(dir, 'A'), { layers: [await layerTar(base1), await layerTar(base2), await layerTar(topA)] });
  const r = await mkfsLayers({ outDir: join(dir, 'out'), source: join(dir, 'A') });
  await mkfs({ out: join(dir, 'A.img'), source: join(dir, 'A') });
  const fsck = upstreamTool('fsck.erofs');
  execFileSync(fsck, [...r.layers.map((l) => `--device=${l.file}`), `--extract=${join(dir, 'meta')}`, r.fsmeta]);
  execFileSync(fsck, [`--extract=${join(dir, 'flat')}`, join(dir, 'A.img')]);
  // diff -r compares names, types, file contents and symlink targets; exit 0 = the same tree.
  t.notThrows(() => execFileSync('diff', ['-r', '--no-dereference', join(dir, 'meta'), join(dir, 'flat')]));
  const meta = ErofsImage.open(r.fsmeta, undefined, { paths: r.layers.map((l) => l.file) });
  t.teardown(() => meta.close());
  t.is(meta.devices.length, 3, 'one extra device per layer');
  t.is(Buffer.from(meta.readFile(meta.resolve('/usr/lib/libc.so'))).toString(), bytes(20000, 'libc'));
  t.throws(() => meta.resolve('/etc/hosts'), { message: /No such file/ }, 'the whiteout was applied');
});
