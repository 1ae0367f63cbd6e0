// `ishare cat IMG PATH`: the bytes of one file, streamed to stdout.
import type { Command } from 'commander';
import { withImage, imagePath, lookup } from '../image.ts';
import { UsageError } from '../errors.ts';
import { writeOutAsync } from '../output.ts';

// Large enough to amortise per-call overhead, small enough that a multi-GiB file never sits in memory.
const CHUNK = 1 << 20;

export async function runCat(image: string, path: string): Promise<void> {
  await withImage(image, async (img) => {
    const p = imagePath(path);
    const inode = lookup(img, image, p, { follow: true });
    if (inode.type === 'dir') throw new UsageError(`${image}: ${p}: Is a directory`);
    if (inode.type !== 'file') throw new UsageError(`${image}: ${p}: not a regular file (${inode.type})`);
    for (let off = 0; off < inode.size; off += CHUNK) {
      const len = Math.min(CHUNK, inode.size - off);
      await writeOutAsync(img.read(inode, off, len));
    }
  });
}

export function register(program: Command): void {
  program
    .command('cat')
    .summary('write a file from an image to stdout')
    .description(
      'Write the contents of the file at PATH inside an EROFS image to stdout. ' +
        'Symbolic links are followed inside the image (absolute targets start at its root).',
    )
    .addHelpText('after', '\nExample:\n  ishare cat app.img /etc/os-release | head')
    .argument('<image>', 'EROFS image file')
    .argument('<path>', 'path of a regular file inside the image')
    .action(async (image: string, path: string) => runCat(image, path));
}
