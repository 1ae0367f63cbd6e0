#!/usr/bin/env node
// Plain-node entry of `ishare`, run from the repository (pnpm exec ishare, npx ishare, pnpm ishare).
// The workspace packages resolve to their TypeScript sources through the "source" export condition,
// which node only applies when started with it; tsx loads the TypeScript. So the CLI runs in a child
// node started with both, which every worker thread inherits; stdio is shared, the exit status and a
// fatal signal are passed on.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));

if (process.execArgv.includes('--conditions=source')) {
  await import('../src/main.ts');
} else {
  const tsx = import.meta.resolve('tsx');
  const child = spawn(process.execPath, ['--conditions=source', `--import=${tsx}`, MAIN, ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  // A terminal's Ctrl-C reaches the whole process group, the child included; a signal sent to this
  // process alone (kill PID) is forwarded.
  const forward = (sig) => {
    child.kill(sig);
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, forward);
  child.on('error', (e) => {
    process.stderr.write(`ishare: cannot start node: ${e.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    if (signal) {
      for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.off(sig, forward);
      process.kill(process.pid, signal);
      return;
    }
    process.exit(code ?? 1);
  });
}
