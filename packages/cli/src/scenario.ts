// The scenario file of `ishare host`: which containers run on the host (an image each, a memory limit,
// a workload) and in what order they start, read and stop. Hand-written checks rather than a schema
// library: every refusal is one line naming the entry at fault (`containers[1] (web): memoryMax ...`,
// `steps[3] (read web): ...`), which is what a person fixing the file needs, and the rules that matter
// most (a step before its container's start) are about order, which schemas do not express.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { fileError, UsageError } from './errors.ts';

import type { ChargePolicy } from '@ishare/workers';
import { NR_MEMCG } from '@ishare/core';

/** Who pays for a page when the cgroup that paid for it goes away (as @ishare/workers' CHARGE_POLICIES). */
export const CHARGE_POLICIES: readonly ChargePolicy[] = ['keep', 'reparent', 'recharge'];

export interface ScenarioContainer {
  readonly name: string;
  /** As written in the file. */
  readonly image: string;
  /** Resolved against the scenario file's directory (as docker compose resolves its paths). */
  readonly imagePath: string;
  /** memory.max in bytes; undefined: "max" (no limit). */
  readonly memoryMax?: number;
  /** As written in the file, and resolved. */
  readonly trace?: string;
  readonly tracePath?: string;
}

export type StepKind = 'start' | 'read' | 'stop';
export interface ScenarioStep {
  readonly kind: StepKind;
  /** Index into containers. */
  readonly container: number;
}

export interface Scenario {
  readonly file: string;
  readonly containers: readonly ScenarioContainer[];
  readonly steps: readonly ScenarioStep[];
  readonly domain?: string;
  readonly charge?: ChargePolicy;
  readonly workers?: number;
  /**
   * Container image inputs: flat (default), layers (each layer blob mounted once per container, read
   * through their overlay) or fsmeta (the image's fsmeta with its layer blobs as devices).
   */
  readonly layout?: 'flat' | 'layers' | 'fsmeta';
}

const MAX_WORKERS = 64;
/** Memory cgroup ids besides the root. */
const MAX_CONTAINERS = NR_MEMCG - 1;
const CONTAINER_KEYS = new Set(['name', 'image', 'memoryMax', 'trace']);
const TOP_KEYS = new Set(['containers', 'steps', 'domain', 'charge', 'workers', 'layout']);
const STEP_KINDS: readonly StepKind[] = ['start', 'read', 'stop'];
const SUFFIX: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/**
 * A memory size as cgroup v2's memory.max takes it: bytes, or a number with K, M, G or T (powers of
 * 1024; `Ki`/`KiB`/`KB` spellings too), or "max" (no limit → undefined). At least one page.
 */
export function parseSize(v: unknown): number | undefined | null {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 4096 ? v : null;
  if (typeof v !== 'string') return null;
  const s = v.trim();
  if (s === 'max') return undefined;
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/i.exec(s);
  if (!m) return null;
  const n = Math.floor(Number(m[1]) * SUFFIX[m[2].toUpperCase()]);
  return Number.isSafeInteger(n) && n >= 4096 ? n : null;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  const s = JSON.stringify(v);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

/** The checks, on parsed JSON; `file` names the scenario in every message. */
export function checkScenario(file: string, doc: unknown): Scenario {
  const bad = (where: string, why: string): UsageError => new UsageError(`${file}: ${where}: ${why}`);
  if (!isObject(doc)) throw new UsageError(`${file}: expected a JSON object with "containers" and "steps"`);
  for (const k of Object.keys(doc))
    if (!TOP_KEYS.has(k))
      throw new UsageError(`${file}: unknown key "${k}" (expected containers, steps, domain, charge, workers, layout)`);
  const base = dirname(file);
  const at = (p: string): string => (isAbsolute(p) ? p : join(base, p));

  if (!Array.isArray(doc.containers) || doc.containers.length === 0)
    throw new UsageError(`${file}: "containers" must be a non-empty list`);
  if (doc.containers.length > MAX_CONTAINERS)
    throw new UsageError(
      `${file}: ${doc.containers.length} containers, at most ${MAX_CONTAINERS} (the memory cgroups the kernel model has)`,
    );
  const containers: ScenarioContainer[] = [];
  const byName = new Map<string, number>();
  doc.containers.forEach((c: unknown, i: number) => {
    const where = `containers[${i}]`;
    if (!isObject(c)) throw bad(where, 'expected an object {"name", "image", "memoryMax"?, "trace"?}');
    const name = c.name;
    if (typeof name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name))
      throw bad(where, `name ${describe(name)} must be 1-64 letters, digits, '.', '_' or '-'`);
    const named = `${where} (${name})`;
    const first = byName.get(name);
    if (first !== undefined) throw bad(named, `the name is already taken by containers[${first}]`);
    for (const k of Object.keys(c))
      if (!CONTAINER_KEYS.has(k)) throw bad(named, `unknown key "${k}" (expected name, image, memoryMax, trace)`);
    if (typeof c.image !== 'string' || c.image === '')
      throw bad(named, 'image must be a path (image, directory, tar or container image)');
    let memoryMax: number | undefined;
    if (c.memoryMax !== undefined) {
      const size = parseSize(c.memoryMax);
      if (size === null)
        throw bad(
          named,
          `memoryMax ${describe(c.memoryMax)} is not a size (bytes, or a number with K, M, G or T, or "max"; at least 4096)`,
        );
      memoryMax = size;
    }
    if (c.trace !== undefined && (typeof c.trace !== 'string' || c.trace === ''))
      throw bad(named, 'trace must be the path of a trace file');
    byName.set(name, i);
    containers.push({
      name,
      image: c.image,
      imagePath: at(c.image),
      ...(memoryMax !== undefined ? { memoryMax } : {}),
      ...(typeof c.trace === 'string' ? { trace: c.trace, tracePath: at(c.trace) } : {}),
    });
  });

  if (!Array.isArray(doc.steps) || doc.steps.length === 0)
    throw new UsageError(`${file}: "steps" must be a non-empty list`);
  const steps: ScenarioStep[] = [];
  // undefined: not started yet; true: running; false: stopped.
  const running = new Map<number, boolean>();
  doc.steps.forEach((s: unknown, i: number) => {
    const where = `steps[${i}]`;
    const keys = isObject(s) ? Object.keys(s) : [];
    if (!isObject(s) || keys.length !== 1 || !STEP_KINDS.includes(keys[0] as StepKind))
      throw bad(where, `expected {"start": NAME}, {"read": NAME} or {"stop": NAME}, got ${describe(s)}`);
    const kind = keys[0] as StepKind;
    const name = s[kind];
    const named = `${where} (${kind} ${typeof name === 'string' ? name : describe(name)})`;
    const c = typeof name === 'string' ? byName.get(name) : undefined;
    if (c === undefined)
      throw bad(named, `no container named ${describe(name)} (containers: ${[...byName.keys()].join(', ')})`);
    const state = running.get(c);
    if (kind === 'start') {
      if (state === true) throw bad(named, `${String(name)} is already running`);
      if (state === false) throw bad(named, `${String(name)} was stopped; a container starts once`);
      running.set(c, true);
    } else {
      if (state === undefined)
        throw bad(named, `${String(name)} has not been started (add {"start": "${String(name)}"} before)`);
      if (!state) throw bad(named, `${String(name)} was already stopped`);
      if (kind === 'stop') running.set(c, false);
    }
    steps.push({ kind, container: c });
  });

  let domain: string | undefined;
  if (doc.domain !== undefined) {
    // eslint-disable-next-line no-control-regex
    if (typeof doc.domain !== 'string' || doc.domain === '' || /[,\x00-\x1f]/.test(doc.domain))
      throw new UsageError(`${file}: domain must be a non-empty name without commas`);
    domain = doc.domain;
  }
  let charge: ChargePolicy | undefined;
  if (doc.charge !== undefined) {
    if (!CHARGE_POLICIES.includes(doc.charge as ChargePolicy))
      throw new UsageError(`${file}: charge ${describe(doc.charge)} must be one of ${CHARGE_POLICIES.join(', ')}`);
    charge = doc.charge as ChargePolicy;
  }
  let workers: number | undefined;
  if (doc.workers !== undefined) {
    const w = doc.workers;
    if (typeof w !== 'number' || !Number.isInteger(w) || w < 1 || w > MAX_WORKERS)
      throw new UsageError(`${file}: workers ${describe(w)} must be an integer from 1 to ${MAX_WORKERS}`);
    workers = w;
  }
  let layout: 'flat' | 'layers' | 'fsmeta' | undefined;
  if (doc.layout !== undefined) {
    if (doc.layout !== 'flat' && doc.layout !== 'layers' && doc.layout !== 'fsmeta')
      throw new UsageError(`${file}: layout ${describe(doc.layout)} must be flat, layers or fsmeta`);
    layout = doc.layout;
  }
  return {
    file,
    containers,
    steps,
    ...(layout !== undefined ? { layout } : {}),
    ...(domain !== undefined ? { domain } : {}),
    ...(charge !== undefined ? { charge } : {}),
    ...(workers !== undefined ? { workers } : {}),
  };
}

/** Read and check a scenario file: a missing file, bad JSON or a bad entry is one line, exit 2. */
export function readScenario(file: string): Scenario {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw fileError(file, e);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${file}: not JSON: ${(e as Error).message}`);
  }
  return checkScenario(file, doc);
}
