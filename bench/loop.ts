// The kernel's own EROFS: the images loop-mounted read-only. A remount is how a run gets this mount's
// page cache cold without touching anyone else's (umount frees every inode of the mount with its pages);
// the image files' own cache (the loop device reads through it) is left to the caller to keep or evict.
import { runCommand } from './spawn.ts';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

function run(cmd: string, args: readonly string[]): string | undefined {
  const r = runCommand(cmd, args);
  if (r.error) return `${cmd}: ${r.error.message}`;
  if (r.status !== 0) return `${cmd} ${args.join(' ')}: ${(r.stderr || `exit ${r.status}`).trim()}`;
  return undefined;
}

const PREFIX = 'ishare-bench-loop-';

export class LoopMounts {
  readonly images: readonly string[];
  readonly dirs: readonly string[];
  private mounted: boolean[];
  private readonly onExit = (): void => this.close();
  // Interrupted: unmount before dying, or the mounts (and their loop devices) would outlive the bench.
  // A second signal must find a listener (or it kills us halfway through the unmount), so listen with
  // `on` and ignore repeats. This cannot cover everything: on Ctrl-C, tsx's parent process gives the
  // child 60 ms to answer and then SIGKILLs it — while we are blocked in a cache eviction, say. So
  // each run also reaps what a killed run left behind (reapStale).
  private closing = false;
  private readonly onSignal = (sig: NodeJS.Signals): void => {
    if (this.closing) return;
    this.closing = true;
    this.close();
    process.kill(process.pid, sig);
  };

  private constructor(images: readonly string[], dirs: string[]) {
    this.images = images;
    this.dirs = dirs;
    this.mounted = dirs.map(() => false);
    process.on('exit', this.onExit);
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
  }

  /**
   * Unmount and remove the mount points of earlier runs whose process is gone (their directory names
   * carry the pid). Returns how many mounts it took down.
   */
  static reapStale(): number {
    const prefix = join(tmpdir(), PREFIX);
    let mounts: string;
    try {
      mounts = readFileSync('/proc/mounts', 'utf8');
    } catch {
      return 0;
    }
    const dead = (dir: string): boolean => {
      const pid = Number(/^(\d+)-/.exec(dir.slice(prefix.length))?.[1]);
      if (!Number.isInteger(pid) || pid <= 0) return false;
      try {
        process.kill(pid, 0);
        return false;
      } catch (e) {
        return (e as { code?: string }).code === 'ESRCH';
      }
    };
    let reaped = 0;
    for (const line of mounts.split('\n')) {
      // /proc/mounts escapes blanks in paths as octal; ours have none, so a plain compare is enough.
      const at = line.split(' ')[1];
      if (at === undefined || !at.startsWith(prefix) || !dead(at)) continue;
      if (run('umount', ['-l', at]) === undefined) reaped++;
    }
    let names: string[];
    try {
      names = readdirSync(tmpdir()).filter((n) => n.startsWith(PREFIX));
    } catch {
      return reaped;
    }
    for (const n of names) {
      const base = join(tmpdir(), n);
      if (!dead(base)) continue;
      try {
        for (const d of readdirSync(base)) rmdirSync(join(base, d)); // fails (and stops) on anything still mounted or non-empty
        rmdirSync(base);
      } catch {
        // left for a later run
      }
    }
    return reaped;
  }

  /** Mount every image, or say why it cannot be done here (nothing is left mounted then). */
  static open(images: readonly string[]): { mounts?: LoopMounts; reason?: string } {
    if (process.platform !== 'linux') return { reason: `not Linux (${process.platform})` };
    if (typeof process.getuid === 'function' && process.getuid() !== 0)
      return { reason: 'not root (mount -o loop needs it)' };
    LoopMounts.reapStale();
    const base = mkdtempSync(join(tmpdir(), `${PREFIX}${process.pid}-`));
    const lm = new LoopMounts(
      images,
      images.map((_, i) => join(base, String(i))),
    );
    for (const d of lm.dirs) mkdirSync(d);
    const err = lm.mountAll();
    if (err !== undefined) {
      lm.close();
      return { reason: err };
    }
    return { mounts: lm };
  }

  private mountAll(): string | undefined {
    for (let i = 0; i < this.images.length; i++) {
      if (this.mounted[i]) continue;
      const err = run('mount', ['-t', 'erofs', '-o', 'loop,ro', this.images[i], this.dirs[i]]);
      if (err !== undefined) return err;
      this.mounted[i] = true;
    }
    return undefined;
  }

  private umountAll(lazy = false): string | undefined {
    for (let i = 0; i < this.dirs.length; i++) {
      if (!this.mounted[i]) continue;
      let err = run('umount', [this.dirs[i]]);
      // Busy (a reader thread still has a file open, say when interrupted): detach it now, the kernel
      // finishes the unmount when the files close — at the latest when this process exits.
      if (err !== undefined && lazy) err = run('umount', ['-l', this.dirs[i]]);
      if (err !== undefined) return err;
      this.mounted[i] = false;
    }
    return undefined;
  }

  /** Unmount and mount again; `between` runs while nothing is mounted (to evict the images, say). */
  remount(between?: () => void): void {
    const u = this.umountAll();
    if (u !== undefined) throw new Error(u);
    between?.();
    const m = this.mountAll();
    if (m !== undefined) throw new Error(m);
  }

  /** Absolute paths of image-relative paths (which start with '/') in mount i. */
  paths(i: number, rel: readonly string[]): string[] {
    return rel.map((p) => this.dirs[i] + p);
  }

  close(): void {
    process.off('exit', this.onExit);
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
    // Never a recursive removal: a directory still mounted must stay as it is.
    if (this.umountAll(true) !== undefined) return;
    for (const d of this.dirs) rmdirSync(d);
    if (this.dirs.length > 0) rmdirSync(dirname(this.dirs[0]));
  }
}
