// LZ4 decoder micro-bench (each candidate ends with the bytes in the caller's buffer: the wasm one
// copies out of its memory, lz4-napi out of the Buffer it returns): every lz4 pcluster of the given images (built by mkfs.erofs -zlz4 / -zlz4hc),
// decoded whole by each candidate into a caller's buffer of the exact decoded size, rounds interleaved
// so machine load hits every candidate alike; prints the median MiB (decoded) per CPU-second per candidate (CPU
// time, not wall: the figure holds on a busy machine) and
// checks that every candidate's output equals the first's.
// LZ4_BASE_WAT=FILE adds another lz4.wat (another checkout's, say) as a candidate, for a side-by-side
// before/after of the WebAssembly decoder in one process.
// Usage: tsx bench/lz4-micro.ts IMG... [--rounds N]
import { openSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { ErofsImage } from '../packages/core/src/erofs/image.ts';
import { FileSource } from '../packages/core/src/erofs/source.ts';
import {
  newZMapOut,
  ZF_FRAGMENT,
  ZF_FULL_MAPPED,
  ZF_MAPPED,
  ZF_META,
  ZF_PARTIAL_REF,
} from '../packages/core/src/erofs/zmap.ts';
import { Z_ALG } from '../packages/core/src/erofs/format.ts';
import { lz4DecodeBlock } from '../packages/core/src/erofs/lz4.ts';
import { lz4WasmDecode, lz4WasmOutput } from '../packages/core/src/erofs/lz4wasm.ts';
import type { ErofsInode } from '../packages/core/src/erofs/types.ts';

// lz4js is packages/core's dependency, not the root's.
const lz4js = createRequire(new URL('../packages/core/package.json', import.meta.url))('lz4js') as {
  decompressBlock(src: Uint8Array, dst: Uint8Array, s: number, n: number, d: number): number;
};

const lz4napi = createRequire(new URL('../packages/core/package.json', import.meta.url))('lz4-napi') as {
  uncompressSync(d: Uint8Array): Buffer;
};

interface Job {
  src: Uint8Array;
  /** The block behind its decoded size (lz4-napi's input; made in the zero padding by decompress.ts). */
  framed: Uint8Array;
  out: number;
}

const args = process.argv.slice(2);
let rounds = 9;
const images: string[] = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--rounds') rounds = Number(args[++i]);
  else images.push(args[i]);
}
if (images.length === 0) {
  process.stderr.write('usage: tsx bench/lz4-micro.ts IMG... [--rounds N]\n');
  process.exit(2);
}

const jobs: Job[] = [];
for (const path of images) {
  const img = new ErofsImage(new FileSource(path, openSync(path, 'r')), path);
  const walk = (dir: ErofsInode): void => {
    for (const e of img.readdir(dir)) {
      if (e.name === '.' || e.name === '..') continue;
      const ino = img.inode(e.nid);
      if (ino.type === 'dir') walk(ino);
      else if (ino.type === 'file' && ino.compressed) {
        const zm = img.zmapper(ino);
        const m = newZMapOut();
        for (let pos = 0; pos < ino.size; pos = m.la + m.llen) {
          zm.mapFull(pos, m);
          const plain = ZF_MAPPED | ZF_FULL_MAPPED;
          if (m.alg !== Z_ALG.LZ4 || (m.flags & plain) !== plain || m.flags & (ZF_FRAGMENT | ZF_META | ZF_PARTIAL_REF))
            continue;
          const raw = new Uint8Array(m.plen);
          img.source.read(raw, m.pa);
          let z = 0;
          while (raw[z] === 0) z++;
          const framed = new Uint8Array(m.plen - z + 4);
          framed.set(raw.subarray(z), 4);
          new DataView(framed.buffer).setUint32(0, m.llen, true);
          jobs.push({ src: raw.subarray(z), framed, out: m.llen });
        }
      }
    }
  };
  walk(img.root());
}
const total = jobs.reduce((n, j) => n + j.out, 0);
process.stdout.write(`${jobs.length} lz4 pclusters, ${(total / 2 ** 20).toFixed(1)} MiB decoded per round\n`);

type Decoder = (j: Job, dst: Uint8Array) => number;
const candidates: [string, Decoder][] = [
  [
    'lz4js (zeroed output, as before)',
    (j, dst) => {
      dst.fill(0);
      return lz4js.decompressBlock(j.src, dst, 0, j.src.length, 0);
    },
  ],
  [
    'lz4-napi (lz4_flex; 4-byte size prefix)',
    (j, dst) => {
      const o = lz4napi.uncompressSync(j.framed);
      dst.set(o);
      return o.length;
    },
  ],
  [
    'ours, WebAssembly (erofs/lz4.wat)',
    (j, dst) => {
      const n = lz4WasmDecode(j.src, 0, j.src.length, j.out, false);
      if (n > 0) dst.set(lz4WasmOutput(0, n));
      return n;
    },
  ],
  ['ours (erofs/lz4.ts)', (j, dst) => lz4DecodeBlock(j.src, 0, j.src.length, dst, 0, j.out, false)],
];

const baseWat = process.env.LZ4_BASE_WAT;
if (baseWat !== undefined) {
  const wabtInit = createRequire(new URL('../packages/core/package.json', import.meta.url))('wabt') as () => Promise<{
    parseWat(
      name: string,
      text: string,
      features: Record<string, boolean>,
    ): { validate(): void; toBinary(o: object): { buffer: Uint8Array }; destroy(): void };
  }>;
  const wabt = await wabtInit();
  const mod = wabt.parseWat(baseWat, readFileSync(baseWat, 'utf8'), { bulk_memory: true, simd: true });
  mod.validate();
  const bin = Uint8Array.from(mod.toBinary({}).buffer);
  mod.destroy();
  const inst = new WebAssembly.Instance(new WebAssembly.Module(bin), {}).exports as unknown as {
    memory: WebAssembly.Memory;
    dec: (s: number, s1: number, d: number, d1: number, partial: number) => number;
  };
  // The layout of lz4wasm.ts: input at 0, output above it, 32 bytes of slack after each.
  let heap = new Uint8Array(inst.memory.buffer);
  candidates.push([
    `${baseWat} (LZ4_BASE_WAT)`,
    (j, dst) => {
      const n = j.src.length;
      const output = (n + 32 + 15) & ~15;
      if (heap.length < output + j.out + 32) {
        inst.memory.grow(Math.ceil((output + j.out + 32 - heap.length) / 65536));
        heap = new Uint8Array(inst.memory.buffer);
      }
      heap.set(j.src, 0);
      const r = inst.dec(0, n, output, output + j.out, 0);
      if (r > 0) dst.set(heap.subarray(output, output + r));
      return r;
    },
  ]);
}

const outs = jobs.map((j) => new Uint8Array(j.out));
const ref = jobs.map((j) => new Uint8Array(j.out));
for (let i = 0; i < jobs.length; i++) candidates[0][1](jobs[i], ref[i]);
const times: number[][] = candidates.map(() => []);
for (let r = 0; r < rounds; r++) {
  candidates.forEach(([name, dec], c) => {
    const t0 = process.cpuUsage();
    for (let i = 0; i < jobs.length; i++) {
      if (dec(jobs[i], outs[i]) !== jobs[i].out) throw new Error(`${name}: wrong length on pcluster ${i}`);
    }
    const u = process.cpuUsage(t0);
    times[c].push((u.user + u.system) / 1e6);
    if (r === 0) {
      for (let i = 0; i < jobs.length; i++)
        if (Buffer.compare(outs[i], ref[i]) !== 0) throw new Error(`${name}: wrong bytes on pcluster ${i}`);
    }
  });
}
const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[xs.length >> 1];
candidates.forEach(([name], c) => {
  const t = median(times[c]);
  process.stdout.write(
    `${name.padEnd(40)} ${(total / 2 ** 20 / t).toFixed(0).padStart(6)} MiB per CPU-second (median of ${rounds})\n`,
  );
});
