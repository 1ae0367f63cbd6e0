// Writing to stdout with backpressure. A closed pipe (EPIPE) is handled once, in cli.ts.
import { once } from 'node:events';

export function writeOut(s: string | Uint8Array): boolean {
  return process.stdout.write(s);
}

/** Write and wait for the stream to drain, so large outputs (cat) do not pile up in memory. */
export async function writeOutAsync(chunk: Uint8Array): Promise<void> {
  if (!process.stdout.write(chunk)) await once(process.stdout, 'drain');
}
