// Where the reference tools are. Upstream erofs-utils 1.9.3 (the release that writes page-cache-sharing
// fingerprints) is vendored in third_party/erofs-utils/ and built by scripts/build-erofs-utils.sh into a
// cache every clone and test process shares (~/.cache/ishare/erofs-utils-1.9.3, or
// $ISHARE_EROFS_UTILS_PREFIX); the script is idempotent and prints the bin directory on its last line.
// Debian's erofs-utils 1.5 is on PATH.
import { execFileSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const buildScript = join(repoRoot, 'scripts', 'build-erofs-utils.sh');

let cached: string | undefined;

/** The bin directory of upstream erofs-utils 1.9.3 (built on first use; throws with the build's reason). */
export function upstreamBin(): string {
  if (cached !== undefined) return cached;
  const out = execFileSync('bash', [buildScript], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = out.trim().split('\n');
  cached = lines[lines.length - 1]!;
  return cached;
}

/** Full path of an upstream 1.9.3 tool: 'mkfs.erofs', 'fsck.erofs' or 'dump.erofs'. */
export function upstreamTool(name: 'mkfs.erofs' | 'fsck.erofs' | 'dump.erofs'): string {
  return join(upstreamBin(), name);
}
