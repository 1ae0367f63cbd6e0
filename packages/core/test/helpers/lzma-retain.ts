// A child process for packages/core/test/lzma-retain.test.ts (run with --expose-gc): reads every file of
// an lzma image PASSES times, dropping the cache between passes and letting the event loop turn and the
// collector run after each (so only memory something still references remains), and prints the
// process's ArrayBuffer bytes after each pass as one JSON line.
import { System } from '../../src/index.ts';

const img = process.argv[2];
const passes = Number(process.argv[3]);
const gc = (globalThis as unknown as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));
const sys = System.create({ poolMiB: 32 });
const m = sys.mount(img).mount;
const files = sys.listFiles(m);
const after: number[] = [];
let bytes = 0;
for (let p = 0; p < passes; p++) {
  sys.dropCaches();
  for (const f of files) {
    const o = sys.open(m, f.path);
    bytes += sys.readAll(o).length;
    sys.close(o);
  }
  await settle();
  gc();
  await settle();
  after.push(process.memoryUsage().arrayBuffers);
}
sys.detach();
process.stdout.write(`${JSON.stringify({ bytes, after })}\n`);
