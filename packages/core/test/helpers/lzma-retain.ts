// A child process for packages/core/test/lzma-retain.test.ts (run with --expose-gc): reads every file of
// an lzma image PASSES times, dropping the cache between passes, and prints one JSON line of what stayed
// after each pass.
//   main  on this thread, letting the event loop turn and the collector run after each pass (so only
//         memory something still references remains): the process's ArrayBuffer bytes;
//   pool  through a 2-worker ReaderPool, one readFiles per pass (each pass is new tasks), the workers
//         left to collect when they would: the process's resident size, as a user of the pool sees it.
import { System } from '../../src/index.ts';
import { ReaderPool } from '@ishare/workers';

const img = process.argv[2];
const passes = Number(process.argv[3]);
const mode = process.argv[4] === 'pool' ? 'pool' : 'main';
const gc = (globalThis as unknown as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));
const sys = System.create({ poolMiB: 32 });
const m = sys.mount(img).mount;
const files = sys.listFiles(m);
const paths = files.map((f) => f.path);
const pool = mode === 'pool' ? new ReaderPool(sys, { workers: 2 }) : undefined;
const after: number[] = [];
let bytes = 0;
try {
  for (let p = 0; p < passes; p++) {
    sys.dropCaches();
    if (pool !== undefined) {
      const r = await pool.readFiles(m, paths);
      if (r.errors.length > 0) throw new Error(r.errors[0]);
      bytes += r.bytes;
    } else {
      for (const f of files) {
        const o = sys.open(m, f.path);
        bytes += sys.readAll(o).length;
        sys.close(o);
      }
    }
    await settle();
    gc();
    await settle();
    after.push(pool !== undefined ? process.memoryUsage().rss : process.memoryUsage().arrayBuffers);
  }
} finally {
  await pool?.destroy();
  sys.detach();
}
process.stdout.write(`${JSON.stringify({ bytes, after })}\n`);
