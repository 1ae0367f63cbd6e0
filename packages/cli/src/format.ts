// Pure text formatting shared by the commands (ls -l style lines, sizes, hex).
import { DATALAYOUT, S_IFMT, type FileType } from './core.ts';

const TYPE_CHAR: Record<FileType, string> = {
  file: '-',
  dir: 'd',
  symlink: 'l',
  chardev: 'c',
  blockdev: 'b',
  fifo: 'p',
  socket: 's',
};

/** `ls -l` mode string, e.g. `-rwsr-xr-x`, from a full st_mode and its file type. */
export function modeString(type: FileType, mode: number): string {
  const bit = (mask: number, ch: string): string => ((mode & mask) !== 0 ? ch : '-');
  // setuid/setgid/sticky replace the execute letter: lower case when x is also set, upper case when not.
  const exec = (x: number, special: number, on: string, off: string): string => {
    const hasX = (mode & x) !== 0;
    if ((mode & special) !== 0) return hasX ? on : off;
    return hasX ? 'x' : '-';
  };
  return (
    TYPE_CHAR[type] +
    bit(0o400, 'r') +
    bit(0o200, 'w') +
    exec(0o100, 0o4000, 's', 'S') +
    bit(0o040, 'r') +
    bit(0o020, 'w') +
    exec(0o010, 0o2000, 's', 'S') +
    bit(0o004, 'r') +
    bit(0o002, 'w') +
    exec(0o001, 0o1000, 't', 'T')
  );
}

/** Permission bits only (what chmod takes). */
export function permBits(mode: number): number {
  return mode & ~S_IFMT & 0o7777;
}

/** `YYYY-MM-DD HH:MM` in UTC: stable across machines, unlike local time. */
export function formatMtime(seconds: number): string {
  const d = new Date(seconds * 1000);
  if (Number.isNaN(d.getTime())) return String(seconds);
  return d.toISOString().slice(0, 16).replace('T', ' ');
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

const LAYOUT_NAMES: Record<number, string> = Object.fromEntries(Object.entries(DATALAYOUT).map(([k, v]) => [v, k]));

/** DATALAYOUT number → its name (FLAT_PLAIN, FLAT_INLINE, CHUNK_BASED, COMPRESSED_*). */
export function layoutName(layout: number): string {
  return LAYOUT_NAMES[layout] ?? `LAYOUT_${layout}`;
}

/** Linux dev_t split (new_decode_dev), as `ls -l` shows devices. */
export function devMajorMinor(rdev: number): [number, number] {
  const major = (rdev >>> 8) & 0xfff;
  const minor = (rdev & 0xff) | ((rdev >>> 12) & 0xfff00);
  return [major, minor];
}

export function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

/**
 * Align rows into columns separated by one space; the columns listed in `right` are right-aligned
 * (numbers), the last column is never padded (names may contain anything).
 */
export function alignColumns(rows: readonly string[][], right: ReadonlySet<number>): string[] {
  const widths: number[] = [];
  for (const r of rows)
    r.forEach((c, i) => {
      widths[i] = Math.max(widths[i] ?? 0, c.length);
    });
  return rows.map((r) =>
    r
      .map((c, i) => {
        if (i === r.length - 1) return c;
        return right.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]);
      })
      .join(' '),
  );
}
