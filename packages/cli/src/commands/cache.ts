// `ishare cache ls|clear`: the images built from directories and tar archives (.cache/images/ or
// $ISHARE_CACHE), bounded by ISHARE_CACHE_MAX_MIB and evicted least recently used first.
import type { Command } from 'commander';
import { defaultCacheDir } from '../image-cache.ts';
import { cacheCapBytes, clearCache, listCache } from '../cache-store.ts';
import { humanBytes } from '../format.ts';
import { writeOut } from '../output.ts';
import { table } from '../table.ts';

interface CacheOptions {
  cacheDir?: string;
  json?: boolean;
}

function dirOf(o: CacheOptions): string {
  return o.cacheDir ?? defaultCacheDir();
}

export function runCacheLs(o: CacheOptions): void {
  const dir = dirOf(o);
  const images = listCache(dir).reverse(); // most recently used first
  const total = images.reduce((s, x) => s + x.bytes, 0);
  const cap = cacheCapBytes();
  if (o.json) {
    writeOut(
      `${JSON.stringify({ dir, capBytes: cap, totalBytes: total, images: images.map((x) => ({ name: x.name, path: x.path, bytes: x.bytes, lastUsed: new Date(x.lastUsedMs).toISOString() })) }, null, 2)}\n`,
    );
    return;
  }
  const lines = [
    `${dir}: ${images.length} image${images.length === 1 ? '' : 's'}, ${humanBytes(total)} of ${humanBytes(cap)} (ISHARE_CACHE_MAX_MIB)`,
  ];
  if (images.length > 0) {
    const t = table(['image', 'size', 'last used (UTC)']);
    for (const x of images)
      t.push([x.name, humanBytes(x.bytes), new Date(x.lastUsedMs).toISOString().slice(0, 19).replace('T', ' ')]);
    lines.push(t.toString());
  }
  writeOut(`${lines.join('\n')}\n`);
}

export function runCacheClear(o: CacheOptions): void {
  const dir = dirOf(o);
  const r = clearCache(dir);
  if (o.json) writeOut(`${JSON.stringify({ dir, removed: r.files, bytes: r.bytes }, null, 2)}\n`);
  else writeOut(`${dir}: removed ${r.files} file${r.files === 1 ? '' : 's'} (${humanBytes(r.bytes)})\n`);
}

export function register(program: Command): void {
  const cache = program
    .command('cache')
    .summary('list or clear the images built from directories, tar archives and container images')
    .description(
      'Inputs that are directories, tar archives or container images are built into images once and kept in ' +
        'the cache (.cache/images/ in the repository, or $ISHARE_CACHE), named by a key over the source (paths, ' +
        'modes, owners, sizes, mtimes and inode numbers of a tree; the bytes of a tar; the manifest digest of a ' +
        "container image) and the image writer's code. " +
        'The cache is bounded by ISHARE_CACHE_MAX_MIB (default 2048): after a build, the least recently ' +
        'used images are removed first, never the ones the run is using.',
    )
    .addHelpText('after', '\nExamples:\n  ishare cache ls\n  ishare cache clear --cache-dir /tmp/ishare-cache');
  cache
    .command('ls')
    .description('list the cached images, most recently used first, with their sizes and the cap')
    .option('--cache-dir <dir>', 'the cache directory (default: .cache/images in the repository, or $ISHARE_CACHE)')
    .option('--json', 'print one JSON object')
    .action((o: CacheOptions) => runCacheLs(o));
  cache
    .command('clear')
    .description('remove every cached image (they are rebuilt when next needed)')
    .option('--cache-dir <dir>', 'the cache directory (default: .cache/images in the repository, or $ISHARE_CACHE)')
    .option('--json', 'print one JSON object')
    .action((o: CacheOptions) => runCacheClear(o));
}
