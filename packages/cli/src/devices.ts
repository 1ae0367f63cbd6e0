// --device IMG=PATH: the extra devices of a multi-device image (mainline's device= mount option), given
// in table order and repeatable, on every command that opens an image. Gathered once per command (a
// preAction hook) into this process's table, which openImage and the experiments read by image path.
import { resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';

const table = new Map<string, string[]>();

/** One `IMG=PATH` value, appended to the ones before it. */
export function parseDeviceArg(v: string, prev: string[] | undefined): string[] {
  const eq = v.indexOf('=');
  if (eq <= 0 || eq === v.length - 1)
    throw new InvalidArgumentError(
      'expected IMAGE=DEVICE, e.g. --device meta.img=blob.img (repeat it, in table order)',
    );
  return [...(prev ?? []), v];
}

/** Record the devices of this command's images (IMG=PATH values in the order given). */
export function setDevices(values: readonly string[] | undefined): void {
  table.clear();
  for (const v of values ?? []) {
    const eq = v.indexOf('=');
    const image = resolve(v.slice(0, eq));
    const list = table.get(image) ?? [];
    list.push(resolve(v.slice(eq + 1)));
    table.set(image, list);
  }
}

/** The devices given for `image`, in table order, or undefined when none were. */
export function devicesOf(image: string): string[] | undefined {
  return table.get(resolve(image));
}

/** The devices of `images` as @ishare/workers' experiments take them (keyed as the images are named). */
export function devicesRecord(images: readonly string[]): Record<string, string[]> | undefined {
  const out: Record<string, string[]> = {};
  for (const i of images) {
    const d = devicesOf(i);
    if (d !== undefined) out[i] = d;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** Add --device to a command that opens images. */
export function withDeviceOption(cmd: Command): Command {
  return cmd
    .option(
      '--device <image=path>',
      'an extra device of a multi-device image (--blobdev blob, --tar=i tar, fsmeta layer), repeatable, in table order',
      parseDeviceArg,
    )
    .hook('preAction', (_cmd, action) => {
      setDevices(action.opts<{ device?: string[] }>().device);
    });
}
