// Multi-device images (kernel: super.c erofs_scan_devices / erofs_init_device, data.c erofs_map_dev).
// An image with INCOMPAT_DEVICE_TABLE names extra devices in a table of 128-byte slots; data blocks
// live on them, addressed either by (device id, block) in a chunk index or by one unified block
// address, where slot i's device starts at its uniaddr (mapped_blkaddr). This reader always works in
// that unified space, as the kernel does with `flatdev`: every device occupies [uniaddr, uniaddr +
// blocks) blocks of one address space, a device id in a chunk index becomes uniaddr + block, and a
// DeviceSpace routes each read to the device that holds it. A slot without a uniaddr (0, which
// upstream mkfs never writes) gets a place after every other device, so one rule serves all images.
// Where the devices come from is the caller's choice, in table order (mount's `device=`); without one
// a device is looked up beside the image when its tag names a file there, else served by the primary
// image itself when that holds the whole unified space (the kernel's flatdev), else refused by name.
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ErofsError } from './errors.ts';
import {
  DEVT_TAG_SIZE,
  DS,
  EROFS_DEVT_SLOT_SIZE,
  EROFS_SUPER_MAGIC_V1,
  EROFS_SUPER_OFFSET,
  FEATURE_INCOMPAT,
  SB,
} from './format.ts';
import { readAt, u16, u32 } from './source.ts';
import type { BlockSource, Superblock } from './types.ts';

/** One slot of the device table. */
export interface DeviceSlot {
  /** Device id as chunk indexes name it: 1 for the first slot. */
  readonly id: number;
  /** The tag up to its first NUL, as latin1 (a digest, a uuid in hex, or a file name). */
  readonly tag: string;
  readonly blocks: number;
  /** Unified starting block (mapped_blkaddr); 0 when the image gives none. */
  readonly uniaddr: number;
}

/** The 64 tag bytes a device slot carries for `tag` (NUL padded; longer tags are refused). */
export function encodeDeviceTag(tag: string): Uint8Array {
  const out = new Uint8Array(DEVT_TAG_SIZE);
  const bytes = Buffer.from(tag, 'latin1');
  if (bytes.length >= DEVT_TAG_SIZE || bytes.includes(0)) {
    throw new ErofsError('EINVAL', `device tag '${tag}' must be 1..63 bytes without NUL`);
  }
  out.set(bytes);
  return out;
}

/** upstream erofs_uuid_unparse_as_tag: the tag rebuild mode writes for a source image, its uuid in hex. */
export function uuidTag(uuid: string): string {
  return uuid.replace(/-/g, '').toLowerCase();
}

/** Read the device table; empty when the image has none. */
export function parseDeviceTable(src: BlockSource, sb: Superblock): DeviceSlot[] {
  if (sb.extraDevices === 0) return [];
  const wide = (sb.featureIncompat & FEATURE_INCOMPAT.BIT48) !== 0;
  const pos = sb.devtSlotoff * EROFS_DEVT_SLOT_SIZE;
  const len = sb.extraDevices * EROFS_DEVT_SLOT_SIZE;
  if (pos + len > src.size) {
    throw new ErofsError(
      'ETRUNCATED',
      `device table (${sb.extraDevices} slots at slot ${sb.devtSlotoff}) runs past the end of the image`,
      pos,
    );
  }
  const raw = readAt(src, pos, len);
  const out: DeviceSlot[] = [];
  for (let i = 0; i < sb.extraDevices; i++) {
    const at = i * EROFS_DEVT_SLOT_SIZE;
    const tagRaw = raw.subarray(at + DS.tag, at + DS.tag + DEVT_TAG_SIZE);
    const nul = tagRaw.indexOf(0);
    const tag = Buffer.from(tagRaw.subarray(0, nul < 0 ? DEVT_TAG_SIZE : nul)).toString('latin1');
    const hiB = wide ? u16(raw, at + DS.blocksHi) : 0;
    const hiU = wide ? u16(raw, at + DS.uniaddrHi) : 0;
    out.push({
      id: i + 1,
      tag,
      blocks: hiB * 0x100000000 + u32(raw, at + DS.blocksLo),
      uniaddr: hiU * 0x100000000 + u32(raw, at + DS.uniaddrLo),
    });
  }
  return out;
}

/** Where one slot's device is read from. */
export interface DevicePlan {
  readonly slot: DeviceSlot;
  /** The device file, or undefined: the primary image holds it at its unified address (flatdev). */
  readonly path: string | undefined;
  /** How it was found: given in order, named by the tag beside the image, or inside the primary. */
  readonly how: 'given' | 'tag' | 'primary';
}

function slotName(s: DeviceSlot): string {
  return `device ${s.id}${s.tag !== '' ? ` (tag '${s.tag}')` : ''}`;
}

/** A tag that can name a file beside the image: one plain path component. */
function tagFileName(tag: string): string | undefined {
  // eslint-disable-next-line no-control-regex -- control characters never name a device file
  if (tag === '' || tag === '.' || tag === '..' || tag.includes('/') || /[\x00-\x1f\x7f]/.test(tag)) return undefined;
  return tag;
}

/**
 * Decide where each extra device is read from. `given` (mount's device= list, in table order) must
 * name exactly as many devices as the table has; without it each is found by its tag beside `image`,
 * or inside the primary image (`primarySize` bytes) when that holds its unified range.
 */
export function locateDevices(
  image: string,
  slots: readonly DeviceSlot[],
  blockSize: number,
  primarySize: number,
  given: readonly string[] | undefined,
): DevicePlan[] {
  if (given !== undefined && given.length > 0) {
    if (given.length !== slots.length) {
      throw new ErofsError(
        'ENODEV',
        `${image}: the image has ${slots.length} extra device(s), ${given.length} given (device= / --device, in table order)`,
      );
    }
    return slots.map((slot, i) => ({ slot, path: given[i], how: 'given' as const }));
  }
  return slots.map((slot) => {
    const name = tagFileName(slot.tag);
    if (name !== undefined) {
      const p = join(dirname(image), name);
      if (existsSync(p) && statSync(p).isFile()) return { slot, path: p, how: 'tag' as const };
    }
    if (slot.uniaddr > 0 && (slot.uniaddr + slot.blocks) * blockSize <= primarySize) {
      return { slot, path: undefined, how: 'primary' as const };
    }
    throw new ErofsError(
      'ENODEV',
      `${image}: ${slotName(slot)}, ${slot.blocks} blocks, is missing: give it with --device ${image}=PATH (in table order)`,
    );
  });
}

/** The uuid (8-4-4-4-12) of an EROFS image on `src`, or undefined when it holds none. */
function erofsUuid(src: BlockSource): string | undefined {
  if (src.size < EROFS_SUPER_OFFSET + 128) return undefined;
  const sb = readAt(src, EROFS_SUPER_OFFSET, 128);
  if (u32(sb, SB.magic) !== EROFS_SUPER_MAGIC_V1) return undefined;
  return Buffer.from(sb.subarray(SB.uuid, SB.uuid + 16)).toString('hex');
}

/**
 * Check a device against its slot before any file data is read from it: it must hold the slot's
 * blocks (a shorter file is a truncated blob, or the wrong device), and when the tag is an image uuid
 * in hex (what upstream's rebuild mode and our fsmeta writer put there) and the device is an EROFS
 * image, its uuid must be that one (a device given out of order, or another layer's blob).
 */
export function checkDevice(image: string, slot: DeviceSlot, path: string, src: BlockSource, blockSize: number): void {
  const want = slot.blocks * blockSize;
  if (src.size < want) {
    throw new ErofsError(
      'ETRUNCATED',
      `${image}: ${slotName(slot)} ${path} is ${src.size} bytes, the device table says ${slot.blocks} blocks (${want} bytes): truncated or the wrong device`,
    );
  }
  if (/^[0-9a-f]{32}$/.test(slot.tag)) {
    const uuid = erofsUuid(src);
    if (uuid !== undefined && uuid !== slot.tag) {
      throw new ErofsError(
        'ENODEV',
        `${image}: ${slotName(slot)} ${path} is the wrong device: its uuid is ${uuid} (devices given out of order?)`,
      );
    }
  }
}

/** One device's stretch of the unified address space. */
export interface DeviceRange {
  /** Device index: 0 the primary image, i the table's device i. */
  readonly dev: number;
  /** Byte range [start, end) in the unified space. */
  readonly start: number;
  readonly end: number;
  /** Where the device is read: its own source (at pos - start) or the primary (at pos). */
  readonly src: BlockSource;
  readonly srcOff: number;
  /** The device's descriptor when it is a file (for callers that read with their own calls), else -1. */
  readonly fd: number;
  readonly path: string | undefined;
}

function fdOf(src: BlockSource): number {
  const fd = (src as { fd?: unknown }).fd;
  return typeof fd === 'number' ? fd : -1;
}

/**
 * The unified address space of a multi-device image as one BlockSource: reads below the first extra
 * device's range (and any range a device of the primary serves) go to the primary image, the others to
 * the device that holds them, split where a read crosses from one device into the next. Counts reads
 * per device (`reads[dev]`), for inspect and tests.
 */
export class DeviceSpace implements BlockSource {
  readonly size: number;
  readonly primary: BlockSource;
  readonly slots: readonly DeviceSlot[];
  /** Ranges of the extra devices read from their own source, sorted by start. */
  readonly ranges: readonly DeviceRange[];
  /** Unified byte address where device id d's block 0 lies (index 0: the primary, 0). */
  readonly base: readonly number[];
  /** Bytes of device d (index 0: the primary image's size). */
  readonly length: readonly number[];
  /** device_id_mask: roundup_pow_of_two(extra_devices + 1) - 1, as the kernel masks chunk indexes. */
  readonly idMask: number;
  readonly reads: number[];
  private readonly owned: readonly BlockSource[];

  constructor(
    primary: BlockSource,
    blockSize: number,
    primaryBlocks: number,
    slots: readonly DeviceSlot[],
    sources: readonly (BlockSource | undefined)[],
    paths: readonly (string | undefined)[],
    owned: readonly BlockSource[],
  ) {
    this.primary = primary;
    this.slots = slots;
    this.owned = owned;
    let p2 = 1;
    while (p2 < slots.length + 1) p2 *= 2;
    this.idMask = p2 - 1;
    const base: number[] = [0];
    const length: number[] = [primary.size];
    let top = Math.max(primaryBlocks, 1);
    for (const s of slots) top = Math.max(top, s.uniaddr + s.blocks);
    const ranges: DeviceRange[] = [];
    const occupied: { start: number; end: number; id: number }[] = [{ start: 0, end: primaryBlocks, id: 0 }];
    for (let i = 0; i < slots.length; i++) {
      const s = slots[i];
      let startBlk = s.uniaddr;
      if (startBlk === 0) {
        startBlk = top;
        top += s.blocks;
      }
      for (const o of occupied) {
        if (s.blocks > 0 && startBlk < o.end && o.start < startBlk + s.blocks) {
          throw new ErofsError(
            'ECORRUPT',
            `device ${s.id} (blocks ${startBlk}..${startBlk + s.blocks}) overlaps ${o.id === 0 ? 'the primary device' : `device ${o.id}`} in the unified address space`,
          );
        }
      }
      occupied.push({ start: startBlk, end: startBlk + s.blocks, id: s.id });
      const start = startBlk * blockSize;
      base.push(start);
      length.push(s.blocks * blockSize);
      const src = sources[i];
      if (src !== undefined) {
        ranges.push({
          dev: s.id,
          start,
          end: start + s.blocks * blockSize,
          src,
          srcOff: 0,
          fd: fdOf(src),
          path: paths[i],
        });
      }
    }
    ranges.sort((x, y) => x.start - y.start);
    this.ranges = ranges;
    this.base = base;
    this.length = length;
    this.size = Math.max(primary.size, top * blockSize);
    this.reads = new Array<number>(slots.length + 1).fill(0);
  }

  /** Index into `ranges` of the device holding unified byte `pos`, or -1 (the primary serves it). */
  route(pos: number): number {
    const r = this.ranges;
    let lo = 0;
    let hi = r.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (pos < r[mid].start) hi = mid - 1;
      else if (pos >= r[mid].end) lo = mid + 1;
      else return mid;
    }
    return -1;
  }

  /** First unified byte after `pos` where the serving device changes (or Infinity). */
  boundary(pos: number): number {
    const i = this.route(pos);
    if (i >= 0) return this.ranges[i].end;
    for (const r of this.ranges) if (r.start > pos) return r.start;
    return Infinity;
  }

  read(dst: Uint8Array, pos: number): void {
    let done = 0;
    while (done < dst.length) {
      const at = pos + done;
      const i = this.route(at);
      const stop = Math.min(dst.length, done + (this.boundary(at) - at));
      const piece = dst.subarray(done, stop);
      if (i < 0) {
        this.reads[0]++;
        this.primary.read(piece, at);
      } else {
        const r = this.ranges[i];
        this.reads[r.dev]++;
        r.src.read(piece, at - r.start + r.srcOff);
      }
      done = stop;
    }
  }

  /**
   * erofs_map_dev for a chunk index: the unified byte address of block `blk` of device `deviceId`
   * (masked with idMask as the kernel does), checked to lie with `len` bytes inside that device.
   */
  chunkAddress(deviceId: number, blk: number, blockSize: number, len: number): number {
    const d = deviceId & this.idMask;
    if (d === 0) return blk * blockSize;
    if (d > this.slots.length) {
      throw new ErofsError('ECORRUPT', `chunk index names device ${d}, the image has ${this.slots.length}`);
    }
    if (blk * blockSize + len > this.length[d]) {
      throw new ErofsError(
        'ETRUNCATED',
        `chunk at block ${blk} of device ${d} runs past its ${this.slots[d - 1].blocks} blocks`,
      );
    }
    return this.base[d] + blk * blockSize;
  }

  /** Close the devices this space opened (not the primary). */
  closeDevices(): void {
    for (const s of this.owned) s.close();
  }

  close(): void {
    this.closeDevices();
    this.primary.close();
  }
}
