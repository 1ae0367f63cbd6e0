// `ishare host SCENARIO.json`: containers on one host, each a memory cgroup plus the mount of its image,
// started, read and stopped in the scenario's order — without and then with inode_share — and who pays
// for the page cache: the kernel's charge per container (under the chosen --charge policy for pages
// whose payer left), the split account, what each paid for others and read for free, refaults and
// memory.events, the dying cgroups and the host's page cache.
import { InvalidArgumentError, type Command } from 'commander';
import type { RealInodePolicy } from '@ishare/core';
import type { ChargePolicy, HostContainer, HostProgress, HostResult, TraceOp } from '@ishare/workers';
import { UsageError } from '../errors.ts';
import { writeOut } from '../output.ts';
import {
  LAYOUT_HELP,
  parseDomain,
  parseLayout,
  parsePolicy,
  parsePoolMiB,
  parseWorkers,
} from '../experiment-options.ts';
import { isContainerInput, prepareInputs } from '../image-cache.ts';
import { parsePlatform } from '../options.ts';
import { asUsage, loadWorkers, readTraceFile } from '../experiment-run.ts';
import { progressBar, type Progress } from '../progress.ts';
import { checkOutputFile, writeOutputFile } from '../output-files.ts';
import { CHARGE_POLICIES, readScenario, type Scenario } from '../scenario.ts';
import { hostReport } from '../host-report.ts';
import { hostChartSvg } from '../host-chart.ts';

export interface HostCliOptions {
  charge?: ChargePolicy;
  workers?: number;
  policy: RealInodePolicy;
  domain?: string;
  poolMib?: number;
  platform?: string;
  layout?: 'flat' | 'layers' | 'fsmeta';
  json?: boolean;
  svg?: string;
}

export function parseCharge(v: string): ChargePolicy {
  if (!(CHARGE_POLICIES as readonly string[]).includes(v))
    throw new InvalidArgumentError(
      'expected keep (the dead cgroup keeps the charge), reparent (to the parent) or recharge (the next reader pays)',
    );
  return v as ChargePolicy;
}

/** The JSON document: the result plus the scenario and where each image came from. */
export interface HostJson extends HostResult {
  readonly scenario: string;
  readonly inputs: {
    container: string;
    input: string;
    kind: string;
    image: string;
    built: boolean;
    /** --layout fsmeta: `image` is the fsmeta, these its devices (the layer blobs, table order). */
    devices?: readonly string[];
    /** --layout layers: the layer blobs, bottom first (each mounted once for the container); `image` is the top. */
    layers?: readonly string[];
  }[];
  /** Container inputs' layout (--layout, else the file's, else flat). */
  readonly layout: 'flat' | 'layers' | 'fsmeta';
}

/** A failure about one container, named as the file names it. */
function naming(s: Scenario, i: number, e: unknown): unknown {
  if (!(e instanceof UsageError)) return e;
  return new UsageError(`${s.file}: containers[${i}] (${s.containers[i].name}): ${e.message}`);
}

/** One bar per phase, counting steps; nothing unless a person watches a terminal. */
function stepBars(enabled: boolean): { onProgress: (p: HostProgress) => void; stop: () => void } {
  let bar: Progress | undefined;
  let phase: string | undefined;
  return {
    onProgress: (p) => {
      if (p.phase !== phase) {
        bar?.stop();
        phase = p.phase;
        bar = progressBar(enabled, `host: ${p.phase.padEnd(8)}`, 'steps');
      }
      bar?.update(p.done, p.total);
    },
    stop: () => bar?.stop(),
  };
}

export async function runHostCommand(file: string, o: HostCliOptions): Promise<void> {
  const s = readScenario(file);
  if (o.svg !== undefined) checkOutputFile(o.svg, '--svg');
  const w = await loadWorkers();
  const traces: (readonly TraceOp[] | undefined)[] = s.containers.map((c, i) => {
    if (c.tracePath === undefined) return undefined;
    try {
      return readTraceFile(w, c.tracePath).ops;
    } catch (e) {
      throw naming(s, i, e);
    }
  });
  const layout = o.layout ?? s.layout ?? 'flat';
  const inputs: HostJson['inputs'] = [];
  const containers: HostContainer[] = [];
  let anyContainer = false;
  for (const [i, c] of s.containers.entries()) {
    let prepared;
    try {
      // The layout applies to container image inputs; an image or a tree is one image either way.
      const oci = await isContainerInput(c.imagePath);
      anyContainer ||= oci;
      [prepared] = await prepareInputs([c.imagePath], {
        progress: !o.json,
        ...(o.platform !== undefined ? { platform: o.platform } : {}),
        ...(oci ? { layout } : {}),
      });
    } catch (e) {
      throw naming(s, i, e);
    }
    inputs.push({
      container: c.name,
      input: c.image,
      kind: prepared.kind,
      image: prepared.image,
      built: prepared.built,
      ...(prepared.devices ? { devices: prepared.devices } : {}),
      ...(prepared.layers ? { layers: prepared.layers } : {}),
    });
    const trace = traces[i];
    containers.push({
      name: c.name,
      image: prepared.image,
      ...(prepared.devices ? { devices: prepared.devices } : {}),
      ...(prepared.layers ? { layers: prepared.layers } : {}),
      ...(c.memoryMax !== undefined ? { memoryMax: c.memoryMax } : {}),
      ...(trace !== undefined ? { trace } : {}),
    });
  }
  if (layout !== 'flat' && !anyContainer)
    throw new UsageError(
      `--layout ${layout}: no container's image is a container image (the layouts are for container images)`,
    );
  const workers = o.workers ?? s.workers;
  const domainId = o.domain ?? s.domain;
  const bars = stepBars(!o.json);
  let result: HostResult;
  try {
    result = await asUsage(w, () =>
      w.runHost({
        containers,
        steps: s.steps.map((x) => ({ kind: x.kind, container: x.container })),
        charge: o.charge ?? s.charge ?? 'keep',
        policy: o.policy,
        ...(workers !== undefined ? { workers } : {}),
        ...(domainId !== undefined ? { domainId } : {}),
        ...(o.poolMib !== undefined ? { poolMiB: o.poolMib } : {}),
        onProgress: bars.onProgress,
      }),
    );
  } finally {
    bars.stop();
  }
  if (o.svg !== undefined) writeOutputFile(o.svg, hostChartSvg(`Who pays for the page cache: ${file}`, result));
  if (o.json) {
    const doc: HostJson = { scenario: file, ...result, inputs, layout };
    writeOut(`${JSON.stringify(doc, null, 2)}\n`);
    return;
  }
  const lines = hostReport(result, file);
  if (o.svg !== undefined) lines.push(`svg: ${o.svg}`);
  writeOut(`${lines.join('\n')}\n`);
}

export function register(program: Command): void {
  program
    .command('host')
    .summary('containers with memory limits on one host: who pays for the shared page cache')
    .description(
      'Run the containers of SCENARIO.json on one kernel — each a memory cgroup (memory.max) plus the mount ' +
        'of its image — through the steps in order (start, read: replay its trace or read every file inside ' +
        'its cgroup, stop: close its files, unmount, remove its cgroup), without and then with inode_share. ' +
        "Reports per container the kernel's charge (memory.current), the split account, what it paid for " +
        'others and read for free, refaults and memory.events; the dying cgroups and the page cache. ' +
        'Scenario: {"containers": [{"name", "image", "memoryMax"?, "trace"?}], "steps": [{"start": NAME} | ' +
        '{"read": NAME} | {"stop": NAME}], "domain"?, "charge"?, "workers"?, "layout"?}; paths relative to the file. ' +
        'See docs/host.md.',
    )
    .argument('<scenario>', 'the scenario file (JSON)')
    .option(
      '--charge <policy>',
      'who pays once the payer left: keep (mainline), reparent (the parent) or recharge (the next reader); overrides the file',
      parseCharge,
    )
    .option('--workers <n>', "reader threads, 1..64 (default: the file's, else the machine's cores)", parseWorkers)
    .option(
      '--policy <name>',
      'real inode for shared reads: processing (v7 seed) or any (mainline)',
      parsePolicy,
      'processing',
    )
    .option('--domain <id>', 'domain_id (default: the file\'s, else "ishare")', parseDomain)
    .option(
      '--pool-mib <n>',
      'page pool in MiB (default: room for every page read, so only memory.max reclaims)',
      parsePoolMiB,
    )
    .option(
      '--platform <os/arch>',
      'container image inputs: which image of a multi-platform index (os/arch[/variant])',
      parsePlatform,
    )
    .option('--layout <name>', `${LAYOUT_HELP} (overrides the file's "layout")`, parseLayout)
    .option('--json', 'print one JSON object and nothing else')
    .option(
      '--svg <file.svg>',
      'also write a bar chart: per container, paid for itself, for others, read for free, split',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  ishare host examples/host/pair.json\n  ishare host --charge reparent --json host.json > host-out.json\n  ishare host --svg who-pays.svg host.json',
    )
    .action(async (scenario: string, opts: HostCliOptions) => runHostCommand(scenario, opts));
}
