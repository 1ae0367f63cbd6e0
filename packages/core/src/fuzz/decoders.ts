// The decoders fuzzed directly, one against another, on mutated blocks (no image around them):
//   lz4   lz4.wat (lz4wasm.ts, the data path's), lz4.ts and lz4-napi (whole blocks only) on a mutated
//         LZ4 block and a requested output size (exact, off by some, or a prefix for partial decodes):
//         every decoder returns the same bytes, exactly that many, or every one refuses. The input is
//         laid between poison bytes and the output inside poisoned guards, each decode run twice with
//         other poison: a result that depends on bytes past the input or on what the output held before
//         (a decoder reading past its input, or needing its output zeroed), or a guard byte changed
//         (a write outside the output), is an out-of-bounds finding.
//   zstd  zDecompress with zstdOptions.decoder 'wasm' (libzstd, zstdwasm.ts) and 'js' (fzstd) on a
//         mutated frame, whole and partial requests: the same bytes or both a typed ErofsError.
//   deflate zDecompress with deflateOptions.decoder 'handle' (a kept zlib handle, inflate.ts) and 'sync'
//         (zlib.inflateRawSync) on a mutated raw deflate stream: the same bytes or both refuse.
//   lzma  lzma.ts called directly between poisoned input margins and output guards, twice with other
//         poison (reads past the input, writes outside the output, a need for zeroed output show as
//         out-of-bounds findings, as for lz4.ts), against zDecompress as zread.ts calls it: the same
//         bytes or both refuse. (There is no second MicroLZMA decoder in the project: the differential
//         pass against upstream fsck.erofs, liblzma, checks the bytes.)
// Anything else thrown is a crash. `scripts/fuzz-decoders.ts` runs it at scale; CI samples it
// (test/fuzz-decoders.test.ts).
import { createRequire } from 'node:module';
import { ErofsError } from '../erofs/errors.ts';
import { Z_ALG, Z_LZMA_MAX_DICT } from '../erofs/format.ts';
import { type ErofsImage } from '../erofs/image.ts';
import { deflateOptions, zDecompress, zstdOptions } from '../erofs/decompress.ts';
import { lz4DecodeBlock } from '../erofs/lz4.ts';
import { microLzmaDecode } from '../erofs/lzma.ts';
import { lz4WasmDecode, lz4WasmLayout, lz4WasmOutput } from '../erofs/lz4wasm.ts';
import { newZMapOut, ZF_FRAGMENT, ZF_FULL_MAPPED, ZF_META } from '../erofs/zmap.ts';
import { imageRng, type Prng } from './prng.ts';

/** One compressed block and what it decodes to (its extent's length), zero padding stripped. */
export type CodecAlg = 'lz4' | 'zstd' | 'deflate' | 'lzma';

export interface CodecBlock {
  readonly alg: CodecAlg;
  readonly bytes: Uint8Array;
  readonly length: number;
}

const CODEC_ALGS = new Map<number, CodecAlg>([
  [Z_ALG.LZ4, 'lz4'],
  [Z_ALG.ZSTD, 'zstd'],
  [Z_ALG.DEFLATE, 'deflate'],
  [Z_ALG.LZMA, 'lzma'],
]);

/** Every lz4, zstd, deflate and lzma pcluster an image maps (whole extents, not fragments or inline ones). */
export function collectBlocks(img: ErofsImage): CodecBlock[] {
  const out: CodecBlock[] = [];
  const walk = (nid: number, depth: number): void => {
    if (depth > 64) return;
    for (const e of img.readdir(img.inode(nid))) {
      if (e.name === '.' || e.name === '..') continue;
      const ino = img.inode(e.nid);
      if (ino.type === 'dir') walk(e.nid, depth + 1);
      if (ino.type !== 'file' || !ino.compressed) continue;
      const zm = img.zmapper(ino);
      const m = newZMapOut();
      for (let pos = 0; pos < ino.size; pos = m.la + m.llen) {
        zm.mapFull(pos, m);
        if (m.llen <= 0) break;
        const alg = CODEC_ALGS.get(m.alg);
        if (alg === undefined || !(m.flags & ZF_FULL_MAPPED)) continue;
        if (m.flags & (ZF_FRAGMENT | ZF_META)) continue;
        const raw = new Uint8Array(m.plen);
        img.source.read(raw, m.pa);
        let z = 0;
        while (z < raw.length && raw[z] === 0) z++;
        if (z === raw.length) continue;
        // Without 0padding (legacy lz4) a pcluster may encode more than the extent: a prefix decode.
        out.push({ alg, bytes: raw.slice(z), length: m.llen });
      }
    }
  };
  walk(img.root().nid, 0);
  return out;
}

/** LZ4 blocks of seeded data (text-like, runs, random, mixed) compressed by lz4-napi, when it loads. */
export function syntheticLz4Blocks(seed: number, count: number): CodecBlock[] {
  const napi = lz4Napi();
  if (napi === null) return [];
  const out: CodecBlock[] = [];
  for (let i = 0; i < count; i++) {
    const r = imageRng(seed ^ 0x1f4, i);
    const n = r.pick([1, 5, 16, 64, 300, 4096, 4096, 16384, 65536]);
    const data = new Uint8Array(n);
    const words = ['erofs ', 'pcluster ', 'lz4 ', '\0\0\0\0', 'abcabcabc', '\n'];
    for (let j = 0; j < n;) {
      const kind = r.int(4);
      const run = Math.min(n - j, 1 + r.int(64));
      for (let k = 0; k < run; k++, j++) {
        if (kind === 0) data[j] = r.int(256);
        else if (kind === 1) data[j] = 0x41 + (j % 3);
        else {
          const w = words[(j >> 4) % words.length];
          data[j] = w.charCodeAt(j % w.length);
        }
      }
    }
    const framed = napi.compressSync(Buffer.from(data));
    out.push({ alg: 'lz4', bytes: new Uint8Array(framed.subarray(4)), length: n });
  }
  return out;
}

interface Lz4Napi {
  compressSync(data: Buffer): Buffer;
  uncompressSync(data: Uint8Array): Buffer;
}
let napiLib: Lz4Napi | null | undefined;
function lz4Napi(): Lz4Napi | null {
  if (napiLib === undefined) {
    try {
      napiLib = createRequire(import.meta.url)('lz4-napi') as Lz4Napi;
    } catch {
      napiLib = null;
    }
  }
  return napiLib;
}

/** A decoder's answer: the bytes, a refusal, or a finding. */
type Answer =
  | { readonly kind: 'bytes'; readonly bytes: Uint8Array }
  | { readonly kind: 'refuse'; readonly why: string }
  | { readonly kind: 'crash' | 'oob'; readonly why: string };

export interface DecoderCase {
  readonly index: number;
  readonly alg: CodecAlg;
  readonly input: Uint8Array;
  readonly length: number;
  readonly partial: boolean;
  readonly mutations: readonly string[];
}

export interface DecoderFinding {
  readonly index: number;
  readonly alg: CodecAlg;
  readonly kind: 'crash' | 'oob' | 'disagree';
  readonly detail: string;
  readonly length: number;
  readonly partial: boolean;
  readonly mutations: readonly string[];
  /** The mutated block, hex (for a regression test). */
  readonly input: string;
}

export interface DecoderFuzzReport {
  readonly seed: number;
  readonly cases: number;
  readonly lz4: { cases: number; sameBytes: number; allRefused: number; napiCompared: number };
  /** `lenient`: libzstd refused a frame fzstd decoded (fzstd misses corruption; it is only a fallback). */
  readonly zstd: { cases: number; sameBytes: number; allRefused: number; lenient: number };
  readonly deflate: { cases: number; sameBytes: number; allRefused: number };
  readonly lzma: { cases: number; sameBytes: number; allRefused: number };
  readonly findings: DecoderFinding[];
  readonly elapsedMs: number;
}

/** Where an LZ4 block's sequences are: each token, its match offset field and the output position there. */
function lz4Sequences(b: Uint8Array): { token: number; offset: number; out: number }[] {
  const seqs: { token: number; offset: number; out: number }[] = [];
  let s = 0;
  let d = 0;
  while (s < b.length) {
    const token = s;
    let lit = b[s++] >>> 4;
    if (lit === 15) {
      let x: number;
      do {
        if (s >= b.length) return seqs;
        x = b[s++];
        lit += x;
      } while (x === 255);
    }
    s += lit;
    d += lit;
    if (s + 2 > b.length) return seqs;
    seqs.push({ token, offset: s, out: d });
    s += 2;
    let len = b[token] & 15;
    if (len === 15) {
      let x: number;
      do {
        if (s >= b.length) return seqs;
        x = b[s++];
        len += x;
      } while (x === 255);
    }
    d += len + 4;
  }
  return seqs;
}

function mutate(r: Prng, src: Uint8Array, lz4: boolean, log: string[]): Uint8Array {
  let b = src.slice();
  // LZ4 blocks: match offsets at and around the edge of what is written, lengths that run over.
  if (lz4 && r.chance(0.35)) {
    const seqs = lz4Sequences(b);
    if (seqs.length > 0) {
      const q = r.pick(seqs);
      if (r.chance(0.6)) {
        const v = r.pick([0, q.out, q.out + 1, q.out + 1 + r.int(64), 1, 0xffff]) & 0xffff;
        b[q.offset] = v & 0xff;
        b[q.offset + 1] = v >>> 8;
        log.push(`lz4 offset @${q.offset}=${v} (written ${q.out})`);
      } else {
        const v = r.pick([0xff, 0x0f, 0xf0, (b[q.token] & 0xf0) | r.int(16), (b[q.token] & 0x0f) | (r.int(16) << 4)]);
        b[q.token] = v;
        log.push(`lz4 token @${q.token}=${v}`);
      }
      if (r.chance(0.7)) return b;
    }
  }
  const n = r.chance(0.1) ? 0 : 1 + (r.chance(0.7) ? 0 : r.int(4));
  for (let k = 0; k < n; k++) {
    const op = r.weighted([
      [30, 'bitflip'],
      [20, 'byte'],
      [10, 'token'],
      [10, 'offset'],
      [10, 'truncate'],
      [6, 'extend'],
      [8, 'splice'],
      [6, 'run255'],
    ] as const);
    if (b.length === 0) break;
    const at = r.int(b.length);
    switch (op) {
      case 'bitflip':
        b[at] ^= 1 << r.int(8);
        log.push(`bitflip @${at}`);
        break;
      case 'byte': {
        const v = r.pick([0, 1, 0x0f, 0x10, 0xf0, 0xff, 0x7f, 0x80, r.int(256)]);
        b[at] = v;
        log.push(`byte @${at}=${v}`);
        break;
      }
      case 'token': {
        // An LZ4 token's nibbles, or a zstd header's bits: lengths that continue, or none.
        const v = r.pick([0xff, 0xf0, 0x0f, 0x00, 0x1f, 0xf1]);
        b[at] = v;
        log.push(`token @${at}=${v}`);
        break;
      }
      case 'offset': {
        const v = r.pick([0, 1, 2, 7, 8, 15, 16, 0xffff, 0x8000, r.int(65536)]);
        b[at] = v & 0xff;
        if (at + 1 < b.length) b[at + 1] = v >>> 8;
        log.push(`u16 @${at}=${v}`);
        break;
      }
      case 'truncate': {
        const cut = r.chance(0.5) ? 1 + r.int(Math.min(8, b.length)) : r.int(b.length + 1);
        const front = r.chance(0.2);
        b = front ? b.slice(Math.min(cut, b.length)) : b.slice(0, b.length - Math.min(cut, b.length));
        log.push(`truncate ${front ? 'front' : 'end'} ${cut}`);
        break;
      }
      case 'extend': {
        const add = 1 + r.int(32);
        const e = new Uint8Array(b.length + add);
        e.set(b);
        for (let i = b.length; i < e.length; i++) e[i] = r.chance(0.5) ? 0 : r.int(256);
        b = e;
        log.push(`extend ${add}`);
        break;
      }
      case 'splice': {
        const len = 1 + r.int(Math.min(64, b.length));
        const from = r.int(b.length - len + 1);
        const to = r.int(b.length - len + 1);
        b.copyWithin(to, from, from + len);
        log.push(`splice ${from}+${len}->${to}`);
        break;
      }
      case 'run255': {
        const len = 1 + r.int(8);
        for (let i = at; i < Math.min(b.length, at + len); i++) b[i] = 255;
        log.push(`run255 @${at}+${len}`);
        break;
      }
    }
  }
  return b;
}

function pickLength(r: Prng, length: number, partial: boolean, log: string[]): number {
  if (partial) {
    const l = r.chance(0.2) ? length : r.int(length + 1);
    log.push(`partial ${l} of ${length}`);
    return l;
  }
  const l = r.weighted([
    [70, length],
    [8, length + 1],
    [8, Math.max(0, length - 1)],
    [7, r.int(2 * length + 2)],
    [4, 0],
    [3, length + 4096],
  ] as const);
  if (l !== length) log.push(`asked ${l} of ${length}`);
  return l;
}

/** Build case `index` of a run (a pure function of the blocks, the seed and the index). */
export function decoderCase(blocks: readonly CodecBlock[], seed: number, index: number): DecoderCase {
  const r = imageRng(seed, index);
  // Each algorithm present gets an equal share of the cases, whatever the count of its blocks.
  const algs = [...new Set(blocks.map((b) => b.alg))].sort();
  const alg = r.pick(algs);
  const blk = r.pick(blocks.filter((b) => b.alg === alg));
  const log: string[] = [];
  const input = mutate(r, blk.bytes, blk.alg === 'lz4', log);
  const partial = r.chance(0.3);
  const length = pickLength(r, blk.length, partial, log);
  return { index, alg: blk.alg, input, length, partial, mutations: log };
}

const GUARD = 64;

function thrown(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/** lz4.ts with poisoned input tail and output guards; twice with other poison, the same answer. */
function lz4Js(c: DecoderCase): Answer {
  let first: Answer | null = null;
  for (const poison of [0xa5, 0x00]) {
    const n = c.input.length;
    const src = new Uint8Array(GUARD + n + GUARD).fill(poison);
    src.set(c.input, GUARD);
    const dst = new Uint8Array(GUARD + c.length + GUARD).fill(poison ^ 0xff);
    let r: number;
    try {
      r = lz4DecodeBlock(src, GUARD, GUARD + n, dst, GUARD, GUARD + c.length, c.partial);
    } catch (e) {
      return { kind: 'crash', why: `lz4.ts threw ${thrown(e)}` };
    }
    for (let i = 0; i < dst.length; i++) {
      if ((i < GUARD || i >= GUARD + c.length) && dst[i] !== (poison ^ 0xff))
        return { kind: 'oob', why: `lz4.ts wrote output guard byte ${i - GUARD}` };
    }
    const a: Answer =
      r === c.length
        ? { kind: 'bytes', bytes: dst.slice(GUARD, GUARD + c.length) }
        : { kind: 'refuse', why: `lz4.ts ${r}` };
    if (first === null) first = a;
    else if (!same(first, a))
      return { kind: 'oob', why: 'lz4.ts: the answer depends on bytes past the input or in the output before' };
  }
  return first!;
}

/**
 * lzma.ts with poisoned input margins and output guards; twice with other poison, the same answer. The
 * leading zeros are skipped first, as zread.ts's zero padding is (z_erofs_fixup_insize).
 */
function lzmaJs(c: DecoderCase): Answer {
  let z = 0;
  while (z < c.input.length && c.input[z] === 0) z++;
  const stream = c.input.subarray(z);
  let first: Answer | null = null;
  for (const poison of [0xa5, 0x00]) {
    const n = stream.length;
    const src = new Uint8Array(GUARD + n + GUARD).fill(poison);
    src.set(stream, GUARD);
    const dst = new Uint8Array(GUARD + c.length + GUARD).fill(poison ^ 0xff);
    let r: number;
    try {
      r = microLzmaDecode(src, GUARD, GUARD + n, dst, GUARD, GUARD + c.length, !c.partial, Z_LZMA_MAX_DICT);
    } catch (e) {
      return { kind: 'crash', why: `lzma.ts threw ${thrown(e)}` };
    }
    for (let i = 0; i < dst.length; i++) {
      if ((i < GUARD || i >= GUARD + c.length) && dst[i] !== (poison ^ 0xff))
        return { kind: 'oob', why: `lzma.ts wrote output guard byte ${i - GUARD}` };
    }
    const a: Answer =
      r === 0 ? { kind: 'bytes', bytes: dst.slice(GUARD, GUARD + c.length) } : { kind: 'refuse', why: `lzma.ts ${r}` };
    if (first === null) first = a;
    else if (!same(first, a))
      return { kind: 'oob', why: 'lzma.ts: the answer depends on bytes past the input or in the output before' };
  }
  return first!;
}

/** lz4.wat: everything in its memory but the input poisoned; the answer must not depend on the poison. */
function lz4Wasm(c: DecoderCase): Answer {
  let first: Answer | null = null;
  for (const poison of [0x5a, 0xff, 0x00]) {
    const n = c.input.length;
    let r: number;
    let at: { memory: Uint8Array; output: number; end: number };
    try {
      at = lz4WasmLayout(n, c.length);
      const guardEnd = Math.min(at.memory.length, at.end + GUARD);
      at.memory.fill(poison, 0, guardEnd);
      r = lz4WasmDecode(c.input, 0, n, c.length, c.partial);
      at = lz4WasmLayout(n, c.length);
      const mem = at.memory;
      // Below the output only the input (copied in by lz4WasmDecode) may differ from the poison.
      for (let i = n; i < at.output; i++)
        if (mem[i] !== poison) return { kind: 'oob', why: `lz4.wat wrote ${i - at.output} bytes before its output` };
      for (let i = at.end; i < guardEnd; i++)
        if (mem[i] !== poison)
          return { kind: 'oob', why: `lz4.wat wrote past its output's slack at +${i - at.output}` };
    } catch (e) {
      return { kind: 'crash', why: `lz4.wat threw ${thrown(e)}` };
    }
    const a: Answer =
      r === c.length
        ? { kind: 'bytes', bytes: lz4WasmOutput(0, c.length).slice() }
        : { kind: 'refuse', why: `lz4.wat ${r}` };
    if (first === null) first = a;
    else if (!same(first, a))
      return { kind: 'oob', why: 'lz4.wat: the answer depends on bytes past the input or in the output before' };
  }
  return first!;
}

/** lz4-napi (lz4_flex) as decompress.ts calls it: whole blocks, the size as a 4-byte prefix. */
function lz4NapiDecode(c: DecoderCase): Answer | null {
  const napi = lz4Napi();
  if (napi === null || c.partial) return null;
  const framed = new Uint8Array(4 + c.input.length);
  new DataView(framed.buffer).setUint32(0, c.length, true);
  framed.set(c.input, 4);
  let out: Buffer;
  try {
    out = napi.uncompressSync(framed);
  } catch (e) {
    return { kind: 'refuse', why: `lz4-napi ${thrown(e)}` };
  }
  return out.length === c.length
    ? { kind: 'bytes', bytes: new Uint8Array(out) }
    : { kind: 'refuse', why: `lz4-napi ${out.length} bytes` };
}

/** zDecompress as zread.ts calls it, with one zstd or deflate decoder selected (lzma has one). */
function zVia(c: DecoderCase, decoder: 'wasm' | 'js' | 'handle' | 'sync' | 'lzma'): Answer {
  const savedZstd = zstdOptions.decoder;
  const savedDeflate = deflateOptions.decoder;
  if (decoder === 'wasm' || decoder === 'js') zstdOptions.decoder = decoder;
  else if (decoder !== 'lzma') deflateOptions.decoder = decoder;
  try {
    // As zread.ts hands it over: the pcluster with its zero padding in front.
    const input = new Uint8Array(8 + c.input.length);
    input.set(c.input, 8);
    const out = new Uint8Array(c.length);
    const r = zDecompress({
      alg: c.alg === 'zstd' ? Z_ALG.ZSTD : c.alg === 'lzma' ? Z_ALG.LZMA : Z_ALG.DEFLATE,
      input,
      out,
      decodedLength: c.length,
      skip: 0,
      interlacedOffset: 0,
      partial: c.partial,
      blockSize: 4096,
      zeroPadding: true,
      nid: 0,
    });
    return { kind: 'bytes', bytes: r.slice() };
  } catch (e) {
    if (e instanceof ErofsError && !/[\r\n]/.test(e.message))
      return { kind: 'refuse', why: `${decoder}: ${e.message}` };
    return { kind: 'crash', why: `${c.alg} ${decoder} threw ${thrown(e)}` };
  } finally {
    zstdOptions.decoder = savedZstd;
    deflateOptions.decoder = savedDeflate;
  }
}

function same(a: Answer, b: Answer): boolean {
  if (a.kind === 'bytes' && b.kind === 'bytes') return Buffer.from(a.bytes).equals(Buffer.from(b.bytes));
  return a.kind === 'refuse' && b.kind === 'refuse';
}

function describe(name: string, a: Answer): string {
  return a.kind === 'bytes' ? `${name}: ${a.bytes.length} bytes` : `${name}: ${a.kind} (${a.why})`;
}

/** Run one case: null when every decoder agreed, else the finding. */
export function runDecoderCase(c: DecoderCase): {
  finding: DecoderFinding | null;
  agreed?: 'bytes' | 'refuse' | 'lenient';
  napi: boolean;
} {
  const answers: [string, Answer][] =
    c.alg === 'lz4'
      ? [
          ['lz4.wat', lz4Wasm(c)],
          ['lz4.ts', lz4Js(c)],
        ]
      : c.alg === 'zstd'
        ? [
            ['zstdwasm', zVia(c, 'wasm')],
            ['fzstd', zVia(c, 'js')],
          ]
        : c.alg === 'lzma'
          ? [
              ['lzma.ts', lzmaJs(c)],
              ['zDecompress lzma', zVia(c, 'lzma')],
            ]
          : [
              ['inflate handle', zVia(c, 'handle')],
              ['inflateRawSync', zVia(c, 'sync')],
            ];
  let napi = false;
  if (c.alg === 'lz4') {
    const a = lz4NapiDecode(c);
    if (a !== null) {
      answers.push(['lz4-napi', a]);
      napi = true;
    }
  }
  const finding = (kind: DecoderFinding['kind'], detail: string): DecoderFinding => ({
    index: c.index,
    alg: c.alg,
    kind,
    detail,
    length: c.length,
    partial: c.partial,
    mutations: c.mutations,
    input: Buffer.from(c.input).toString('hex'),
  });
  for (const [name, a] of answers) {
    if (a.kind === 'crash' || a.kind === 'oob') return { finding: finding(a.kind, `${name}: ${a.why}`), napi };
  }
  const [, a0] = answers[0];
  if (answers.every(([, a]) => same(a0, a)))
    return { finding: null, agreed: a0.kind === 'bytes' ? 'bytes' : 'refuse', napi };
  if (c.alg === 'zstd' && a0.kind === 'refuse' && answers[1][1].kind === 'bytes')
    return { finding: null, agreed: 'lenient', napi };
  return { finding: finding('disagree', answers.map(([n, a]) => describe(n, a)).join('; ')), napi };
}

/** `count` cases from `blocks` (seeded), every decoder on each; findings are listed, not thrown. */
export function fuzzDecoders(
  blocks: readonly CodecBlock[],
  opts: { seed: number; count: number; start?: number },
): DecoderFuzzReport {
  const t0 = performance.now();
  const lz4 = { cases: 0, sameBytes: 0, allRefused: 0, napiCompared: 0 };
  const zstd = { cases: 0, sameBytes: 0, allRefused: 0, lenient: 0 };
  const deflate = { cases: 0, sameBytes: 0, allRefused: 0 };
  const lzma = { cases: 0, sameBytes: 0, allRefused: 0 };
  const findings: DecoderFinding[] = [];
  if (blocks.length === 0) throw new RangeError('fuzzDecoders: no blocks');
  const start = opts.start ?? 0;
  for (let i = start; i < start + opts.count; i++) {
    const c = decoderCase(blocks, opts.seed, i);
    const { finding, agreed, napi } = runDecoderCase(c);
    const tally = c.alg === 'lz4' ? lz4 : c.alg === 'zstd' ? zstd : c.alg === 'lzma' ? lzma : deflate;
    tally.cases++;
    if (napi) lz4.napiCompared++;
    if (finding !== null) findings.push(finding);
    else if (agreed === 'bytes') tally.sameBytes++;
    else if (agreed === 'lenient') zstd.lenient++;
    else tally.allRefused++;
  }
  return {
    seed: opts.seed,
    cases: opts.count,
    lz4,
    zstd,
    deflate,
    lzma,
    findings,
    elapsedMs: performance.now() - t0,
  };
}
