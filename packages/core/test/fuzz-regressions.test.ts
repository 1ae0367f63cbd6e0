// Bugs the fuzzer found, each pinned by a direct reproduction:
// 1. A corrupt extent of a file read through a shared inode leaked the backing inode grabbed by
//    iomapBegin (mapping threw before iomapEnd could see the extent), so unmount could never evict it.
// 2. ErofsError messages quoting on-disk names (which may hold '\n' or '\r') spanned several lines.
// 3. Past 4 GiB the kernel's read path computed page indexes with a 32-bit shift (`pos >>> 12`) and
//    served page 0 for offset 2^32; readAll of a file larger than one buffer threw a RangeError; a file
//    with more pages than a frame can index (Int32) was opened anyway.
// 4. (further down) lz4 match offset 0.
// 5. fzstd, given a buffer, never says how many bytes a zstd frame held: a partial request on a frame
//    without a content size (which went to fzstd) came out with wrong bytes past the last whole block
//    when the frame held more, or the buffer's zeros when it held less (found by the decoder fuzz,
//    fuzz/decoders.ts).
// 6. lz4.wat and lz4.ts decoded an empty block to 0 bytes where lz4-napi and the kernel refuse it.
import test from 'ava';
import { mkdirSync, writeFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ErofsError, VfsError, mkfs, System } from '@ishare/core';
import { ErofsImage, IC, IE } from '@ishare/core/format';
import { checkQuiescent } from '@ishare/core/stress';
import { checkImage, FuzzKernel } from '@ishare/core/fuzz';
import { readFileSync } from 'node:fs';
import { removeDir, seededBytes, tempDir } from '../../../test/helpers/trees.ts';
import { buildImage, fixChecksum } from './erofs-synth.ts';
import { MAX_FILE_BYTES } from '../src/vfs/filemap.ts';
import { execFileSync } from 'node:child_process';
import { zDecompress, zstdOptions } from '../src/erofs/decompress.ts';
import { Z_ALG } from '../src/erofs/format.ts';
import { collectBlocks } from '../src/fuzz/decoders.ts';
import { makeCompressTree } from '../../../test/helpers/compress-tree.ts';
import { upstreamTool } from '../../../test/helpers/erofs-utils.ts';

const dir = tempDir('ishare-fuzz-regress-');
test.after.always(() => removeDir(dir));

async function imageOf(name: string, build: (src: string) => void): Promise<string> {
  const src = join(dir, `${name}-src`);
  mkdirSync(src);
  build(src);
  const out = join(dir, `${name}.img`);
  await mkfs({ out, source: src, timestamp: 1_700_000_000, uuid: '00000000-0000-4000-8000-000000000001' });
  return out;
}

/** Forge nid's i_size so its data extent runs past the end of the image (a typed ETRUNCATED on read). */
function forgeSize(path: string, file: string, size: number): Uint8Array {
  const bytes = new Uint8Array(readFileSync(path));
  const ino = ErofsImage.fromBuffer(bytes).resolve(file);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (ino.compact) dv.setUint32(ino.iloc + IC.size, size, true);
  else dv.setBigUint64(ino.iloc + IE.size, BigInt(size), true);
  fixChecksum(bytes);
  return bytes;
}

for (const inodeShare of [true, false]) {
  test(`a corrupt extent read ${inodeShare ? 'through a shared inode' : 'privately'} leaves nothing referenced: unmount succeeds, invariants hold`, async (t) => {
    const img = await imageOf(`leak-${inodeShare}`, (src) => {
      writeFileSync(join(src, 'victim'), seededBytes(5000, 1));
      writeFileSync(join(src, 'twin'), seededBytes(5000, 1));
      writeFileSync(join(src, 'other'), seededBytes(7000, 2));
    });
    const bad = join(dir, `leak-${inodeShare}-bad.img`);
    writeFileSync(bad, forgeSize(img, '/victim', 0x7fff_ffff));
    const sys = System.create({ poolMiB: 4, inodeSlots: 256, mountSlots: 2 });
    try {
      const { mount, shareActive } = sys.mount(bad, { inodeShare, domainId: 'test' });
      t.is(shareActive, inodeShare, 'our mkfs writes fingerprints');
      const f = sys.open(mount, '/victim');
      try {
        const e = t.throws(() => sys.read(f, 0, 4096), { instanceOf: ErofsError });
        t.is(e?.code, 'ETRUNCATED');
      } finally {
        sys.close(f);
      }
      // The intact files still read.
      const o = sys.open(mount, '/other');
      t.deepEqual(sys.readAll(o), seededBytes(7000, 2));
      sys.close(o);
      t.notThrows(() => sys.unmount(mount, 500));
      t.deepEqual(checkQuiescent(sys.arena), []);
    } finally {
      sys.detach();
    }
  });
}

test('error messages quoting names with control characters stay on one line', async (t) => {
  const path = await imageOf('names', (src) => {
    writeFileSync(join(src, 'new\nline'), 'x');
    writeFileSync(join(src, 'carriage\rreturn'), 'y');
    symlinkSync('a\nb', join(src, 'odd-link'));
  });
  const img = ErofsImage.open(path);
  try {
    t.is(img.readFile(img.resolve('/new\nline'))[0], 0x78, 'the names themselves are fine');
    const missing = t.throws(() => img.resolve('/new\nline/below'), { instanceOf: ErofsError });
    t.is(missing?.code, 'ENOTDIR');
    t.false(/[\r\n]/.test(missing.message), missing.message);
    const enoent = t.throws(() => img.resolve('/no\r\nsuch'), { instanceOf: ErofsError });
    t.is(enoent?.code, 'ENOENT');
    t.false(/[\r\n]/.test(enoent.message));
    t.true(enoent.message.includes('no\\x0d\\x0asuch'), enoent.message);
    // Through the dangling symlink's target, the message names the target's components.
    const viaLink = t.throws(() => img.resolve('/odd-link'), { instanceOf: ErofsError });
    t.false(/[\r\n]/.test(viaLink.message), viaLink.message);
  } finally {
    img.close();
  }
  // And the fuzz checker accepts the image as clean (no message spans lines anywhere in it).
  const kernel = new FuzzKernel(join(dir, 'scratch.img'));
  try {
    const out = checkImage({ bytes: new Uint8Array(readFileSync(path)) }, { kernel });
    t.is(out.kind, 'ok', out.message);
  } finally {
    kernel.close();
  }
});

/** A chunk-based file whose data sits in its last chunk, with chunks scaled to 2^chunkBits blocks. */
function hugeSparse(chunkBits: number, tail: number): { bytes: Uint8Array; size: number; data: Uint8Array } {
  const data = new Uint8Array(seededBytes(4096, 3));
  const content = new Uint8Array(8192);
  content.set(data, 4096);
  const bytes = buildImage(
    {
      type: 'dir',
      entries: { big: { type: 'file', data: content, layout: 'chunk', chunkBits: 0, indexes: true, holes: true } },
    },
    { blockSize: 4096, compact: false },
  );
  const ino = ErofsImage.fromBuffer(bytes).resolve('/big');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const size = 4096 * 2 ** chunkBits + tail;
  dv.setUint16(ino.iloc + IE.u, (ino.chunkFormat & ~0x1f) | chunkBits, true);
  dv.setBigUint64(ino.iloc + IE.size, BigInt(size), true);
  fixChecksum(bytes);
  return { bytes, size, data };
}

test('past 4 GiB the kernel reads the right page (no 32-bit page index), and readAll refuses with a typed error', (t) => {
  const { bytes, size, data } = hugeSparse(20, 100); // one 4 GiB hole, then 100 bytes of data
  const img = ErofsImage.fromBuffer(bytes);
  const big = img.resolve('/big');
  t.is(big.size, 2 ** 32 + 100);
  t.deepEqual(img.read(big, 2 ** 32, 100), data.subarray(0, 100));
  const path = join(dir, 'huge.img');
  writeFileSync(path, bytes);
  const sys = System.create({ poolMiB: 4, inodeSlots: 64, mountSlots: 2 });
  try {
    const m = sys.mount(path).mount;
    const f = sys.open(m, '/big');
    try {
      t.is(f.size, size);
      const got = new Uint8Array(100);
      t.is(sys.read(f, 2 ** 32, 100, got), 100);
      t.deepEqual(got, data.subarray(0, 100));
      const head = new Uint8Array(4096);
      t.is(sys.read(f, 0, 4096, head), 4096);
      t.deepEqual(head, new Uint8Array(4096), 'the hole reads as zeros');
      const e = t.throws(() => sys.readAll(f), { instanceOf: VfsError });
      t.is(e?.code, 'EINVAL');
    } finally {
      sys.close(f);
    }
    sys.unmount(m, 500);
    t.deepEqual(checkQuiescent(sys.arena), []);
  } finally {
    sys.detach();
  }
});

test('a file with more pages than the page cache can index is refused at open with a typed error', (t) => {
  const { bytes, size } = hugeSparse(31, 100); // 8 TiB of hole, then data: past the Int32 page index
  t.true(size > MAX_FILE_BYTES);
  const path = join(dir, 'too-huge.img');
  writeFileSync(path, bytes);
  const sys = System.create({ poolMiB: 4, inodeSlots: 64, mountSlots: 2 });
  try {
    const m = sys.mount(path).mount;
    const e = t.throws(() => sys.open(m, '/big'), { instanceOf: VfsError });
    t.is(e?.code, 'EINVAL');
    t.regex(e.message, /larger than the page cache can index/);
    sys.unmount(m, 500);
  } finally {
    sys.detach();
  }
});

test('a corrupt lz4 block (match offset 0) is refused by every lz4 decoder, whole and partial', async (t) => {
  // Found by the fuzzer: lz4js copied from the not-yet-written output position on offset 0, so a reused
  // kernel scratch buffer leaked an earlier decode's bytes. Offset 0 is invalid LZ4: both decoders now
  // refuse it (lz4.wat, lz4-napi for whole blocks, erofs/lz4.ts), so no
  // buffer's earlier contents can come out. Block: 4 literals, a match at offset 0 of length 4, then
  // the final literal.
  const { zDecompress, lz4Options } = await import('../src/erofs/decompress.ts');
  const block = Uint8Array.from([0x40, 0x61, 0x62, 0x63, 0x64, 0x00, 0x00, 0x10, 0x65]);
  const decode = (partial: boolean): void => {
    zDecompress({
      alg: 0,
      input: block.slice(),
      out: Buffer.alloc(64, 0x41).subarray(0, 9),
      decodedLength: 9,
      skip: 0,
      interlacedOffset: 0,
      partial,
      blockSize: 4096,
      zeroPadding: true,
      nid: 1,
    });
  };
  for (const decoder of ['wasm', 'napi', 'js'] as const) {
    lz4Options.decoder = decoder;
    try {
      for (const partial of [false, true]) {
        const e = t.throws(() => decode(partial), undefined, `${decoder}, partial ${partial}`);
        t.regex(e?.message ?? '', /^compressed nid 1: lz4 pcluster: undecodable \(.*offset.*\)$/);
      }
    } finally {
      lz4Options.decoder = 'wasm';
    }
  }
});

/** Upstream's zstd pclusters (leading zero padding stripped) with the frame content size removed. */
function zstdFramesWithoutSize(): { frame: Uint8Array; whole: Uint8Array }[] {
  const src = join(dir, 'zstd-src');
  mkdirSync(src);
  makeCompressTree(src);
  const image = join(dir, 'zstd.img');
  execFileSync(upstreamTool('mkfs.erofs'), ['-T0', '-zzstd', image, src], { stdio: 'ignore' });
  const img = ErofsImage.open(image);
  const out: { frame: Uint8Array; whole: Uint8Array }[] = [];
  try {
    for (const b of collectBlocks(img)) {
      const f = b.bytes;
      const fhd = f[4];
      const fcsBytes = [0, 2, 4, 8][fhd >> 6];
      // Single-segment frames need their size; the others keep their window descriptor without it.
      if (b.alg !== 'zstd' || fhd & 0x20 || fhd & 3 || fcsBytes === 0) continue;
      const frame = new Uint8Array(f.length - fcsBytes);
      frame.set(f.subarray(0, 6));
      frame[4] = fhd & 0x3f;
      frame.set(f.subarray(6 + fcsBytes), 6);
      out.push({ frame, whole: zstdDecodeVia('wasm', f, b.length, false) });
    }
  } finally {
    img.close();
  }
  return out;
}

function zstdDecodeVia(decoder: 'wasm' | 'js', frame: Uint8Array, length: number, partial: boolean): Uint8Array {
  zstdOptions.decoder = decoder;
  try {
    const out = new Uint8Array(length);
    zDecompress({
      alg: Z_ALG.ZSTD,
      input: frame.slice(),
      out,
      decodedLength: length,
      skip: 0,
      interlacedOffset: 0,
      partial,
      blockSize: 4096,
      zeroPadding: true,
      nid: 3,
    });
    return out;
  } finally {
    zstdOptions.decoder = 'wasm';
  }
}

test('a zstd frame without a content size: a partial request decodes the exact prefix, a short frame is refused; fzstd refuses it', (t) => {
  const frames = zstdFramesWithoutSize();
  t.true(frames.length > 3, `${frames.length} frames`);
  for (const { frame, whole } of frames) {
    t.deepEqual(zstdDecodeVia('wasm', frame, whole.length, false), whole);
    for (const cut of [1, 4095, 4096, whole.length >> 1, whole.length - 1]) {
      if (cut <= 0 || cut >= whole.length) continue;
      t.deepEqual(zstdDecodeVia('wasm', frame, cut, true), whole.subarray(0, cut), `prefix ${cut} of ${whole.length}`);
    }
    for (const partial of [false, true]) {
      const e = t.throws(() => zstdDecodeVia('wasm', frame, whole.length + 1, partial), { instanceOf: ErofsError });
      t.regex(e?.message ?? '', /^compressed nid 3: zstd pcluster: (undecodable|decoded \d+ bytes)/);
      const j = t.throws(() => zstdDecodeVia('js', frame, whole.length >> 1, partial), { instanceOf: ErofsError });
      t.regex(j?.message ?? '', /^compressed nid 3: zstd pcluster: frame without a content size/);
    }
  }
});

test('an empty lz4 block is refused by every lz4 decoder, even asked for nothing (as lz4-napi and the kernel refuse it)', async (t) => {
  // Found by the decoder fuzz (a block truncated to nothing, asked for 0 bytes): lz4.wat and lz4.ts
  // returned 0 bytes where lz4-napi, and LZ4_decompress_generic in the kernel, refuse an empty input.
  const { lz4DecodeBlock, LZ4_E_INPUT } = await import('../src/erofs/lz4.ts');
  const { lz4WasmDecode } = await import('../src/erofs/lz4wasm.ts');
  const src = Uint8Array.from([0x10, 0x61]);
  for (const partial of [false, true]) {
    for (const length of [0, 1]) {
      t.is(lz4WasmDecode(src, 1, 1, length, partial), LZ4_E_INPUT, `lz4.wat, length ${length}, partial ${partial}`);
      t.is(lz4DecodeBlock(src, 1, 1, new Uint8Array(4), 0, length, partial), LZ4_E_INPUT, `lz4.ts, length ${length}`);
    }
  }
  // And a one-byte block of nothing but a token still decodes to nothing, as before.
  t.is(lz4WasmDecode(Uint8Array.from([0x00]), 0, 1, 0, false), 0);
  t.is(lz4DecodeBlock(Uint8Array.from([0x00]), 0, 1, new Uint8Array(0), 0, 0, false), 0);
});
