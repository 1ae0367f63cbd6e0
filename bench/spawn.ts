// Running a command from the bench without forking the bench. A child process is made with fork(), and
// fork() write-protects every private page of the parent (copy-on-write) — the whole page-cache arena of
// the System included. Each frame the next fill writes then takes a page fault, on this kind of virtual
// machine a costly one: `spawnSync('true')` before a fill of 88 MiB (pool 130 MiB, one worker, load
// ~25) raised its CPU time from ~0.2 s to ~0.8 s (system time 0.07 → 0.55 s; perf: exc_page_fault under
// the worker's pread64 into the frames). The cache eviction before every cold sample spawned python3
// this way, so every sample after it (ours.cold.*, ours.fill.1w, the first pass of a family after
// `tree`/`loop`) paid for it: issue 17's ours.fill.1w at a fixed ~720 ms and bimodal disjoint.fill.1w.
//
// So the bench starts one small helper process before it allocates the arena (startSpawner) and sends it
// every command over two FIFOs, synchronously: the helper forks, the bench does not. Without python3 or
// mkfifo, commands are spawned directly, as before (and the note says so).
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RunResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly error?: Error;
}

const HELPER = `
import json, subprocess, sys
req = open(sys.argv[1], 'r')
resp = open(sys.argv[2], 'w')
for line in req:
    m = json.loads(line)
    try:
        r = subprocess.run(m['argv'], capture_output=True, text=True, errors='replace')
        out = {'status': r.returncode, 'stdout': r.stdout, 'stderr': r.stderr}
    except Exception as e:
        out = {'status': None, 'stdout': '', 'stderr': '', 'error': str(e)}
    resp.write(json.dumps(out) + '\\n')
    resp.flush()
`;

interface Helper {
  readonly dir: string;
  readonly req: number;
  readonly resp: number;
}

let helper: Helper | undefined;

/** Start the helper (call before allocating anything big); returns how commands will run. */
export function startSpawner(): string {
  if (helper) return 'through a helper process started before the arena';
  const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  const dir = mkdtempSync(join(tmpdir(), 'ishare-bench-spawn-'));
  const reqPath = join(dir, 'req');
  const respPath = join(dir, 'resp');
  const mk = spawnSync('mkfifo', [reqPath, respPath]);
  if (mk.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return 'directly (mkfifo failed): samples after a command pay copy-on-write faults';
  }
  const child = spawn(python, ['-c', HELPER, reqPath, respPath], { stdio: 'ignore' });
  let failed = false;
  child.on('error', () => {
    failed = true;
  });
  child.unref();
  // Both sides open req then resp, so neither waits for the other forever; a helper that failed to
  // start would leave the opens blocked, so check it is there first.
  const probe = spawnSync(python, ['-c', 'pass']);
  if (failed || probe.status !== 0) {
    child.kill();
    rmSync(dir, { recursive: true, force: true });
    return 'directly (no python3): samples after a command pay copy-on-write faults';
  }
  const req = openSync(reqPath, 'w');
  const resp = openSync(respPath, 'r');
  helper = { dir, req, resp };
  return 'through a helper process started before the arena';
}

export function stopSpawner(): void {
  if (!helper) return;
  closeSync(helper.req); // the helper sees EOF and exits
  closeSync(helper.resp);
  rmSync(helper.dir, { recursive: true, force: true });
  helper = undefined;
}

function readLine(fd: number): string {
  const chunks: Buffer[] = [];
  const b = Buffer.allocUnsafe(65536);
  for (;;) {
    const n = readSync(fd, b, 0, b.length, null);
    if (n === 0) throw new Error('the bench spawn helper exited');
    const nl = b.subarray(0, n).indexOf(10);
    if (nl >= 0) {
      chunks.push(Buffer.from(b.subarray(0, nl)));
      return Buffer.concat(chunks).toString('utf8');
    }
    chunks.push(Buffer.from(b.subarray(0, n)));
  }
}

/** Run `cmd args` to completion (as spawnSync with utf8 output), through the helper when it runs. */
export function runCommand(cmd: string, args: readonly string[]): RunResult {
  if (!helper) {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, ...(r.error ? { error: r.error } : {}) };
  }
  writeSync(helper.req, `${JSON.stringify({ argv: [cmd, ...args] })}\n`);
  const m = JSON.parse(readLine(helper.resp)) as {
    status: number | null;
    stdout: string;
    stderr: string;
    error?: string;
  };
  return {
    status: m.status,
    stdout: m.stdout,
    stderr: m.stderr,
    ...(m.error !== undefined ? { error: new Error(m.error) } : {}),
  };
}
