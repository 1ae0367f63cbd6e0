// The zstd decoders behind zDecompress — libzstd in WebAssembly (zstdwasm.ts, the module zstddec ships)
// and fzstd — on every zstd pcluster upstream mkfs.erofs writes for a small tree: the same bytes, whole
// and as a prefix; damaged frames give a typed error or the exact length from both, never another
// exception; asked for more or less than the frame holds, both refuse.
import test from 'ava';
import { Z_ALG } from '@ishare/core/format';
import { isErofsError } from '@ishare/core';
import { zDecompress, zstdOptions } from '../src/erofs/decompress.ts';
import { zstdWasmAvailable } from '../src/erofs/zstdwasm.ts';
import { removeDir, tempDir } from '../../../test/helpers/trees.ts';
import { upstreamPclusters, type Pcl } from './helpers/pclusters.ts';

type Decoder = (typeof zstdOptions)['decoder'];
const DECODERS: readonly Decoder[] = ['wasm', 'js'];

let dir = '';
const pcls: Pcl[] = [];
test.before(() => {
  dir = tempDir('ishare-zstd-');
  pcls.push(...upstreamPclusters(dir, ['-zzstd', '-C16384'], Z_ALG.ZSTD));
});
test.after.always(() => removeDir(dir));

function decode(p: Pcl, which: Decoder, decodedLength: number, partial: boolean, input = p.raw.slice()): Uint8Array {
  const out = new Uint8Array(decodedLength).fill(0x5a);
  zstdOptions.decoder = which;
  try {
    zDecompress({
      alg: Z_ALG.ZSTD,
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
    zstdOptions.decoder = 'wasm';
  }
  return out;
}

test("the WebAssembly zstd decoder loads from zstddec's published module", (t) => {
  t.true(zstdWasmAvailable());
});

test('every zstd pcluster of an upstream image: both decoders give the same bytes, whole and as a prefix', (t) => {
  t.true(pcls.length >= 10, `${pcls.length} zstd pclusters`);
  for (const [i, p] of pcls.entries()) {
    if (i % 3 !== 0) continue;
    const whole = Buffer.from(decode(p, 'js', p.llen, false));
    t.true(Buffer.from(decode(p, 'wasm', p.llen, false)).equals(whole), `pcluster ${i}: zstddec vs fzstd`);
    for (const n of [1, Math.floor(p.llen / 3), p.llen - 1]) {
      if (n < 1 || n >= p.llen) continue;
      for (const which of DECODERS)
        t.true(Buffer.from(decode(p, which, n, true)).equals(whole.subarray(0, n)), `pcluster ${i}: ${which} ${n}`);
    }
    for (const which of DECODERS) {
      t.throws(() => decode(p, which, p.llen + 1, false), { message: /expected/ }, `${which}: more`);
      t.throws(() => decode(p, which, p.llen - 1, false), { message: /expected/ }, `${which}: less`);
    }
  }
});

test('damaged zstd frames: a typed error or the exact length from both decoders, never another exception', (t) => {
  let seed = 4242;
  const rnd = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  let refused = 0;
  for (const p of pcls.slice(0, 30)) {
    for (let k = 0; k < 8; k++) {
      const input = p.raw.slice();
      const data = input.findIndex((b) => b !== 0);
      if (k % 4 === 0) {
        input.fill(0, data + rnd(input.length - data));
      } else {
        for (let f = 0; f < 1 + rnd(4); f++) input[data + rnd(input.length - data)] ^= 1 << rnd(8);
      }
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
