// Where the reference tools are. Upstream erofs-utils 1.9.3 (the release that writes page-cache-sharing
// fingerprints) is built from the source in ../shared/tools by its own script, which is idempotent and
// prints the bin directory on its last line; Debian's erofs-utils 1.5 is on PATH.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const buildScript = join(repoRoot, '..', 'shared', 'tools', 'build-erofs-utils.sh');

let cached: string | undefined;

/** The bin directory of upstream erofs-utils 1.9.3 (built on first use; throws with the build's reason). */
export function upstreamBin(): string {
  if (cached !== undefined) return cached;
  if (!existsSync(buildScript)) throw new Error(`upstream erofs-utils build script missing: ${buildScript}`);
  const out = execFileSync('bash', [buildScript], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = out.trim().split('\n');
  cached = lines[lines.length - 1]!;
  return cached;
}

/** Full path of an upstream 1.9.3 tool: 'mkfs.erofs', 'fsck.erofs' or 'dump.erofs'. */
export function upstreamTool(name: 'mkfs.erofs' | 'fsck.erofs' | 'dump.erofs'): string {
  return join(upstreamBin(), name);
}
