// Option parsers of the memory-experiment commands (read, compare, demo). Like options.ts, they throw
// commander's InvalidArgumentError: one `ishare: option ... is invalid. <why>` line and exit 2.
import { InvalidArgumentError, type Command } from 'commander';
import type { RealInodePolicy } from '@ishare/core';
import type { ExperimentOptions } from '@ishare/workers';
import { devicesRecord } from './devices.ts';
import { parsePlatform } from './options.ts';

// The same limits as @ishare/workers' experiment (a test keeps them equal); repeated here so that
// parsing options does not load the kernel and the worker pool.
export const MAX_WORKERS = 64;
export const MAX_POOL_MIB = 16384;

export function parseWorkers(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > MAX_WORKERS)
    throw new InvalidArgumentError(`expected an integer from 1 to ${MAX_WORKERS}`);
  return n;
}

export function parsePoolMiB(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > MAX_POOL_MIB)
    throw new InvalidArgumentError(`expected MiB from 1 to ${MAX_POOL_MIB}`);
  return n;
}

export function parsePolicy(v: string): RealInodePolicy {
  if (v !== 'processing' && v !== 'any')
    throw new InvalidArgumentError('expected processing (the v7 seed) or any (mainline)');
  return v;
}

/** domain_id= is a mount option value: no comma (the option separator), no control characters. */
/** The --superblock-share option's help text (read, compare). */
export const SUPERBLOCK_SHARE_HELP =
  'mount option superblock_share (mainline 7.4): mounts of one image file with the same options reuse one ' +
  'superblock, its inodes and their page caches (give an image twice to see it)';

export function parseDomain(v: string): string {
  // eslint-disable-next-line no-control-regex
  if (v === '' || /[,\x00-\x1f]/.test(v) || Buffer.byteLength(v) > 255)
    throw new InvalidArgumentError('expected a non-empty name without commas (at most 255 bytes)');
  return v;
}

export const LAYOUT_HELP =
  "container image inputs: flat (one image of the merged tree, default), layers (one EROFS blob per layer under a read-only overlay, as containerd's EROFS snapshotter mounts them; a layer two images share is one blob file) or fsmeta (the merged metadata with the layers as devices)";

export function parseLayout(v: string): 'flat' | 'layers' | 'fsmeta' {
  if (v !== 'flat' && v !== 'layers' && v !== 'fsmeta')
    throw new InvalidArgumentError('expected flat, layers or fsmeta');
  return v;
}

/**
 * The container layouts for the experiment: the layer blobs of the inputs prepared with `--layout
 * layers`, and the devices of those prepared with `--layout fsmeta` (the fsmeta's layer blobs, in table
 * order) added to the ones --device gave (`given`, experimentOptions' `devices`).
 */
export function layersOption(
  prepared: readonly {
    readonly image: string;
    readonly layers?: readonly string[];
    readonly devices?: readonly string[];
  }[],
  given?: ExperimentOptions['devices'],
): Pick<ExperimentOptions, 'layers' | 'devices'> {
  const devices: Record<string, readonly string[]> = { ...given };
  for (const p of prepared) if (p.devices) devices[p.image] = p.devices;
  return {
    ...(prepared.some((p) => p.layers) ? { layers: prepared.map((p) => p.layers) } : {}),
    ...(Object.keys(devices).length > 0 ? { devices } : {}),
  };
}

/** The experiment options every command shares, as the CLI gathered them. */
export interface ExperimentCliOptions {
  workers?: number;
  poolMib?: number;
  domain?: string;
  policy: RealInodePolicy;
  verify?: boolean;
  superblockShare?: boolean;
}

/**
 * The common part of runRead/runCompare's options: only what the user gave (so the experiment's own
 * defaults apply otherwise), plus the trace and the progress callback when there are any.
 */
export function experimentOptions(
  images: string[],
  o: ExperimentCliOptions,
  traces: Pick<ExperimentOptions, 'trace' | 'traces'> | undefined,
  onProgress: ExperimentOptions['onProgress'],
): ExperimentOptions {
  const devices = devicesRecord(images);
  return {
    images,
    policy: o.policy,
    ...(o.workers !== undefined ? { workers: o.workers } : {}),
    ...(o.domain !== undefined ? { domainId: o.domain } : {}),
    ...(o.poolMib !== undefined ? { poolMiB: o.poolMib } : {}),
    ...(o.verify ? { verify: true } : {}),
    ...(o.superblockShare ? { superblockShare: true } : {}),
    ...(traces?.trace ? { trace: traces.trace } : {}),
    ...(traces?.traces ? { traces: traces.traces } : {}),
    ...(onProgress ? { onProgress } : {}),
    ...(devices !== undefined ? { devices } : {}),
  };
}

/** `--trace` is repeatable: collect every value in order. */
export function collectTrace(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/**
 * The memory-experiment options `read` and `compare` both take (what ExperimentCliOptions and the
 * container inputs' `layout` / `platform` gather), added to `cmd` in one order; `traceHelp` is the
 * command's own word on --trace. --device comes from cli.ts (every command that opens images).
 */
export function withExperimentOptions(cmd: Command, traceHelp: string): Command {
  return cmd
    .option('--workers <n>', "reader threads, 1..64 (default: the machine's cores)", parseWorkers)
    .option('--pool-mib <n>', 'page pool size in MiB (default: sized from the data, at most 4096)', parsePoolMiB)
    .option('--superblock-share', SUPERBLOCK_SHARE_HELP)
    .option('--domain <id>', 'domain_id: sharing happens only within one domain (default "ishare")', parseDomain)
    .option(
      '--policy <name>',
      'real inode for shared reads: processing (v7 seed) or any (mainline)',
      parsePolicy,
      'processing',
    )
    .option(
      '--verify',
      'mount option verify: a file shares its page cache only once its content matches its fingerprint',
    )
    .option('--trace <[img=]file>', traceHelp, collectTrace)
    .option('--layout <name>', LAYOUT_HELP, parseLayout)
    .option(
      '--platform <os/arch>',
      'container image inputs: which image of a multi-platform index (os/arch[/variant])',
      parsePlatform,
    );
}
