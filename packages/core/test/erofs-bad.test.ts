// Bad input: every damaged image must fail with a typed ErofsError (right code, offset where known),
// never another exception, never a hang, never wrong data. Targeted patches first, then a seeded
// mini-fuzz over small images.
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  DATALAYOUT,
  DE,
  DIRENT_SIZE,
  EROFS_SUPER_OFFSET,
  FEATURE_COMPAT,
  ErofsImage,
  FEATURE_INCOMPAT,
  IC,
  IE,
  SB,
  type ErofsInode,
} from '@ishare/core/format';
import { ErofsError, type ErofsErrorCode } from '@ishare/core';
import { hasCommand, removeDir, seededBytes, setXattr, tempDir, xattrsSupported } from '../../../test/helpers/trees.ts';
import { buildImage, fingerprintValue, fixChecksum, sha256, type SynthDir, type SynthNode } from './erofs-synth.ts';

interface Ctx {
  dir: string;
  /** Small mkfs.erofs image (or a synthetic one when mkfs.erofs is missing). */
  plain: Uint8Array;
  /** Synthetic 512 B block image with chunk indexes, holes, long prefixes, shared xattrs. */
  synth: Uint8Array;
}
const test = anyTest as TestFn<Ctx>;

function synthTree(): SynthDir {
  const many: Record<string, SynthNode> = {};
  for (let i = 0; i < 60; i++) many[`entry-${i}-${'n'.repeat(i % 20)}`] = { type: 'file', data: new Uint8Array([i]) };
  const sparse = new Uint8Array(512 * 24);
  sparse.set(seededBytes(300, 9), 512 * 5);
  return {
    type: 'dir',
    entries: {
      a: {
        type: 'dir',
        entries: {
          b: { type: 'dir', entries: { 'c.txt': { type: 'file', data: new TextEncoder().encode('deep\n') } } },
        },
      },
      chunks: {
        type: 'file',
        data: sparse,
        layout: 'chunk',
        chunkBits: 1,
        indexes: true,
        holes: true,
        xattrs: [['user.s', 'shared']],
        shared: ['user.s'],
      },
      blockmap: { type: 'file', data: new Uint8Array(seededBytes(512 * 7 + 9, 4)), layout: 'chunk', chunkBits: 0 },
      inline: {
        type: 'file',
        data: new Uint8Array(seededBytes(700, 5)),
        layout: 'inline',
        xattrs: [
          ['trusted.erofs.tag', 'fp'],
          ['erofs.fingerprint.v1', fingerprintValue(sha256(seededBytes(700, 5)))],
          ['user.s', 'shared'],
        ],
        shared: ['user.s'],
      },
      plain: { type: 'file', data: new Uint8Array(seededBytes(1536, 6)), layout: 'plain' },
      link: { type: 'symlink', target: 'a/b/c.txt' },
      many: { type: 'dir', entries: many },
    },
  };
}

test.before((t) => {
  const dir = tempDir('erofs-bad-');
  const synth = buildImage(synthTree(), {
    blockSize: 512,
    longPrefixes: ['trusted.erofs.', 'erofs.fingerprint.v1'],
    ishare: 1,
  });
  let plain = synth;
  if (hasCommand('mkfs.erofs')) {
    const src = join(dir, 'src');
    mkdirSync(join(src, 'a', 'b'), { recursive: true });
    writeFileSync(join(src, 'a', 'b', 'c.txt'), 'deep\n');
    writeFileSync(join(src, 'plain'), seededBytes(8192, 1));
    writeFileSync(join(src, 'inline'), seededBytes(5000, 2));
    writeFileSync(join(src, 'x'), 'x');
    writeFileSync(join(src, 'y'), 'y');
    symlinkSync('a/b/c.txt', join(src, 'link'));
    mkdirSync(join(src, 'many'));
    for (let i = 0; i < 150; i++) writeFileSync(join(src, 'many', `entry-${i}-${'n'.repeat(i % 20)}`), `${i}`);
    if (xattrsSupported(src)) {
      setXattr(join(src, 'x'), 'user.k', 'v');
      setXattr(join(src, 'x'), 'user.same', 'shared');
      setXattr(join(src, 'y'), 'user.same', 'shared');
    }
    const out = join(dir, 'plain.img');
    const r = spawnSync('mkfs.erofs', ['--quiet', '-T0', out, src], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`mkfs.erofs failed: ${r.stderr}`);
    plain = new Uint8Array(readFileSync(out));
  } else {
    t.log('mkfs.erofs missing: the mkfs-image cases run on the synthetic image');
  }
  t.context = { dir, plain, synth };
});

test.after.always((t) => removeDir(t.context.dir));

// ---- helpers ----

function expectError(
  t: ExecutionContext<Ctx>,
  fn: () => unknown,
  code: ErofsErrorCode,
  opts: { offset?: boolean; message?: RegExp } = {},
): ErofsError | undefined {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  if (!(err instanceof ErofsError)) {
    t.fail(
      `expected ErofsError ${code}, got ${err === undefined ? 'no error' : ((err as Error).stack ?? JSON.stringify(err))}`,
    );
    return undefined;
  }
  t.is(err.code, code, err.message);
  if (opts.offset) {
    t.true(err.offset !== undefined && err.offset >= 0, `offset known: ${err.message}`);
    t.regex(err.message, /\(at offset \d+\)$/);
  }
  if (opts.message) t.regex(err.message, opts.message);
  return err;
}

const le = (img: Uint8Array): DataView => new DataView(img.buffer, img.byteOffset, img.byteLength);

/** Read everything reachable; returns nothing, throws whatever the reader throws. */
function exerciseAll(img: ErofsImage, maxBytes = 1 << 20): void {
  for (const { path, inode } of img.walk()) {
    img.xattrs(inode);
    img.fingerprint(inode);
    if (inode.type === 'dir') for (const e of img.readdir(inode)) img.lookup(inode, e.nameBytes);
    if (inode.type === 'symlink') img.readlink(inode);
    if (inode.type === 'file') {
      const buf = new Uint8Array(64 * 1024);
      for (let off = 0; off < Math.min(inode.size, maxBytes); off += buf.length) img.readInto(inode, buf, off);
      if (inode.size > 0) img.mapBlocks(inode, inode.size - 1);
    }
    if (path !== '/') img.resolve(path, { follow: false });
  }
}

function patched(src: Uint8Array, patch: (b: Uint8Array, dv: DataView) => void, checksum = true): Uint8Array {
  const b = src.slice();
  patch(b, le(b));
  if (checksum) fixChecksum(b);
  return b;
}

function direntPos(img: ErofsImage, dir: ErofsInode, name: string): number {
  const ents = img.readdir(dir);
  const i = ents.findIndex((e) => e.name === name);
  if (i < 0) throw new Error(`no ${name}`);
  const per: number[] = [];
  // Find which block holds entry i and its index there (blocks restart dirent arrays).
  const bs = img.blockSize;
  for (let blk = 0; blk * bs < dir.size; blk++) {
    const m = img.mapBlocks(dir, blk * bs);
    const pos = m.physical + (blk * bs - m.logical);
    const head = new Uint8Array(12);
    img.source.read(head, pos);
    const count = (head[DE.nameoff] | (head[DE.nameoff + 1] << 8)) / DIRENT_SIZE;
    for (let k = 0; k < count; k++) per.push(pos + k * DIRENT_SIZE);
  }
  return per[i];
}

// ---- superblock ----

test('truncated images fail with ETRUNCATED at every cut point', (t) => {
  for (const img of [t.context.plain, t.context.synth]) {
    const cuts = [
      0,
      1,
      512,
      1023,
      1024,
      1100,
      1151,
      1152,
      2048,
      4095,
      img.length >> 1,
      img.length - 512,
      img.length - 1,
    ];
    for (const cut of cuts) {
      const e = expectError(t, () => ErofsImage.fromBuffer(img.subarray(0, cut)), 'ETRUNCATED', { offset: true });
      t.truthy(e, `cut at ${cut}`);
    }
  }
});

test('a truncated image whose block count was patched to match fails ETRUNCATED on the missing data', (t) => {
  const img = t.context.plain;
  const bs = 1 << img[EROFS_SUPER_OFFSET + SB.blkszbits];
  const cutBlocks = Math.floor(img.length / bs) - 1;
  const cut = patched(img.subarray(0, cutBlocks * bs), (_b, dv) =>
    dv.setUint32(EROFS_SUPER_OFFSET + SB.blocksLo, cutBlocks, true),
  );
  const e = expectError(t, () => exerciseAll(ErofsImage.fromBuffer(cut)), 'ETRUNCATED', { offset: true });
  t.truthy(e);
});

test('wrong magic is EBADMAGIC', (t) => {
  const b = patched(
    t.context.plain,
    (x) => {
      x[EROFS_SUPER_OFFSET] ^= 0xff;
    },
    false,
  );
  expectError(t, () => ErofsImage.fromBuffer(b), 'EBADMAGIC', { offset: true, message: /not an EROFS image/ });
  expectError(t, () => ErofsImage.fromBuffer(new Uint8Array(8192)), 'EBADMAGIC');
});

test('superblock checksum mismatch is ECHECKSUM (4096 and 512 B blocks)', (t) => {
  for (const img of [t.context.plain, t.context.synth]) {
    t.true(ErofsImage.fromBuffer(img).sb.checksumVerified);
    const b = patched(
      img,
      (x) => {
        x[EROFS_SUPER_OFFSET + SB.volumeName + 3] ^= 1;
      },
      false,
    );
    expectError(t, () => ErofsImage.fromBuffer(b), 'ECHECKSUM', { offset: true, message: /checksum mismatch/ });
  }
  // The 512 B checksum covers exactly one block from offset 1024: a byte just past it is not covered.
  const s = t.context.synth;
  const inside = patched(
    s,
    (x) => {
      x[EROFS_SUPER_OFFSET + 511] ^= 0x40;
    },
    false,
  );
  expectError(t, () => ErofsImage.fromBuffer(inside), 'ECHECKSUM');
});

test('incompat features: unknown and unimplemented ones are refused by name; compression bits are not', (t) => {
  const withIncompat = (bits: number, extra?: (dv: DataView) => void): Uint8Array =>
    patched(t.context.plain, (_b, dv) => {
      dv.setUint32(
        EROFS_SUPER_OFFSET + SB.featureIncompat,
        dv.getUint32(EROFS_SUPER_OFFSET + SB.featureIncompat, true) | bits,
        true,
      );
      extra?.(dv);
    });
  expectError(t, () => ErofsImage.fromBuffer(withIncompat(0x200)), 'EUNSUPPORTED', {
    offset: true,
    message: /unknown\(0x200\)/,
  });
  expectError(t, () => ErofsImage.fromBuffer(withIncompat(0x80000000)), 'EUNSUPPORTED', {
    message: /unknown\(0x80000000\)/,
  });
  // 48bit is read now: with rootnid_8b 0 the 16-bit root nid and 32-bit block count still apply.
  t.is(ErofsImage.fromBuffer(withIncompat(FEATURE_INCOMPAT.BIT48)).root().type, 'dir');
  // METABOX is read now; a superblock without the extension slot holding metabox_nid is corrupt
  // (super.c: sb_size <= offsetof(metabox_nid)), and a metabox_nid with bit 63 set is a self-loop.
  expectError(t, () => ErofsImage.fromBuffer(withIncompat(FEATURE_INCOMPAT.METABOX)), 'ECORRUPT', {
    message: /metabox image with a 128-byte superblock/,
  });
  const slot = (nidHi: number) => (dv: DataView) => {
    dv.setUint8(EROFS_SUPER_OFFSET + SB.sbExtslots, 1);
    dv.setUint32(EROFS_SUPER_OFFSET + SB.metaboxNid + 4, nidHi, true);
  };
  expectError(t, () => ErofsImage.fromBuffer(withIncompat(FEATURE_INCOMPAT.METABOX, slot(0x80000000))), 'ECORRUPT', {
    message: /metabox_nid points into the metabox/,
  });
  // (The extension slot overlays the root inode of this image, so the metabox named is a subdirectory.)
  const subdir = [...ErofsImage.fromBuffer(t.context.plain).walk()].find(
    (e) => e.inode.type === 'dir' && e.path !== '/',
  );
  if (subdir === undefined) throw new Error('the plain image has no subdirectory');
  const dirAsBox = withIncompat(FEATURE_INCOMPAT.METABOX, (dv) => {
    slot(0)(dv);
    dv.setUint32(EROFS_SUPER_OFFSET + SB.metaboxNid, subdir.inode.nid, true);
  });
  expectError(t, () => ErofsImage.fromBuffer(dirAsBox), 'ECORRUPT', {
    message: /metabox inode nid \d+ is not a regular file/,
  });
  expectError(
    t,
    () =>
      ErofsImage.fromBuffer(
        withIncompat(FEATURE_INCOMPAT.DEVICE_TABLE, (dv) =>
          dv.setUint16(EROFS_SUPER_OFFSET + SB.extraDevices, 1, true),
        ),
      ),
    // A device table whose device is neither given, nor named by its tag, nor inside the image.
    'ENODEV',
    { message: /device 1, 0 blocks, is missing: give it with --device/ },
  );
  const ok = withIncompat(
    FEATURE_INCOMPAT.ZERO_PADDING |
      FEATURE_INCOMPAT.COMPR_CFGS |
      FEATURE_INCOMPAT.ZTAILPACKING |
      FEATURE_INCOMPAT.FRAGMENTS |
      FEATURE_INCOMPAT.DEVICE_TABLE |
      FEATURE_INCOMPAT.CHUNKED_FILE |
      FEATURE_INCOMPAT.XATTR_PREFIXES,
  );
  t.notThrows(() => exerciseAll(ErofsImage.fromBuffer(ok)));
});

test('block size bits outside 9..12 are refused', (t) => {
  const bits = (n: number): Uint8Array =>
    patched(
      t.context.plain,
      (b) => {
        b[EROFS_SUPER_OFFSET + SB.blkszbits] = n;
      },
      false,
    );
  for (const n of [13, 14, 16])
    expectError(t, () => ErofsImage.fromBuffer(bits(n)), 'EUNSUPPORTED', {
      message: /larger than the 4096 B page size/,
    });
  for (const n of [0, 8, 17, 255]) expectError(t, () => ErofsImage.fromBuffer(bits(n)), 'ECORRUPT');
});

test('opening a missing file is ENOENT naming the path', (t) => {
  expectError(t, () => ErofsImage.open('/nonexistent/dir/x.img'), 'ENOENT', {
    message: /^cannot open \/nonexistent\/dir\/x\.img: ENOENT/,
  });
  expectError(t, () => ErofsImage.open(t.context.dir), 'ENOENT', { message: /^cannot open .*: not a regular file$/ });
  const file = join(t.context.dir, 'plain-copy.img');
  writeFileSync(file, t.context.plain);
  const img = ErofsImage.open(file);
  t.is(img.path, file);
  t.true(img.source.size === t.context.plain.length);
  img.close();
  expectError(t, () => img.source.read(new Uint8Array(4), 0), 'EIO', { message: /closed/ });
});

// ---- inodes and directories ----

test('root nid out of range is ECORRUPT with the offset', (t) => {
  const b = patched(t.context.plain, (_x, dv) => dv.setUint16(EROFS_SUPER_OFFSET + SB.rootnid2b, 0xffff, true));
  t.true(0xffff * 32 > b.length, 'the small image has no slot 65535');
  expectError(t, () => ErofsImage.fromBuffer(b), 'ECORRUPT', { offset: true, message: /nid 65535 out of range/ });
});

test('a dirent pointing past the image is ECORRUPT with the dirent offset', (t) => {
  for (const src of [t.context.plain, t.context.synth]) {
    const img = ErofsImage.fromBuffer(src);
    const pos = direntPos(img, img.resolve('/a'), 'b');
    const b = patched(src, (_x, dv) => dv.setBigUint64(pos + DE.nid, 1n << 40n, true));
    const e = expectError(t, () => exerciseAll(ErofsImage.fromBuffer(b)), 'ECORRUPT', { offset: true });
    t.is(e?.offset, pos);
  }
});

test('a directory cycle (dirent patched to an ancestor) is ELOOP during walk, resolve stays finite', (t) => {
  for (const src of [t.context.plain, t.context.synth]) {
    const img = ErofsImage.fromBuffer(src);
    const a = img.resolve('/a');
    const pos = direntPos(img, img.resolve('/a/b'), 'c.txt');
    // /a/b/c.txt now names /a: a directory reachable from itself.
    const b = patched(src, (x, dv) => {
      dv.setBigUint64(pos + DE.nid, BigInt(a.nid), true);
      x[pos + DE.fileType] = 2;
    });
    const bad = ErofsImage.fromBuffer(b);
    expectError(t, () => [...bad.walk()], 'ELOOP', { offset: true, message: /reached twice/ });
    t.is(bad.resolve('/a/b/c.txt/b/c.txt/b').nid, img.resolve('/a/b').nid);
  }
});

test('dirent names out of order or overlapping are ECORRUPT', (t) => {
  const src = t.context.plain;
  const img = ErofsImage.fromBuffer(src);
  const many = img.resolve('/many');
  const pos = direntPos(img, many, 'entry-1-n');
  const b = patched(src, (_x, dv) =>
    dv.setUint16(pos + DE.nameoff, dv.getUint16(pos + DIRENT_SIZE + DE.nameoff, true) + 5, true),
  );
  expectError(t, () => ErofsImage.fromBuffer(b).readdir(ErofsImage.fromBuffer(b).resolve('/many')), 'ECORRUPT', {
    offset: true,
    message: /bogus dirent/,
  });
  const first = img.mapBlocks(many, 0);
  const c = patched(src, (_x, dv) => dv.setUint16(first.physical + DE.nameoff, 4, true));
  expectError(t, () => ErofsImage.fromBuffer(c).readdir(ErofsImage.fromBuffer(c).resolve('/many')), 'ECORRUPT', {
    offset: true,
    message: /nameoff/,
  });
});

test('bogus i_format and i_mode are refused', (t) => {
  const src = t.context.plain;
  const ino = ErofsImage.fromBuffer(src).resolve('/plain');
  const fmt = patched(src, (_x, dv) =>
    dv.setUint16(ino.iloc + IC.format, 0x40 | dv.getUint16(ino.iloc + IC.format, true), true),
  );
  expectError(t, () => ErofsImage.fromBuffer(fmt).resolve('/plain'), 'EUNSUPPORTED', {
    offset: true,
    message: /i_format/,
  });
  const layout = patched(src, (_x, dv) =>
    dv.setUint16(ino.iloc + IC.format, (dv.getUint16(ino.iloc + IC.format, true) & 1) | (6 << 1), true),
  );
  expectError(t, () => ErofsImage.fromBuffer(layout).resolve('/plain'), 'EUNSUPPORTED', { message: /data layout 6/ });
  const mode = patched(src, (_x, dv) => dv.setUint16(ino.iloc + IC.mode, 0o644, true));
  expectError(t, () => ErofsImage.fromBuffer(mode).resolve('/plain'), 'ECORRUPT', {
    offset: true,
    message: /bogus i_mode/,
  });
});

// ---- data ----

function setSize(dv: DataView, ino: ErofsInode, size: number): void {
  if (ino.compact) dv.setUint32(ino.iloc + IC.size, size, true);
  else dv.setBigUint64(ino.iloc + IE.size, BigInt(size), true);
}

test('a size larger than the image: flat data past the end is ETRUNCATED, an inline tail across blocks ECORRUPT', (t) => {
  const src = t.context.plain;
  const img = ErofsImage.fromBuffer(src);
  const plain = img.resolve('/plain');
  t.is(plain.layout, DATALAYOUT.FLAT_PLAIN);
  const b = patched(src, (_x, dv) => setSize(dv, plain, src.length * 2));
  const bad = ErofsImage.fromBuffer(b);
  const ino = bad.resolve('/plain');
  expectError(t, () => bad.readFile(ino), 'ETRUNCATED', { offset: true, message: /runs past the end/ });
  expectError(t, () => bad.mapBlocks(ino, 0), 'ETRUNCATED', { offset: true });
  expectError(t, () => bad.read(ino, src.length + 10, 5), 'ETRUNCATED');

  const inline = img.resolve('/inline');
  t.is(inline.layout, DATALAYOUT.FLAT_INLINE);
  // Same block count, but a tail of blockSize - 1 bytes cannot share a block with the inode.
  const bs = img.blockSize;
  const c = patched(src, (_x, dv) => setSize(dv, inline, Math.floor(inline.size / bs) * bs + bs - 1));
  const bad2 = ErofsImage.fromBuffer(c);
  expectError(t, () => bad2.readFile(bad2.resolve('/inline')), 'ECORRUPT', {
    offset: true,
    message: /crosses a block boundary/,
  });
});

test('chunk indexes: an address past the end is ETRUNCATED at the entry; a table past the end too; device ids masked off on a single-device image', (t) => {
  const src = t.context.synth;
  const img = ErofsImage.fromBuffer(src);
  const ino = img.resolve('/chunks');
  t.is(ino.layout, DATALAYOUT.CHUNK_BASED);
  t.deepEqual(img.readFile(ino).subarray(512 * 5, 512 * 5 + 300), new Uint8Array(seededBytes(300, 9)));
  const table = Math.ceil((ino.iloc + ino.inodeSize + ino.xattrSize) / 8) * 8;
  // Entry 2 holds the data (chunk size 1024, data at 2560).
  const entry = table + 2 * 8;
  const b = patched(src, (_x, dv) => dv.setUint32(entry + 4, 0x00ffffff, true));
  const e = expectError(
    t,
    () => ErofsImage.fromBuffer(b).readFile(ErofsImage.fromBuffer(b).resolve('/chunks')),
    'ETRUNCATED',
    { offset: true, message: /past the end/ },
  );
  t.is(e?.offset, entry);
  // On a single-device image the kernel masks device ids with device_id_mask 0: the id is ignored.
  const dev = patched(src, (_x, dv) => dv.setUint16(entry + 2, 1, true));
  const devImg = ErofsImage.fromBuffer(dev);
  t.deepEqual(
    devImg.readFile(devImg.resolve('/chunks')).subarray(512 * 5, 512 * 5 + 300),
    new Uint8Array(seededBytes(300, 9)),
  );
  const huge = patched(src, (_x, dv) => setSize(dv, ino, 2 ** 40));
  const h = ErofsImage.fromBuffer(huge);
  expectError(t, () => h.mapBlocks(h.resolve('/chunks'), 0), 'ETRUNCATED', { offset: true, message: /chunk table/ });
  expectError(t, () => h.readFile(h.resolve('/chunks')), 'ETRUNCATED');
  // A block-map entry past the end, too.
  const bm = img.resolve('/blockmap');
  const bmTable = Math.ceil((bm.iloc + bm.inodeSize + bm.xattrSize) / 4) * 4;
  const c = patched(src, (_x, dv) => dv.setUint32(bmTable + 4, 0xfffffff0, true));
  expectError(t, () => ErofsImage.fromBuffer(c).readFile(ErofsImage.fromBuffer(c).resolve('/blockmap')), 'ETRUNCATED', {
    offset: true,
  });
});

test('a plain inode relabelled compressed: a typed one-line error (its "map header" is whatever follows it), never a crash', (t) => {
  const src = t.context.plain;
  const ino = ErofsImage.fromBuffer(src).resolve('/plain');
  for (const layout of [DATALAYOUT.COMPRESSED_FULL, DATALAYOUT.COMPRESSED_COMPACT]) {
    const b = patched(src, (_x, dv) =>
      dv.setUint16(ino.iloc + IC.format, (dv.getUint16(ino.iloc + IC.format, true) & 1) | (layout << 1), true),
    );
    const img = ErofsImage.fromBuffer(b);
    const c = img.resolve('/plain');
    t.true(c.compressed);
    t.is(c.size, ino.size);
    for (const read of [() => img.readFile(c), () => img.readInto(c, new Uint8Array(10), 0)]) {
      try {
        read();
      } catch (e) {
        t.true(
          e instanceof ErofsError && ['ECORRUPT', 'ETRUNCATED', 'EUNSUPPORTED', 'EINVAL'].includes(e.code),
          String(e),
        );
        t.false((e as Error).message.includes('\n'));
      }
    }
    // Block mapping is for unencoded inodes: a compressed one maps through its extents instead.
    expectError(t, () => img.mapBlocks(c, 0), 'EUNSUPPORTED', {
      message: /^compressed inode: block mapping does not apply/,
    });
    t.notThrows(() => img.xattrs(c));
  }
});

test('xattr ibody damage is ECORRUPT', (t) => {
  const src = t.context.synth;
  const img = ErofsImage.fromBuffer(src);
  const ino = img.resolve('/inline');
  t.deepEqual(
    img.xattrs(ino).map((x) => x.name),
    ['user.s', 'trusted.erofs.tag'],
  );
  t.is(img.fingerprint(ino), sha256(seededBytes(700, 5)).toString('hex'));
  const base = ino.iloc + ino.inodeSize;
  const many = patched(src, (x) => {
    x[base + 4] = 200;
  });
  expectError(t, () => ErofsImage.fromBuffer(many).xattrs(ErofsImage.fromBuffer(many).resolve('/inline')), 'ECORRUPT', {
    offset: true,
  });
  // The inline entry claims a value that overruns the ibody.
  const entry = base + 12 + 4;
  const over = patched(src, (_x, dv) => dv.setUint16(entry + 2, 4000, true));
  expectError(t, () => ErofsImage.fromBuffer(over).xattrs(ErofsImage.fromBuffer(over).resolve('/inline')), 'ECORRUPT', {
    offset: true,
    message: /overruns/,
  });
  // A long-prefix index beyond the table.
  const pfx = patched(src, (x) => {
    x[entry + 1] = 0x80 | 5;
  });
  expectError(t, () => ErofsImage.fromBuffer(pfx).xattrs(ErofsImage.fromBuffer(pfx).resolve('/inline')), 'ECORRUPT', {
    message: /long prefix 5/,
  });
});

// ---- mini-fuzz ----

interface Pristine {
  ranges: [number, number][]; // byte ranges a file's bytes depend on (inode record + data)
  data: Uint8Array;
  nid: number;
}

function pristineFiles(src: Uint8Array): Pristine[] {
  const img = ErofsImage.fromBuffer(src);
  const out: Pristine[] = [];
  for (const { inode } of img.walk()) {
    if (inode.type !== 'file') continue;
    const ranges: [number, number][] = [[inode.iloc, inode.iloc + inode.inodeSize + inode.xattrSize]];
    if (inode.layout === DATALAYOUT.CHUNK_BASED) {
      const unit = inode.chunkFormat & 0x20 ? 8 : 4;
      const t0 = Math.ceil((inode.iloc + inode.inodeSize + inode.xattrSize) / unit) * unit;
      ranges.push([inode.iloc, t0 + unit * Math.ceil(inode.size / (img.blockSize << (inode.chunkFormat & 0x1f)))]);
    }
    for (let off = 0; off < inode.size;) {
      const m = img.mapBlocks(inode, off);
      if (m.kind !== 'hole') ranges.push([m.physical, m.physical + m.length]);
      off = m.logical + m.length;
    }
    out.push({ ranges, data: img.readFile(inode), nid: inode.nid });
  }
  return out;
}

function xorshift(seed: number): () => number {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

for (const which of ['plain', 'synth'] as const) {
  test(`mini-fuzz: 300 seeded byte flips over the ${which} image give ErofsError or correct data`, (t) => {
    const src = t.context[which];
    const files = pristineFiles(src);
    const bs = 1 << src[EROFS_SUPER_OFFSET + SB.blkszbits];
    // Most flips land in metadata (superblock and inode blocks), some anywhere.
    const metaEnd = Math.min(src.length, Math.max(...files.map((f) => f.ranges[0][1])) + bs);
    const codes = new Map<string, number>();
    let clean = 0;
    let verified = 0;
    for (let seed = 1; seed <= 300; seed++) {
      const rnd = xorshift(seed * 2654435761);
      const b = src.slice();
      const flips: number[] = [];
      const n = 1 + Math.floor(rnd() * 6);
      for (let i = 0; i < n; i++) {
        const pos =
          rnd() < 0.85
            ? EROFS_SUPER_OFFSET + Math.floor(rnd() * (metaEnd - EROFS_SUPER_OFFSET))
            : Math.floor(rnd() * b.length);
        b[pos] ^= 1 << Math.floor(rnd() * 8);
        flips.push(pos);
      }
      if (rnd() < 0.9) fixChecksum(b);
      let img: ErofsImage | undefined;
      try {
        img = ErofsImage.fromBuffer(b);
        exerciseAll(img, 4 << 20);
        clean++;
      } catch (e) {
        if (!(e instanceof ErofsError)) {
          t.fail(`seed ${seed} (flips at ${flips.join(',')}): ${(e as Error).stack}`);
          continue;
        }
        codes.set(e.code, (codes.get(e.code) ?? 0) + 1);
      }
      // Files whose inode, data and the superblock were untouched must read back exactly.
      if (!img || flips.some((p) => p >= EROFS_SUPER_OFFSET && p < EROFS_SUPER_OFFSET + 128)) continue;
      for (const f of files) {
        if (flips.some((p) => f.ranges.some(([lo, hi]) => p >= lo && p < hi))) continue;
        let data: Uint8Array;
        try {
          data = img.readFile(img.inode(f.nid));
        } catch (e) {
          t.fail(`seed ${seed}: untouched nid ${f.nid} failed: ${(e as Error).message}`);
          continue;
        }
        if (!Buffer.from(data).equals(Buffer.from(f.data)))
          t.fail(`seed ${seed}: untouched nid ${f.nid} read wrong data`);
        verified++;
      }
    }
    t.log(
      `${which}: ${clean} images read cleanly, errors by code: ${JSON.stringify(Object.fromEntries(codes))}, ${verified} untouched files verified`,
    );
    t.true(verified > 0);
    t.true(codes.size > 0);
  });
}

test('a sparse file larger than one buffer: readFile refuses with EINVAL, ranged reads still work', (t) => {
  // One chunk of 2^43 bytes, a hole: a legal 4 TiB sparse file whose chunk table is one entry.
  const bytes = buildImage(
    {
      type: 'dir',
      entries: {
        huge: { type: 'file', data: new Uint8Array(4096), layout: 'chunk', chunkBits: 31, indexes: true, holes: true },
      },
    },
    { blockSize: 4096 },
  );
  const ino = ErofsImage.fromBuffer(bytes).resolve('/huge');
  const b = patched(bytes, (_x, dv) => setSize(dv, ino, 2 ** 42));
  const img = ErofsImage.fromBuffer(b);
  const huge = img.resolve('/huge');
  t.is(huge.size, 2 ** 42);
  t.deepEqual(img.mapBlocks(huge, 2 ** 41), { kind: 'hole', logical: 0, length: 2 ** 42, physical: -1 });
  expectError(t, () => img.readFile(huge), 'EINVAL', { message: /too large for one buffer/ });
  t.deepEqual(img.read(huge, 2 ** 42 - 10, 100), new Uint8Array(10));
});

// ---- the ishare fingerprint (upstream format) ----

test('ishare_xattr_prefix_id at or past the prefix count is a corrupt superblock (as super.c has it)', (t) => {
  const src = t.context.synth;
  t.is(ErofsImage.fromBuffer(src).sb.ishareXattrPrefixId, 1);
  for (const id of [2, 0x7f, 0xff]) {
    const b = patched(src, (x) => {
      x[EROFS_SUPER_OFFSET + SB.ishareXattrPrefixId] = id;
    });
    expectError(t, () => ErofsImage.fromBuffer(b), 'ECORRUPT', {
      offset: true,
      message: new RegExp(`invalid ishare xattr prefix id ${id} \\(image has 2 long xattr name prefixes\\)`),
    });
  }
  // Without the compat bit the byte means nothing (fsck.erofs only checks it when the bit is set).
  const off = patched(src, (x, dv) => {
    x[EROFS_SUPER_OFFSET + SB.ishareXattrPrefixId] = 9;
    dv.setUint32(
      EROFS_SUPER_OFFSET + SB.featureCompat,
      dv.getUint32(EROFS_SUPER_OFFSET + SB.featureCompat, true) & ~FEATURE_COMPAT.ISHARE_XATTRS,
      true,
    );
  });
  const img = ErofsImage.fromBuffer(off);
  t.false(img.sb.hasFingerprints);
  t.is(img.fingerprint(img.resolve('/inline')), undefined, 'no fingerprints without the compat bit');
});

test('a corrupt long-prefix table is ECORRUPT on first use, never a wrong name', (t) => {
  const src = t.context.synth;
  const start = new DataView(src.buffer, src.byteOffset).getUint32(EROFS_SUPER_OFFSET + SB.xattrPrefixStart, true) * 4;
  for (const len of [0, 257, 0xffff]) {
    const b = patched(src, (_x, dv) => dv.setUint16(start, len, true));
    const img = ErofsImage.fromBuffer(b);
    expectError(t, () => img.fingerprint(img.resolve('/inline')), 'ECORRUPT', {
      offset: true,
      message: /long xattr prefix 0 has bogus length/,
    });
    expectError(t, () => img.xattrs(img.resolve('/inline')), 'ECORRUPT', { message: /bogus length/ });
  }
  // The table's start pointed past the image end: ETRUNCATED.
  const far = patched(src, (_x, dv) => dv.setUint32(EROFS_SUPER_OFFSET + SB.xattrPrefixStart, 0x3fffffff, true));
  const img = ErofsImage.fromBuffer(far);
  expectError(t, () => img.fingerprintName(), 'ETRUNCATED');
});

test('a fingerprint of the wrong length or prefix is refused (counted as bad, not a digest)', (t) => {
  const src = t.context.synth;
  const img = ErofsImage.fromBuffer(src);
  const ino = img.resolve('/inline');
  const want = sha256(seededBytes(700, 5)).toString('hex');
  t.deepEqual(img.fingerprintResult(ino), { status: 'ok', hex: want });
  // Find the fingerprint entry's value in the ibody: "sha256:" + the digest, once.
  const needle = Buffer.from(fingerprintValue(sha256(seededBytes(700, 5))));
  const at = Buffer.from(src).indexOf(needle, ino.iloc);
  t.true(at > ino.iloc);
  const wrongPrefix = patched(src, (x) => {
    x.set(Buffer.from('sha512:'), at);
  });
  const a = ErofsImage.fromBuffer(wrongPrefix);
  t.like(a.fingerprintResult(a.resolve('/inline')), { status: 'bad' });
  t.is(a.fingerprint(a.resolve('/inline')), undefined);
  t.deepEqual(
    a.xattrs(a.resolve('/inline')).map((x) => x.name),
    ['user.s', 'trusted.erofs.tag'],
    'the rest of the xattrs still read',
  );
  // e_value_size 38 (one byte short): the entry still parses (same padded size), the value is refused.
  const short = patched(src, (_x, dv) => dv.setUint16(at - 4 + 2, 38, true));
  const b = ErofsImage.fromBuffer(short);
  const r = b.fingerprintResult(b.resolve('/inline'));
  t.like(r, { status: 'bad' });
  t.regex((r as { reason: string }).reason, /38 bytes, not 39/);
});
