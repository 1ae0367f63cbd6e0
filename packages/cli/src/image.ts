// Opening an image named on the command line, with user-facing errors for the usual mistakes.
import { statSync } from 'node:fs';
import { ErofsImage } from './engine.ts';
import { errnoOf, pathError, UsageError } from './errors.ts';
import { isErofsError, type ErofsInode } from './core.ts';
import { devicesOf } from './devices.ts';

/** Check the path is a readable regular file before the reader sees it, so the message names the path. */
export function checkImagePath(path: string): void {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    const code = errnoOf(e);
    if (code !== undefined) throw pathError(path, code);
    throw e;
  }
  if (st.isDirectory()) throw pathError(path, 'EISDIR');
}

/**
 * A path inside an image, resolved; a path that is not there (or runs through a file) is one line naming
 * the image and the path: `IMG: /a/b: No such file or directory`.
 */
export function lookup(img: ErofsImage, image: string, path: string, opts: { follow: boolean }): ErofsInode {
  try {
    return path === '/' ? img.root() : img.resolve(path, opts);
  } catch (e) {
    if (isErofsError(e)) throw new UsageError(`${image}: ${e.message}`);
    throw e;
  }
}

export function openImage(path: string): ErofsImage {
  checkImagePath(path);
  try {
    const devices = devicesOf(path);
    return ErofsImage.open(path, undefined, devices !== undefined ? { paths: devices } : undefined);
  } catch (e) {
    // Name the image: with several on one command line the reader's message alone says not which.
    // (Device errors name the image already.)
    if (isErofsError(e)) throw new UsageError(e.message.startsWith(`${path}: `) ? e.message : `${path}: ${e.message}`);
    throw e;
  }
}

/** Run `fn` with an open image and always close it. */
export async function withImage<T>(path: string, fn: (img: ErofsImage) => Promise<T> | T): Promise<T> {
  const img = openImage(path);
  try {
    return await fn(img);
  } finally {
    img.close();
  }
}

/** Image paths are absolute inside the image; accept `a/b` too. */
export function imagePath(p: string | undefined): string {
  if (p === undefined || p === '') return '/';
  return p.startsWith('/') ? p : `/${p}`;
}
