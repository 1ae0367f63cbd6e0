// The image cache's housekeeping: it is bounded (ISHARE_CACHE_MAX_MIB, default 2048 MiB) and evicts
// the least recently used images first. "Used" is the image file's mtime, set on every build and every
// reuse — atime is unreliable (noatime, relatime) and the images are never modified in place.
import { readdirSync, rmSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from './errors.ts';

const MiB = 1024 * 1024;
export const DEFAULT_CACHE_MAX_MIB = 2048;
/** A build's temporary file older than this belongs to a run that died. */
const STALE_TMP_MS = 60 * 60 * 1000;

export interface CachedImage {
  readonly name: string;
  readonly path: string;
  readonly bytes: number;
  /** When it was last built or reused (ms since the epoch). */
  readonly lastUsedMs: number;
}

/** The cap in bytes: ISHARE_CACHE_MAX_MIB (0 = no images kept beyond the run) or the default. */
export function cacheCapBytes(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.ISHARE_CACHE_MAX_MIB;
  if (v === undefined || v === '') return DEFAULT_CACHE_MAX_MIB * MiB;
  if (!/^\d+$/.test(v)) throw new UsageError(`ISHARE_CACHE_MAX_MIB must be a whole number of MiB (got '${v}')`);
  return Number(v) * MiB;
}

/** Mark an image used now (the LRU clock). */
export function touchImage(path: string): void {
  const now = new Date();
  try {
    utimesSync(path, now, now);
  } catch {
    // A read-only cache still serves; it just cannot keep time.
  }
}

/** Images in the cache, least recently used first. A missing directory is an empty cache. */
export function listCache(dir: string): CachedImage[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    if ((e as { code?: unknown }).code === 'ENOENT') return [];
    throw e;
  }
  const out: CachedImage[] = [];
  for (const name of names) {
    if (!name.endsWith('.img')) continue;
    const path = join(dir, name);
    try {
      const st = statSync(path);
      if (st.isFile()) out.push({ name, path, bytes: st.size, lastUsedMs: st.mtimeMs });
    } catch {
      // Removed meanwhile by another run.
    }
  }
  return out.sort((a, b) => a.lastUsedMs - b.lastUsedMs || a.name.localeCompare(b.name));
}

/**
 * Evict least recently used images until the cache fits its cap, never one in `keep` (the run's own
 * inputs), and sweep temporary files left by runs that died.
 */
export function pruneCache(dir: string, keep: ReadonlySet<string>, capBytes = cacheCapBytes()): CachedImage[] {
  const removed: CachedImage[] = [];
  const images = listCache(dir);
  let total = images.reduce((s, x) => s + x.bytes, 0);
  for (const x of images) {
    if (total <= capBytes) break;
    if (keep.has(x.path)) continue;
    rmSync(x.path, { force: true });
    total -= x.bytes;
    removed.push(x);
  }
  try {
    for (const name of readdirSync(dir)) {
      if (!/\.img\.tmp-\d+$/.test(name)) continue;
      const p = join(dir, name);
      if (Date.now() - statSync(p).mtimeMs > STALE_TMP_MS) rmSync(p, { force: true });
    }
  } catch {
    // Best effort.
  }
  return removed;
}

/** Remove every image (and leftover temporary file) in the cache. */
export function clearCache(dir: string): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    if ((e as { code?: unknown }).code === 'ENOENT') return { files, bytes };
    throw e;
  }
  for (const name of names) {
    if (!name.endsWith('.img') && !/\.img\.tmp-\d+$/.test(name)) continue;
    const p = join(dir, name);
    try {
      const st = statSync(p);
      if (!st.isFile()) continue;
      rmSync(p, { force: true });
      files++;
      bytes += st.size;
    } catch {
      // Gone already.
    }
  }
  return { files, bytes };
}
