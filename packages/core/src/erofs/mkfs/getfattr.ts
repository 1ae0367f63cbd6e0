// Node has no xattr API, so a directory's xattrs come from one recursive getfattr run over the tree.
// -h examines symlinks themselves (not their targets); -P keeps the walk off symlinked directories.
// getfattr writes names with '\', '=' and newlines escaped as \ooo; values are hex.
import { spawn } from 'node:child_process';
import { ErofsError } from '../errors.ts';

/** path bytes (latin1 key) → xattr name (latin1 key) → value */
export type XattrTable = Map<string, Map<string, Buffer>>;

function unescapeOctal(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Parse `getfattr -d -e hex --absolute-names` output (read as latin1, so bytes stay bytes). */
export function parseGetfattr(out: string): XattrTable {
  const table: XattrTable = new Map();
  let current: Map<string, Buffer> | undefined;
  for (const line of out.split('\n')) {
    if (line.startsWith('# file: ')) {
      current = new Map();
      table.set(unescapeOctal(line.slice(8)), current);
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    if (!current) throw new ErofsError('EIO', `getfattr: unexpected output line ${JSON.stringify(line)}`);
    const eq = line.indexOf('=');
    const name = unescapeOctal(eq < 0 ? line : line.slice(0, eq));
    const raw = eq < 0 ? '' : line.slice(eq + 1);
    let value: Buffer;
    if (raw === '' || raw === '""') value = Buffer.alloc(0);
    else if (/^0x([0-9a-fA-F]{2})*$/.test(raw)) value = Buffer.from(raw.slice(2), 'hex');
    else throw new ErofsError('EIO', `getfattr: value of ${name} is not hex: ${JSON.stringify(raw.slice(0, 40))}`);
    current.set(name, value);
  }
  return table;
}

/** Every xattr under `root` (absolute path), keyed by absolute path as getfattr spells it. */
export function readXattrTree(root: string): Promise<XattrTable> {
  return new Promise((resolve, reject) => {
    const child = spawn('getfattr', ['-R', '-h', '-P', '-d', '-m', '-', '-e', 'hex', '--absolute-names', '--', root], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') {
        reject(
          new ErofsError(
            'EUNSUPPORTED',
            'getfattr not found: install the attr package to copy xattrs, or pass xattrs: false (--no-xattrs)',
          ),
        );
      } else {
        reject(new ErofsError('EIO', `cannot run getfattr: ${e.code ?? e.message}`));
      }
    });
    child.on('close', (code) => {
      if (code !== 0) {
        const msg = Buffer.concat(err).toString('utf8').trim().split('\n')[0] ?? '';
        reject(new ErofsError('EIO', `getfattr failed on ${root} (exit ${String(code)}): ${msg}`));
        return;
      }
      try {
        resolve(parseGetfattr(Buffer.concat(out).toString('latin1')));
      } catch (e) {
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    });
  });
}
