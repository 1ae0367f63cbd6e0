// The kernel's own EROFS: the images loop-mounted read-only. A remount is how a run gets this mount's
// page cache cold without touching anyone else's (umount frees every inode of the mount with its pages);
// the image files' own cache (the loop device reads through it) is left to the caller to keep or evict.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

function run(cmd: string, args: readonly string[]): string | undefined {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) return `${cmd}: ${r.error.message}`;
  if (r.status !== 0) return `${cmd} ${args.join(' ')}: ${(r.stderr || `exit ${r.status}`).trim()}`;
  return undefined;
}

export class LoopMounts {
  readonly images: readonly string[];
  readonly dirs: readonly string[];
  private mounted: boolean[];
  private readonly onExit = (): void => this.close();

  private constructor(images: readonly string[], dirs: string[]) {
    this.images = images;
    this.dirs = dirs;
    this.mounted = dirs.map(() => false);
    process.on('exit', this.onExit);
  }

  /** Mount every image, or say why it cannot be done here (nothing is left mounted then). */
  static open(images: readonly string[]): { mounts?: LoopMounts; reason?: string } {
    if (process.platform !== 'linux') return { reason: `not Linux (${process.platform})` };
    if (typeof process.getuid === 'function' && process.getuid() !== 0) return { reason: 'not root (mount -o loop needs it)' };
    const base = mkdtempSync(join(tmpdir(), 'ishare-bench-loop-'));
    const lm = new LoopMounts(images, images.map((_, i) => join(base, String(i))));
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

  private umountAll(): string | undefined {
    for (let i = 0; i < this.dirs.length; i++) {
      if (!this.mounted[i]) continue;
      const err = run('umount', [this.dirs[i]]);
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
    // Never a recursive removal: a directory still mounted must stay as it is.
    if (this.umountAll() !== undefined) return;
    for (const d of this.dirs) rmdirSync(d);
    if (this.dirs.length > 0) rmdirSync(dirname(this.dirs[0]));
  }
}
