// A test-only thread for packages/core/test/arena-layout.test.ts: it loads the layers from another entry
// than the main thread did — the filesystem's lock and counter modules first, then the kernel — and posts
// how it numbered the counters, lock classes, protected structures, use sites and points each layer
// declared.
import { parentPort } from 'node:worker_threads';
import '../../src/fs/erofs/locks.ts';
import '../../src/fs/erofs/counters.ts';
import '../../src/fs/erofs/points.ts';
import { numbering } from './numbering.ts';

await import('../../src/system.ts');
parentPort?.postMessage(numbering());
