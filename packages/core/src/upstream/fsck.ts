// Upstream erofs-utils' fsck.erofs as an oracle that is not our reader: `fsck.erofs --extract=DIR`
// checks every file is well encoded and writes the tree out. The stress harness takes an image's
// expected bytes from it when there is no source tree; the fuzzer compares it with our reader.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, lstatSync, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** `fsck.erofs` from PATH, or undefined. */
export function fsckOnPath(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, 'fsck.erofs');
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/** First line of `fsck.erofs -V` ("fsck.erofs (erofs-utils) 1.9.3"), or undefined when it does not run. */
export function fsckVersion(fsck: string): string | undefined {
  const r = spawnSync(fsck, ['-V'], { encoding: 'utf8', timeout: 10_000 });
  if (r.error || r.status !== 0) return undefined;
  return r.stdout.split('\n')[0]?.trim() || undefined;
}

export type FsckResult =
  { readonly ok: true } | { readonly ok: false; readonly reason: string; readonly timedOut: boolean };

/**
 * Run `fsck.erofs --extract=DIR --no-preserve IMAGE` (DIR must not exist yet). ok when fsck accepted
 * the image and extracted it; otherwise its first error line (or the timeout) as the reason.
 */
export function fsckExtract(
  fsck: string,
  image: string,
  dir: string,
  timeoutMs = 60_000,
  /** The image's extra devices, in table order (fsck.erofs --device=PATH, repeated). */
  devices: readonly string[] = [],
): FsckResult {
  const args = [`--extract=${dir}`, '--no-preserve', ...devices.map((d) => `--device=${d}`), image];
  const r = spawnSync(fsck, args, {
    encoding: 'utf8',
    timeout: timeoutMs,
    maxBuffer: 4 << 20,
  });
  if (r.error) {
    const timedOut = (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT';
    return {
      ok: false,
      reason: timedOut ? `fsck.erofs gave no answer within ${timeoutMs} ms` : `cannot run ${fsck}: ${r.error.message}`,
      timedOut,
    };
  }
  if (r.status === 0) return { ok: true };
  // The first error line names the cause; the last one is often a generic "failed to extract".
  const lines = (r.stderr || r.stdout || '').trim().split('\n').filter(Boolean);
  const reason = lines.find((l) => l.includes('<E>')) ?? lines[lines.length - 1];
  return { ok: false, reason: reason ?? `fsck.erofs exited with ${r.status ?? r.signal}`, timedOut: false };
}

const utf8 = new TextDecoder('utf-8');

/**
 * Regular files under `dir` as '/a/b' → absolute path (bytes). Names are decoded from their bytes as UTF-8, the
 * way our reader spells paths, so the two trees compare by the same keys.
 */
export function regularFilesUnder(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (abs: Buffer, rel: string): void => {
    for (const name of readdirSync(abs, { encoding: 'buffer' })) {
      const p = Buffer.concat([abs, Buffer.from('/'), name]);
      const r = `${rel}/${utf8.decode(name)}`;
      const st = lstatSync(p);
      if (st.isDirectory()) walk(p, r);
      else if (st.isFile()) out.set(r, p); // a Buffer path: any name bytes open as they are
    }
  };
  walk(Buffer.from(dir), '');
  return out;
}
