// Access traces for the memory experiment: which byte ranges of which files a workload read. Two input
// formats, told apart by the first meaningful line:
//  - ranges: one `PATH OFFSET LENGTH` per line (`#` starts a comment; PATH may contain spaces, the last
//    two fields are the numbers);
//  - strace: the output of `strace -f -e trace=openat,read,pread64 ...` (close, open, lseek and the -y
//    `3</path>` fd annotation are understood too). Bytes read are the syscall's return value, so a
//    short read at the end of a file counts only what it really got.
// Pure: text in, ops out. Paths come out absolute and normalised; mapping them onto images is the
// replayer's business.

export interface TraceOp {
  readonly path: string;
  readonly offset: number;
  readonly length: number;
}

export type TraceFormat = 'ranges' | 'strace' | 'empty';

export interface ParsedTrace {
  readonly format: TraceFormat;
  readonly ops: TraceOp[];
  /** strace lines that looked like reads but could not be tied to a file (unknown fd, relative dirfd). */
  readonly unresolved: number;
}

export class TraceError extends Error {
  readonly line: number;
  constructor(line: number, message: string) {
    super(`trace line ${line}: ${message}`);
    this.name = 'TraceError';
    this.line = line;
  }
}

/** Absolute, with `.`/`..`/`//` folded; `..` at the root stays at the root (as inside an image). */
export function normalizePath(p: string, base = '/'): string {
  const parts: string[] = [];
  const src = p.startsWith('/') ? p : `${base}/${p}`;
  for (const c of src.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') parts.pop();
    else parts.push(c);
  }
  return `/${parts.join('/')}`;
}

export function parseTrace(text: string): TraceOp[] {
  return parseTraceDetailed(text).ops;
}

export function parseTraceDetailed(text: string): ParsedTrace {
  const lines = text.split(/\r?\n/);
  for (const line of lines) {
    const s = stripComment(line).trim();
    if (s === '') continue;
    return RANGE_LINE.test(s) ? parseRanges(lines) : parseStrace(lines);
  }
  return { format: 'empty', ops: [], unresolved: 0 };
}

const RANGE_LINE = /^(.+?)\s+(\d+)\s+(\d+)$/;

function stripComment(line: string): string {
  const i = line.indexOf('#');
  return i < 0 ? line : line.slice(0, i);
}

function parseRanges(lines: readonly string[]): ParsedTrace {
  const ops: TraceOp[] = [];
  lines.forEach((line, i) => {
    const s = stripComment(line).trim();
    if (s === '') return;
    const m = RANGE_LINE.exec(s);
    if (!m) throw new TraceError(i + 1, `expected "PATH OFFSET LENGTH", got ${JSON.stringify(s.slice(0, 80))}`);
    const offset = Number(m[2]);
    const length = Number(m[3]);
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length))
      throw new TraceError(i + 1, 'offset or length too large');
    if (length > 0) ops.push({ path: normalizePath(m[1]), offset, length });
  });
  return { format: 'ranges', ops, unresolved: 0 };
}

// ---- strace ---------------------------------------------------------------------------------------

interface FdState {
  path: string;
  pos: number;
}

/** A syscall line split into its parts (after any unfinished/resumed halves were joined). */
interface Call {
  readonly pid: number;
  readonly name: string;
  readonly args: string[];
  /** The return value, or undefined when it is `?` or absent. */
  readonly ret: number | undefined;
}

// `[pid  123] `, or `123 ` as strace -f -o FILE writes it; then optional -t/-tt/-ttt/-r timestamps.
const PREFIX = /^(?:\[pid\s+(\d+)\]\s*|(\d+)\s+)?(?:\d+:\d+:\d+(?:\.\d+)?\s+|\d+\.\d+\s+)*/;
const UNFINISHED = /\s*<unfinished \.\.\.>\s*$/;
const RESUMED = /^<\.\.\.\s+(\w+)\s+resumed>\s?/;
const INTERESTING = new Set(['openat', 'open', 'read', 'pread64', 'close', 'lseek', 'openat2']);

/**
 * Split `a, "b, \"c\"", {x, y}` into top-level arguments: commas inside quotes, brackets and braces do
 * not split. Returns the args and the index just past the closing parenthesis, or -1 when unbalanced.
 */
function splitArgs(s: string, start: number): { args: string[]; end: number } {
  const args: string[] = [];
  let depth = 0;
  let cur = '';
  for (let i = start; i < s.length; i++) {
    const ch = s[i];
    if (ch === '"') {
      let j = i + 1;
      while (j < s.length && s[j] !== '"') j += s[j] === '\\' ? 2 : 1;
      cur += s.slice(i, j + 1);
      i = j;
      continue;
    }
    if (ch === '(' || ch === '[' || ch === '{') depth++;
    else if (ch === ']' || ch === '}') depth--;
    else if (ch === ')') {
      if (depth === 0) {
        if (cur.trim() !== '' || args.length > 0) args.push(cur.trim());
        return { args, end: i + 1 };
      }
      depth--;
    } else if (ch === ',' && depth === 0) {
      args.push(cur.trim());
      cur = '';
      continue;
    }
    cur += ch;
  }
  return { args, end: -1 };
}

/** strace's C-style string literal → the string (paths only need the common escapes). */
function unquote(arg: string): string | undefined {
  const m = /^"((?:[^"\\]|\\.)*)"/.exec(arg);
  if (!m) return undefined;
  const bytes: number[] = [];
  const body = m[1];
  for (let i = 0; i < body.length; i++) {
    const ch = body[i];
    if (ch !== '\\') {
      for (const b of Buffer.from(ch, 'utf8')) bytes.push(b);
      continue;
    }
    const n = body[++i];
    if (n === 'x') {
      bytes.push(Number.parseInt(body.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (/[0-7]/.test(n)) {
      const oct = /^[0-7]{1,3}/.exec(body.slice(i))![0];
      bytes.push(Number.parseInt(oct, 8));
      i += oct.length - 1;
    } else
      bytes.push(
        ({ n: 10, t: 9, r: 13, v: 11, f: 12, '\\': 92, '"': 34 } as Record<string, number>)[n] ?? n.charCodeAt(0),
      );
  }
  return Buffer.from(bytes).toString('utf8');
}

function parseCall(pid: number, body: string): Call | undefined {
  const m = /^(\w+)\(/.exec(body);
  if (!m || !INTERESTING.has(m[1])) return undefined;
  const { args, end } = splitArgs(body, m[0].length);
  if (end < 0) return undefined;
  const r = /^\s*=\s*(-?\d+|0x[0-9a-fA-F]+)/.exec(body.slice(end));
  const ret = r ? Number(r[1]) : undefined;
  return { pid, name: m[1], args, ret };
}

/** An fd argument: `3`, or `3</usr/lib/x.so>` with strace -y (the path is then known directly). */
function fdArg(arg: string | undefined): { fd: number; path?: string } | undefined {
  if (arg === undefined) return undefined;
  const m = /^(-?\d+)(?:<(.*)>)?$/.exec(arg.trim());
  if (!m) return undefined;
  return m[2] !== undefined ? { fd: Number(m[1]), path: m[2] } : { fd: Number(m[1]) };
}

function parseStrace(lines: readonly string[]): ParsedTrace {
  const ops: TraceOp[] = [];
  let unresolved = 0;
  // fd tables per pid. Threads share a table and children inherit their parent's, neither of which the
  // traced syscalls reveal, so an fd unknown to its pid falls back to the last opening of that number.
  const tables = new Map<number, Map<number, FdState>>();
  const lastOpened = new Map<number, FdState>();
  const pending = new Map<number, string>();
  const table = (pid: number): Map<number, FdState> => {
    let t = tables.get(pid);
    if (!t) tables.set(pid, (t = new Map<number, FdState>()));
    return t;
  };
  const lookup = (pid: number, fd: number): FdState | undefined => tables.get(pid)?.get(fd) ?? lastOpened.get(fd);

  for (const raw of lines) {
    const pre = PREFIX.exec(raw)!;
    const pid = Number(pre[1] ?? pre[2] ?? 0);
    let body = raw.slice(pre[0].length).trimEnd();
    if (body === '' || body.startsWith('---') || body.startsWith('+++')) continue;
    if (UNFINISHED.test(body)) {
      pending.set(pid, body.replace(UNFINISHED, ''));
      continue;
    }
    const res = RESUMED.exec(body);
    if (res) {
      const head = pending.get(pid);
      pending.delete(pid);
      if (head === undefined || !head.startsWith(`${res[1]}(`)) continue;
      // "read(3, " + "\"...\"..., 832) = 832": the halves meet where strace cut the line.
      const tail = body.slice(res[0].length);
      body =
        /[(,]\s*$/.test(head) || tail.startsWith(')') || tail.startsWith(',') ? `${head}${tail}` : `${head}, ${tail}`;
    }
    const call = parseCall(pid, body);
    if (!call) continue;
    const { name, args, ret } = call;
    if (name === 'open' || name === 'openat' || name === 'openat2') {
      if (ret === undefined || ret < 0) continue;
      const pathArg = name === 'open' ? args[0] : args[1];
      const given = pathArg === undefined ? undefined : unquote(pathArg);
      if (given === undefined) {
        unresolved++;
        continue;
      }
      let base = '/';
      if (!given.startsWith('/') && name !== 'open') {
        const dir = fdArg(args[0]);
        if (dir?.path !== undefined) base = dir.path;
        else if (args[0]?.startsWith('AT_FDCWD')) base = /^AT_FDCWD<(.*)>$/.exec(args[0])?.[1] ?? '/';
        else if (dir) {
          const st = lookup(pid, dir.fd);
          if (!st) {
            unresolved++;
            continue;
          }
          base = st.path;
        }
      }
      const st: FdState = { path: normalizePath(given, base), pos: 0 };
      table(pid).set(ret, st);
      lastOpened.set(ret, st);
      continue;
    }
    const fa = fdArg(args[0]);
    if (!fa) continue;
    if (name === 'close') {
      tables.get(pid)?.delete(fa.fd);
      lastOpened.delete(fa.fd);
      continue;
    }
    let st = lookup(pid, fa.fd);
    if (fa.path !== undefined && (!st || st.path !== normalizePath(fa.path))) {
      // strace -y names the file: trust it over our bookkeeping (position unknown: start of file).
      st = { path: normalizePath(fa.path), pos: 0 };
      table(pid).set(fa.fd, st);
    }
    if (name === 'lseek') {
      if (st && ret !== undefined && ret >= 0) st.pos = ret;
      continue;
    }
    if (ret === undefined || ret <= 0) continue;
    if (!st) {
      unresolved++;
      continue;
    }
    if (name === 'read') {
      ops.push({ path: st.path, offset: st.pos, length: ret });
      st.pos += ret;
    } else if (name === 'pread64') {
      const off = Number(args[3]);
      if (!Number.isSafeInteger(off) || off < 0) {
        unresolved++;
        continue;
      }
      ops.push({ path: st.path, offset: off, length: ret });
    }
  }
  return { format: 'strace', ops, unresolved };
}
