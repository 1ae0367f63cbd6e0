// The MicroLZMA decoder (erofs/lzma.ts) behind zDecompress, on streams from an independent encoder and on
// damaged ones. The encoder is liblzma through python3's `lzma` module (raw LZMA1, any lc/lp/pb): its
// stream starts with the range coder's zero byte, which MicroLZMA replaces by the bitwise-not of the
// properties byte, and ends with an end marker (liblzma's raw LZMA1 always writes one) and the range
// coder's flush. So a decode of exactly the data's length is a prefix request that must give the data;
// the kernel's rules (lib/xz/xz_dec_lzma2.c, xz_dec_microlzma_*) then say what else must happen:
// - an exact request of that length fails: input is left over (the marker) — `compressed > 0`;
// - one byte more reaches the marker, whose distance (2^32 − 1) is beyond the bytes decoded — dict_repeat;
// - properties above 224 or with lc + lp > 4 are refused — lzma_props; fewer than 5 bytes — RC_INIT_BYTES;
// - a match distance (0-based) not below the dictionary size is refused — dict_repeat's dist >= dict.size;
// - a stream cut short fails — a symbol reading past the input's end.
// Upstream mkfs.erofs pclusters (exact MicroLZMA, no marker) check the exact-mode rules the other way:
// whole they decode; with bytes appended, or asked one byte short, an exact request fails.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Z_ALG } from '@ishare/core/format';
import { isErofsError } from '@ishare/core';
import { zDecompress } from '../src/erofs/decompress.ts';
import { removeDir, tempDir } from '../../../test/helpers/trees.ts';
import { textBytes } from '../../../test/helpers/compress-tree.ts';
import { upstreamPclusters, type Pcl } from './helpers/pclusters.ts';

/** Raw LZMA1 of `data` by liblzma (python3's lzma module), with an end marker. */
function liblzmaRaw(data: Uint8Array, lc: number, lp: number, pb: number, dictSize = 1 << 20): Uint8Array {
  const py =
    'import lzma,sys;d=sys.stdin.buffer.read();' +
    `f=[{"id":lzma.FILTER_LZMA1,"lc":${lc},"lp":${lp},"pb":${pb},"dict_size":${dictSize},"preset":6}];` +
    'sys.stdout.buffer.write(lzma.compress(d,format=lzma.FORMAT_RAW,filters=f))';
  return new Uint8Array(execFileSync('python3', ['-c', py], { input: data, maxBuffer: 64 << 20 }));
}

/**
 * What liblzma decodes from EROFS lzma pclusters (python3's lzma, the .lzma format with the decoded size
 * known): the 0padding zeros dropped, the first byte put back to 0 behind a header carrying the
 * properties (its bitwise-not), a dictionary as large as the extent, and the size. One process for all.
 */
function liblzmaMicroBatch(pcls: readonly Pcl[]): Buffer[] {
  const py = [
    'import lzma,struct,sys',
    'd=sys.stdin.buffer.read();o=0;w=sys.stdout.buffer',
    'while o<len(d):',
    ' n,l=struct.unpack_from("<II",d,o);o+=8;r=d[o:o+n].lstrip(b"\\0");o+=n',
    ' h=bytes([~r[0]&255])+struct.pack("<IQ",max(4096,l),l)',
    ' x=lzma.LZMADecompressor(format=lzma.FORMAT_ALONE).decompress(h+b"\\0"+r[1:],max_length=l)',
    ' w.write(struct.pack("<I",len(x))+x)',
  ].join('\n');
  const input = Buffer.concat(
    pcls.flatMap((p) => {
      const h = Buffer.alloc(8);
      h.writeUInt32LE(p.raw.length, 0);
      h.writeUInt32LE(p.llen, 4);
      return [h, Buffer.from(p.raw)];
    }),
  );
  const out = execFileSync('python3', ['-c', py], { input, maxBuffer: 256 << 20 });
  const res: Buffer[] = [];
  for (let o = 0; o < out.length;) {
    const n = out.readUInt32LE(o);
    res.push(out.subarray(o + 4, o + 4 + n));
    o += 4 + n;
  }
  return res;
}

/** The same stream as EROFS stores it: the first (zero) byte replaced by ~properties. */
function micro(raw: Uint8Array, lc: number, lp: number, pb: number): Uint8Array {
  const m = raw.slice();
  m[0] = ~((pb * 5 + lp) * 9 + lc) & 0xff;
  return m;
}

interface Req {
  length: number;
  partial: boolean;
  skip?: number;
  dictSize?: number;
}

/** zDecompress an lzma pcluster; its output was filled with junk first. */
function decode(input: Uint8Array, r: Req): Uint8Array {
  const skip = r.skip ?? 0;
  const out = new Uint8Array(r.length - skip).fill(0xa5);
  zDecompress({
    alg: Z_ALG.LZMA,
    input,
    out,
    decodedLength: r.length,
    skip,
    interlacedOffset: 0,
    partial: r.partial,
    blockSize: 4096,
    zeroPadding: true,
    nid: 9,
    ...(r.dictSize === undefined ? {} : { lzmaDictSize: r.dictSize }),
  });
  return out;
}

function refused(t: { true(v: boolean, m?: string): void }, fn: () => unknown, why: RegExp, what: string): void {
  try {
    fn();
    t.true(false, `${what}: decoded`);
  } catch (e) {
    t.true(isErofsError(e) && e.code === 'ECORRUPT', `${what}: ${String(e)}`);
    const msg = (e as Error).message;
    t.true(!msg.includes('\n') && why.test(msg), `${what}: ${msg}`);
  }
}

const data = Buffer.concat([textBytes(20_000, 11), randomBytes(3000), textBytes(9000, 12)]);

test('liblzma streams for every lc/lp/pb the kernel accepts: a prefix request gives the data; exact and one byte more are refused', (t) => {
  for (const [lc, lp, pb] of [
    [3, 0, 2],
    [0, 0, 0],
    [4, 0, 4],
    [0, 4, 0],
    [1, 3, 1],
    [2, 2, 3],
  ] as const) {
    const raw = liblzmaRaw(data, lc, lp, pb);
    t.is(raw[0], 0, 'raw LZMA1 starts with the range coder zero byte');
    const m = micro(raw, lc, lp, pb);
    const tag = `lc=${lc} lp=${lp} pb=${pb}`;
    t.true(Buffer.from(decode(m, { length: data.length, partial: true })).equals(data), `${tag}: whole`);
    // Prefixes and windows, straight into out (skip 0) and through the scratch (skip > 0).
    for (const [len, skip] of [
      [1, 0],
      [4097, 0],
      [20_001, 19_000],
      [data.length, 12_345],
    ] as const) {
      const got = Buffer.from(decode(m, { length: len, partial: true, skip }));
      t.true(got.equals(data.subarray(skip, len)), `${tag}: [${skip}, ${len})`);
    }
    refused(t, () => decode(m, { length: data.length, partial: false }), /input left over/, `${tag}: exact`);
    refused(t, () => decode(m, { length: data.length + 1, partial: true }), /match distance/, `${tag}: marker`);
  }
});

test('properties the kernel refuses (above 224, lc + lp > 4) and streams shorter than five bytes', (t) => {
  const raw = liblzmaRaw(data, 3, 0, 2);
  for (const props of [225, 255, 5 /* lc 5 */, 21 /* lc 3 lp 2 */, 4 + 9 /* lc 4 lp 1 */, 45 * 4 + 9 * 4 + 1]) {
    const m = raw.slice();
    m[0] = ~props & 0xff;
    refused(t, () => decode(m, { length: 100, partial: true }), /invalid properties/, `props ${props}`);
  }
  const m = micro(raw, 3, 0, 2);
  for (const n of [1, 4])
    refused(t, () => decode(m.subarray(0, n), { length: 1, partial: true }), /five bytes/, `${n} bytes`);
});

test('a match distance must stay below the dictionary size of the superblock config', (t) => {
  // Random bytes, then the same bytes again: the second copy is matches at distance 6000 (0-based 5999).
  const r = randomBytes(6000);
  const twice = Buffer.concat([r, r]);
  const m = micro(liblzmaRaw(twice, 3, 0, 2, 1 << 16), 3, 0, 2);
  t.true(Buffer.from(decode(m, { length: twice.length, partial: true, dictSize: 6000 })).equals(twice));
  refused(t, () => decode(m, { length: twice.length, partial: true, dictSize: 5999 }), /match distance/, '5999');
  refused(t, () => decode(m, { length: twice.length, partial: true, dictSize: 4096 }), /match distance/, '4096');
  // Sizes z_erofs_load_lzma_config refuses to mount with.
  for (const d of [0, 4095, 8 * 2 ** 20 + 1])
    refused(t, () => decode(m, { length: 10, partial: true, dictSize: d }), /dictionary size/, `dict ${d}`);
});

test('a stream cut short into its data fails, whatever the request', (t) => {
  const m = micro(liblzmaRaw(data, 3, 0, 2), 3, 0, 2);
  // Past the end marker and the coder's flush (a dozen bytes at most): into the data's own symbols.
  for (const cut of [20, 100, Math.floor(m.length / 2)]) {
    const short = m.subarray(0, m.length - cut);
    for (const partial of [true, false])
      refused(
        t,
        () => decode(short, { length: data.length, partial }),
        /past the end of its input|left over/,
        `cut ${cut}`,
      );
  }
});

let dir = '';
const pcls: Pcl[] = [];
test.before(() => {
  dir = tempDir('ishare-lzma-');
  pcls.push(...upstreamPclusters(dir, ['-zlzma', '-C16384'], Z_ALG.LZMA));
});
test.after.always(() => removeDir(dir));

test('upstream pclusters: exact whole decodes as liblzma does; trailing bytes or one byte short refused as exact, fine as a prefix', (t) => {
  t.true(pcls.length >= 5, `${pcls.length} lzma pclusters`);
  const want = liblzmaMicroBatch(pcls);
  for (const [i, p] of pcls.entries()) {
    const whole = Buffer.from(decode(p.raw, { length: p.llen, partial: false }));
    t.true(whole.equals(want[i]), `pcluster ${i}: as liblzma decodes it (${want[i].length} of ${p.llen} bytes)`);
    const prefix = Buffer.from(decode(p.raw, { length: p.llen - 1, partial: true }));
    t.true(prefix.equals(whole.subarray(0, p.llen - 1)), `pcluster ${i}: prefix`);
    refused(
      t,
      () => decode(p.raw, { length: p.llen - 1, partial: false }),
      /encodes more|did not finish|left over/,
      `${i}: short`,
    );
    const trailing = Buffer.concat([p.raw, Buffer.from([0x42, 0, 7])]);
    t.true(
      Buffer.from(decode(trailing, { length: p.llen, partial: true })).equals(whole),
      `pcluster ${i}: trailing, prefix`,
    );
    refused(t, () => decode(trailing, { length: p.llen, partial: false }), /left over/, `${i}: trailing, exact`);
  }
});
