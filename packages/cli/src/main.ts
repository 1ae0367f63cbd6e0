// Entry point of `ishare`. Each command lives in its own file under commands/ and is listed here once.
import { runCli, type Register } from './cli.ts';
import { register as mkfs } from './commands/mkfs.ts';
import { register as ls } from './commands/ls.ts';
import { register as cat } from './commands/cat.ts';
import { register as extract } from './commands/extract.ts';
import { register as inspect } from './commands/inspect.ts';
import { register as demo } from './commands/demo.ts';
import { register as read } from './commands/read.ts';
import { register as compare } from './commands/compare.ts';
import { register as stress } from './commands/stress.ts';
import { register as fuzz } from './commands/fuzz.ts';
import { register as fsck } from './commands/fsck.ts';
import { register as cache } from './commands/cache.ts';
import { register as host } from './commands/host.ts';

const commands: Register[] = [mkfs, ls, cat, extract, inspect, fsck, demo, read, compare, stress, fuzz, cache, host];

await runCli(commands, process.argv);
