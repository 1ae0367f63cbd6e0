// The LZ4 decoders behind zDecompress — lz4.wat (WebAssembly, the default), lz4-napi for whole
// blocks, erofs/lz4.ts — on every lz4 pcluster upstream mkfs.erofs writes for a small tree: the same
// bytes whole, a partial decode is the prefix of the whole one, and damaged blocks (cut short, bytes
// flipped) give a typed error or the exact decoded length, never an exception of another kind; the
// committed WebAssembly module is the assembly of the committed lz4.wat.
import test from 'ava';
import { Z_ALG } from '@ishare/core/format';
import { isErofsError } from '@ishare/core';
import { zDecompress, lz4Options } from '../src/erofs/decompress.ts';
import { lz4DecodeBlock, LZ4_E_INPUT, LZ4_E_OFFSET, LZ4_E_OVERFLOW } from '../src/erofs/lz4.ts';
import { lz4WasmDecode, lz4WasmOutput } from '../src/erofs/lz4wasm.ts';
import { LZ4_WASM_BASE64 } from '../src/erofs/lz4wasm_module.ts';
import { assembleLz4Wat } from '../scripts/lz4-wasm-build.ts';
import { removeDir, tempDir } from '../../../test/helpers/trees.ts';
import { upstreamPclusters, type Pcl } from './helpers/pclusters.ts';

let dir = '';
const pcls: Pcl[] = [];
test.before(() => {
  dir = tempDir('ishare-lz4-');
  pcls.push(...upstreamPclusters(dir, ['-zlz4hc'], Z_ALG.LZ4));
});
test.after.always(() => removeDir(dir));

type Decoder = (typeof lz4Options)['decoder'];
const DECODERS: readonly Decoder[] = ['wasm', 'napi', 'js'];

function decode(p: Pcl, which: Decoder, decodedLength: number, partial: boolean, input = p.raw.slice()): Uint8Array {
  const out = new Uint8Array(decodedLength).fill(0x5a);
  lz4Options.decoder = which;
  try {
    zDecompress({
      alg: Z_ALG.LZ4,
      input,
      out,
      decodedLength,
      skip: 0,
      interlacedOffset: 0,
      partial,
      blockSize: 4096,
      zeroPadding: true,
      nid: 7,
    });
  } finally {
    lz4Options.decoder = 'wasm';
  }
  return out;
}

test('every lz4 pcluster of an upstream image: every decoder gives the same bytes; a partial decode is their prefix', (t) => {
  t.true(pcls.length >= 10, `${pcls.length} lz4 pclusters`);
  // Every 4th pcluster keeps the test cheap; the fuzzer and the compressed matrix cover the rest.
  for (const [i, p] of pcls.entries()) {
    if (i % 4 !== 0) continue;
    const whole = Buffer.from(decode(p, 'napi', p.llen, false));
    for (const which of DECODERS) {
      t.true(Buffer.from(decode(p, which, p.llen, false)).equals(whole), `pcluster ${i}: ${which} vs lz4-napi`);
      for (const n of [1, 4095, Math.floor(p.llen / 3), p.llen - 1]) {
        if (n < 1 || n >= p.llen) continue;
        t.true(
          Buffer.from(decode(p, which, n, true)).equals(whole.subarray(0, n)),
          `pcluster ${i}: ${which} partial ${n}`,
        );
      }
      // Asked for more than the block holds: refused, not padded.
      t.throws(() => decode(p, which, p.llen + 1, false), { message: /decoded \d+ bytes, expected/ });
      // Asked for less as a whole block: the block encodes more than the extent.
      t.throws(() => decode(p, which, p.llen - 1, false), { message: /undecodable/ });
    }
  }
});

test('damaged lz4 blocks: a typed error or the exact length from every decoder, never another exception', (t) => {
  let seed = 12345;
  const rnd = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  let refused = 0;
  for (const p of pcls.slice(0, 40)) {
    for (let k = 0; k < 12; k++) {
      const input = p.raw.slice();
      if (k % 3 === 0) {
        const cut = input.subarray(0, 1 + rnd(input.length - 1));
        for (const which of DECODERS) {
          try {
            t.is(decode(p, which, p.llen, false, cut.slice()).length, p.llen);
          } catch (e) {
            t.true(isErofsError(e), String(e));
            refused++;
          }
        }
        continue;
      }
      for (let f = 0; f < 1 + rnd(4); f++) input[rnd(input.length)] ^= 1 << rnd(8);
      for (const which of DECODERS) {
        for (const partial of [false, true]) {
          try {
            t.is(decode(p, which, p.llen, partial, input.slice()).length, p.llen);
          } catch (e) {
            t.true(isErofsError(e), String(e));
            refused++;
          }
        }
      }
    }
  }
  t.true(refused > 0);
});

test('lz4DecodeBlock: input overrun, bad offsets and overflow are errors; partial stops at the bound', (t) => {
  const dst = new Uint8Array(32);
  // 15+ literals whose length byte is missing; literals running past the input.
  t.is(lz4DecodeBlock(Uint8Array.from([0xf0]), 0, 1, dst, 0, 32, false), LZ4_E_INPUT);
  t.is(lz4DecodeBlock(Uint8Array.from([0x50, 1, 2]), 0, 3, dst, 0, 32, false), LZ4_E_INPUT);
  // A match before the start of the output (offset 2 after 1 literal), and offset 0.
  t.is(lz4DecodeBlock(Uint8Array.from([0x10, 9, 2, 0, 0x10, 9]), 0, 6, dst, 0, 32, false), LZ4_E_OFFSET);
  t.is(lz4DecodeBlock(Uint8Array.from([0x10, 9, 0, 0, 0x10, 9]), 0, 6, dst, 0, 32, false), LZ4_E_OFFSET);
  // An overlapping match (offset 1, length 4) then a literal: 6 bytes; into 5 whole is an overflow,
  // into 5 partial is the first 5.
  const blk = Uint8Array.from([0x10, 9, 1, 0, 0x10, 7]);
  t.is(lz4DecodeBlock(blk, 0, blk.length, dst, 0, 32, false), 6);
  t.deepEqual([...dst.subarray(0, 6)], [9, 9, 9, 9, 9, 7]);
  t.is(lz4DecodeBlock(blk, 0, blk.length, dst, 0, 5, false), LZ4_E_OVERFLOW);
  dst.fill(0);
  t.is(lz4DecodeBlock(blk, 0, blk.length, dst, 0, 5, true), 5);
  t.deepEqual([...dst.subarray(0, 6)], [9, 9, 9, 9, 9, 0]);
  // Long copies (set / copyWithin) land where byte copies would: 30 literals, then a 40-byte match at 30.
  const lits = Array.from({ length: 30 }, (_, i) => i + 1);
  const long = Uint8Array.from([0xff, 15, ...lits, 30, 0, 21]);
  const big = new Uint8Array(80);
  t.is(lz4DecodeBlock(long, 0, long.length, big, 0, 80, false), 70);
  t.deepEqual([...big.subarray(30, 70)], [...lits, ...lits.slice(0, 10)]);
});

test('lz4.wat: the same errors and bounds as lz4DecodeBlock on hand-made blocks', (t) => {
  const dec = (b: number[], n: number, partial: boolean): number =>
    lz4WasmDecode(Uint8Array.from(b), 0, b.length, n, partial);
  t.is(dec([0xf0], 32, false), LZ4_E_INPUT);
  t.is(dec([0x50, 1, 2], 32, false), LZ4_E_INPUT);
  t.is(dec([0x10, 9, 2, 0, 0x10, 9], 32, false), LZ4_E_OFFSET);
  t.is(dec([0x10, 9, 0, 0, 0x10, 9], 32, false), LZ4_E_OFFSET);
  // A match offset whose second byte is missing.
  t.is(dec([0x10, 9, 1], 32, false), LZ4_E_INPUT);
  const blk = [0x10, 9, 1, 0, 0x10, 7];
  t.is(dec(blk, 32, false), 6);
  t.deepEqual([...lz4WasmOutput(0, 6)], [9, 9, 9, 9, 9, 7]);
  t.is(dec(blk, 5, false), LZ4_E_OVERFLOW);
  t.is(dec(blk, 5, true), 5);
  t.deepEqual([...lz4WasmOutput(0, 5)], [9, 9, 9, 9, 9]);
  // Long literals (memory.copy), a long non-overlapping match, and overlapping ones of period 3 and 9
  // (byte and 8-byte copies): compared with lz4DecodeBlock.
  const lits = Array.from({ length: 30 }, (_, i) => i + 1);
  for (const b of [
    [0xff, 15, ...lits, 30, 0, 21],
    [0xff, 15, ...lits, 3, 0, 40],
    [0xff, 15, ...lits, 9, 0, 40, 0x50, 1, 2, 3, 4, 5],
    [0xff, 15, ...lits, 9, 0, 3],
  ]) {
    const want = new Uint8Array(200);
    const n = lz4DecodeBlock(Uint8Array.from(b), 0, b.length, want, 0, 200, false);
    t.true(n > 0);
    t.is(dec(b, n, false), n);
    t.deepEqual([...lz4WasmOutput(0, n)], [...want.subarray(0, n)]);
    for (const m of [1, 7, 17, 31, n - 1]) {
      t.is(dec(b, m, true), m);
      t.deepEqual([...lz4WasmOutput(0, m)], [...want.subarray(0, m)]);
    }
  }
});

test('the committed WebAssembly module is the assembly of lz4.wat (scripts/lz4-wasm.ts)', async (t) => {
  t.is(LZ4_WASM_BASE64, Buffer.from(await assembleLz4Wat()).toString('base64'));
});
