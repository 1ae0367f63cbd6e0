// Bugs the fuzzer found, each pinned by a direct reproduction:
// 1. A corrupt extent of a file read through a shared inode leaked the backing inode grabbed by
//    iomapBegin (mapping threw before iomapEnd could see the extent), so unmount could never evict it.
// 2. ErofsError messages quoting on-disk names (which may hold '\n' or '\r') spanned several lines.
import test from 'ava';
import { mkdirSync, writeFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ErofsError, ErofsImage, IC, IE } from '../src/erofs/index.ts';
import { mkfs } from '../src/erofs/mkfs/index.ts';
import { System } from '../src/system.ts';
import { checkQuiescent } from '../src/debug/invariants.ts';
import { checkImage, FuzzKernel } from '../src/fuzz/index.ts';
import { readFileSync } from 'node:fs';
import { removeDir, seededBytes, tempDir } from '../../../test/helpers/trees.ts';
import { fixChecksum } from './erofs-synth.ts';

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
      const { mount, shareActive } = sys.mount(bad, { inodeShare });
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
    t.false(/[\r\n]/.test(missing!.message), missing!.message);
    const enoent = t.throws(() => img.resolve('/no\r\nsuch'), { instanceOf: ErofsError });
    t.is(enoent?.code, 'ENOENT');
    t.false(/[\r\n]/.test(enoent!.message));
    t.true(enoent!.message.includes('no\\x0d\\x0asuch'), enoent!.message);
    // Through the dangling symlink's target, the message names the target's components.
    const viaLink = t.throws(() => img.resolve('/odd-link'), { instanceOf: ErofsError });
    t.false(/[\r\n]/.test(viaLink!.message), viaLink!.message);
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
