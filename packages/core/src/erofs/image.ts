// ErofsImage: one opened image and the per-thread caches of its immutable metadata (parsed inodes,
// directory blocks, chunk tables). The on-disk format work lives in the pure modules next door;
// this class only wires them to a BlockSource and remembers what it already parsed.
import { constants as bufferConstants } from 'node:buffer';
import { ErofsError, isErofsError } from './errors.ts';
import { DATALAYOUT, FEATURE_COMPAT, FEATURE_INCOMPAT, FT, Z_PCLUSTER_MAX_DSIZE } from './format.ts';
import {
  type ChunkTable,
  loadChunkTable,
  MAP_HOLE,
  mapInto,
  type MappingOut,
  newMappingOut,
  readData,
  toBlockMapping,
} from './data.ts';
import { findInBlock, compareNames, parseDirBlock } from './dir.ts';
import { nidInRange, type ParsedInode, parseInode } from './inode.ts';
import { checkDevice, type DeviceSlot, DeviceSpace, locateDevices, parseDeviceTable } from './devices.ts';
import { decodeNid, deviceSpaceOf, hasMetabox, MetaSpace } from './metabox.ts';
import { BufferSource, FileSource, readAt } from './source.ts';
import { zbioForget } from './zbio.ts';
import { parseSuperblock } from './super.ts';
import type { BlockMapping, BlockSource, DirEntry, ErofsInode, RawXattr, Superblock, Xattr } from './types.ts';
import { newZMapOut, ZMapper, type ZMapOut } from './zmap.ts';
import { zReadData } from './zread.ts';
import {
  findFingerprint,
  fullName,
  listRawXattrs,
  listXattrs,
  parsePrefixTable,
  type FingerprintResult,
  type XattrPrefix,
} from './xattr.ts';

export type { MappingOut } from './data.ts';
export { MAP_HOLE, MAP_INLINE, MAP_MAPPED } from './data.ts';

/** The kernel's MAXSYMLINKS: links followed during one path walk. */
export const MAX_SYMLINKS = 40;
/** Longest symlink target we accept (the kernel reads a symlink into one page). */
const MAX_SYMLINK_LEN = 4095;

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8');
const DOT = utf8Encoder.encode('.');
const DOTDOT = utf8Encoder.encode('..');

function splitPath(path: string): string[] {
  return path.split('/').filter((c) => c.length > 0);
}

/** Entries of an image's path cache before it starts over (bounds its memory per thread and mount). */
const RESOLVED_MAX = 1 << 16;

/** Where a multi-device image's extra devices come from (devices.ts); ignored for single-device images. */
export interface ImageDevices {
  /** Device files in table order (mount's `device=`); without them each is located (locateDevices). */
  readonly paths?: readonly string[];
  /** Open descriptors of `paths` (same order), which stay their owner's: the image never opens those paths. */
  readonly fds?: readonly number[];
  /** In-memory devices in table order (tests, fuzzing); they take precedence over paths. */
  readonly sources?: readonly BlockSource[];
}

/** Open the extra devices of an image whose superblock `sb` names some; returns the unified space. */
function openDevices(primary: BlockSource, sb: Superblock, path: string | undefined, dev: ImageDevices): DeviceSpace {
  const name = path ?? 'image';
  const slots = parseDeviceTable(primary, sb);
  const opened: BlockSource[] = [];
  try {
    let sources: (BlockSource | undefined)[];
    let paths: (string | undefined)[];
    if (dev.sources !== undefined && dev.sources.length > 0) {
      if (dev.sources.length !== slots.length) {
        throw new ErofsError(
          'ENODEV',
          `${name}: the image has ${slots.length} extra device(s), ${dev.sources.length} given`,
        );
      }
      sources = [...dev.sources];
      paths = slots.map((s) => `device ${s.id}`);
    } else {
      const plan = locateDevices(name, slots, sb.blockSize, primary.size, dev.paths);
      paths = plan.map((p) => p.path);
      sources = plan.map((p, i) => {
        if (p.path === undefined) return undefined;
        let src: FileSource;
        try {
          const fd = dev.paths !== undefined ? dev.fds?.[i] : undefined;
          src = new FileSource(p.path, fd !== undefined && fd >= 0 ? fd : undefined);
        } catch (e) {
          const reason = isErofsError(e) ? e.message : ((e as NodeJS.ErrnoException).code ?? (e as Error).message);
          throw new ErofsError('ENODEV', `${name}: device ${p.slot.id}: cannot open ${p.path}: ${reason}`);
        }
        // A descriptor the caller gave stays the caller's; close() of a FileSource over it leaves it open.
        opened.push(src);
        return src;
      });
    }
    slots.forEach((s, i) => {
      const src = sources[i];
      if (src !== undefined) checkDevice(name, s, paths[i] ?? `device ${s.id}`, src, sb.blockSize);
    });
    return new DeviceSpace(primary, sb.blockSize, sb.blocks, slots, sources, paths, opened);
  } catch (e) {
    for (const o of opened) o.close();
    throw e;
  }
}

/**
 * The packed inode's decoded extents one image keeps (its page cache, bounded; the latest is always
 * kept), and the longest it decodes whole: the kernel's bound on an extent's decoded size.
 */
const PACKED_CACHE_BYTES = 16 * 1024 * 1024;
const PACKED_EXTENT_MAX = Z_PCLUSTER_MAX_DSIZE;

export class ErofsImage {
  /**
   * What the image's data is read from: the image file, or for a multi-device image its DeviceSpace;
   * on a metabox image a MetaSpace over either, which also serves the metabox (metabox.ts).
   */
  readonly source: BlockSource;
  /** The device table (empty for a single-device image). */
  readonly devices: readonly DeviceSlot[];
  readonly sb: Superblock;
  readonly blockSize: number;
  readonly path: string | undefined;

  private readonly inodes = new Map<number, ParsedInode>();
  private readonly dirBlocks = new Map<number, (DirEntry[] | undefined)[]>();
  private readonly chunkTables = new Map<number, ChunkTable>();
  private readonly zmappers = new Map<number, ZMapper>();
  /**
   * Whole decoded extents of the packed inode, oldest first — what the kernel keeps in the packed inode's
   * page cache. A file's fragment is a slice of one of them; decoded slice by slice, every fragment paid
   * for its extent's prefix again (a -C1048576 -Efragments lzma image read file by file decoded ~7x its
   * size).
   */
  private readonly packedExtents: { la: number; data: Uint8Array }[] = [];
  private packedCached = 0;
  private prefixes: XattrPrefix[] | undefined;
  /** Paths already resolved (the image is immutable): a small dcache, emptied when full. */
  private readonly resolved = new Map<string, ErofsInode>();

  /** Open the image at `path`, or read it through `fd`, a descriptor of it the caller keeps owning. */
  static open(path: string, fd?: number, devices?: ImageDevices): ErofsImage {
    let src: FileSource;
    try {
      src = new FileSource(path, fd);
    } catch (e) {
      const reason = isErofsError(e) ? e.message : ((e as NodeJS.ErrnoException).code ?? (e as Error).message);
      throw new ErofsError('ENOENT', `cannot open ${path}: ${reason}`);
    }
    try {
      return new ErofsImage(src, path, devices);
    } catch (e) {
      src.close();
      throw e;
    }
  }

  static fromBuffer(buf: Uint8Array, devices?: readonly Uint8Array[]): ErofsImage {
    return new ErofsImage(new BufferSource(buf), undefined, { sources: devices?.map((d) => new BufferSource(d)) });
  }

  constructor(source: BlockSource, path?: string, devices?: ImageDevices) {
    this.path = path;
    this.sb = parseSuperblock(source);
    this.blockSize = this.sb.blockSize;
    let base: BlockSource;
    if (this.sb.extraDevices > 0) {
      const space = openDevices(source, this.sb, path, devices ?? {});
      base = space;
      this.devices = space.slots;
    } else {
      base = source;
      this.devices = [];
    }
    this.source = hasMetabox(this.sb) ? new MetaSpace(base, this.blockSize) : base;
    try {
      if (this.source instanceof MetaSpace) this.attachMetabox(this.source);
      const root = this.root();
      if (root.type !== 'dir') {
        throw new ErofsError('ECORRUPT', `root nid ${root.nid} is not a directory`, root.iloc);
      }
    } catch (e) {
      // The caller closes the source it gave; the devices opened here are this image's to close.
      deviceSpaceOf(this.source)?.closeDevices();
      throw e;
    }
  }

  /** The metabox inode (an ordinary regular file of the image) becomes the metabox range of `space`. */
  private attachMetabox(space: MetaSpace): void {
    const box = this.inode(this.sb.metaboxNid);
    if (box.type !== 'file') {
      throw new ErofsError('ECORRUPT', `metabox inode nid ${box.nid} is not a regular file`, box.iloc);
    }
    space.attach(box.size, (dst, pos) => {
      this.readInto(box, dst, pos);
    });
  }

  /** The file extra device `id` is read from; undefined when the image itself holds it (or for buffers). */
  devicePath(id: number): string | undefined {
    return deviceSpaceOf(this.source)?.ranges.find((r) => r.dev === id)?.path;
  }

  root(): ErofsInode {
    return this.inode(this.sb.rootNid);
  }

  /** Entries in the path cache (what a mount's dentries would be). */
  get cachedPaths(): number {
    return this.resolved.size;
  }

  inode(nid: number): ErofsInode {
    let ino = this.inodes.get(nid);
    if (ino === undefined) {
      ino = parseInode(this.source, this.sb, nid);
      this.inodes.set(nid, ino);
    }
    return ino;
  }

  private nidOk = (nid: number): boolean => nidInRange(this.sb, nid, this.source.size);

  private requireDir(dir: ErofsInode): void {
    if (dir.type !== 'dir') throw new ErofsError('ENOTDIR', `nid ${dir.nid} is not a directory`);
  }

  private dirBlockCount(dir: ErofsInode): number {
    return Math.ceil(dir.size / this.blockSize);
  }

  /** Entries of directory block `i`, parsed once and cached. */
  private dirBlock(dir: ErofsInode, i: number): DirEntry[] {
    let blocks = this.dirBlocks.get(dir.nid);
    if (blocks === undefined) {
      blocks = [];
      this.dirBlocks.set(dir.nid, blocks);
    }
    let entries = blocks[i];
    if (entries === undefined) {
      const start = i * this.blockSize;
      const len = Math.min(this.blockSize, dir.size - start);
      let pos: number | undefined;
      if (!dir.compressed) {
        const m = newMappingOut();
        this.mapBlocksInto(dir, start, m);
        pos = m.kind === MAP_HOLE ? undefined : m.physical + (start - m.logical);
      }
      const buf = new Uint8Array(len);
      this.readInto(dir, buf, start);
      entries = parseDirBlock(buf, dir.nid, pos, this.nidOk, (b, off) => decodeNid(this.sb, b, off));
      blocks[i] = entries;
    }
    return entries;
  }

  readdir(dir: ErofsInode): DirEntry[] {
    this.requireDir(dir);
    const out: DirEntry[] = [];
    if ((dir as Partial<ParsedInode>).dotOmitted)
      out.push({ name: '.', nameBytes: DOT.slice(), nid: dir.nid, fileType: FT.DIR });
    const n = this.dirBlockCount(dir);
    for (let i = 0; i < n; i++) for (const e of this.dirBlock(dir, i)) out.push(e);
    return out;
  }

  /**
   * Find `name` in `dir` the way the kernel does: binary search over the blocks by their first
   * name, then within the last block whose first name sorts before it.
   */
  lookup(dir: ErofsInode, name: string | Uint8Array): number | undefined {
    this.requireDir(dir);
    const key = typeof name === 'string' ? utf8Encoder.encode(name) : name;
    if (key.length === 0) return undefined;
    if ((dir as Partial<ParsedInode>).dotOmitted && compareNames(key, DOT) === 0) return dir.nid;
    let lo = 0;
    let hi = this.dirBlockCount(dir) - 1;
    let candidate = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const entries = this.dirBlock(dir, mid);
      const c = compareNames(key, entries[0].nameBytes);
      if (c === 0) return entries[0].nid;
      if (c > 0) {
        candidate = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    if (candidate < 0) return undefined;
    return findInBlock(this.dirBlock(dir, candidate), key, 1)?.nid;
  }

  resolve(path: string, opts?: { follow?: boolean }): ErofsInode {
    if (opts === undefined) {
      const hit = this.resolved.get(path);
      if (hit !== undefined) return hit;
      const ino = this.resolveWalk(path, opts);
      if (this.resolved.size >= RESOLVED_MAX) this.resolved.clear();
      this.resolved.set(path, ino);
      return ino;
    }
    return this.resolveWalk(path, opts);
  }

  private resolveWalk(path: string, opts?: { follow?: boolean }): ErofsInode {
    const root = this.root();
    const mustBeDir = path.endsWith('/') && splitPath(path).length > 0;
    const followLast = (opts?.follow ?? true) || mustBeDir;
    let queue = splitPath(path);
    let idx = 0;
    let cur = root;
    let links = 0;
    const walked: string[] = [];
    while (idx < queue.length) {
      const comp = queue[idx++];
      if (cur.type !== 'dir') {
        throw new ErofsError('ENOTDIR', `/${walked.join('/')}: Not a directory (resolving ${path})`);
      }
      if (comp === '.') continue;
      if (comp === '..') {
        // '..' at the root stays at the root: nothing outside the image is reachable.
        if (cur.nid !== root.nid) {
          const up = this.lookup(cur, DOTDOT);
          if (up === undefined)
            throw new ErofsError('ECORRUPT', `directory nid ${cur.nid} has no '..' entry`, cur.iloc);
          cur = this.inode(up);
          if (cur.type !== 'dir')
            throw new ErofsError('ECORRUPT', `'..' of a directory is not a directory (nid ${up})`, cur.iloc);
        }
        walked.pop();
        continue;
      }
      const nid = this.lookup(cur, comp);
      if (nid === undefined) {
        throw new ErofsError('ENOENT', `/${[...walked, comp].join('/')}: No such file or directory`);
      }
      const node = this.inode(nid);
      const last = idx >= queue.length;
      if (node.type === 'symlink' && (!last || followLast)) {
        if (++links > MAX_SYMLINKS) {
          throw new ErofsError('ELOOP', `${path}: Too many levels of symbolic links`);
        }
        const target = this.readlink(node);
        // Absolute targets restart at the image root, never at the host's.
        if (target.startsWith('/')) {
          cur = root;
          walked.length = 0;
        }
        queue = [...splitPath(target), ...queue.slice(idx)];
        idx = 0;
        continue;
      }
      cur = node;
      walked.push(comp);
    }
    if (mustBeDir && cur.type !== 'dir') {
      throw new ErofsError('ENOTDIR', `${path}: Not a directory`);
    }
    return cur;
  }

  readlink(inode: ErofsInode): string {
    if (inode.type !== 'symlink') throw new ErofsError('EINVAL', `nid ${inode.nid} is not a symlink`);
    if (inode.size > MAX_SYMLINK_LEN) {
      throw new ErofsError('ECORRUPT', `symlink nid ${inode.nid} target is ${inode.size} bytes long`, inode.iloc);
    }
    const buf = new Uint8Array(inode.size);
    this.readInto(inode, buf, 0);
    return utf8Decoder.decode(buf);
  }

  /**
   * The long xattr name prefix table, read on first use. Where it lives follows erofs-utils
   * (xattr_prefixes_init): with COMPAT_PLAIN_XATTR_PFX, or without a metabox or packed inode, at
   * xattr_prefix_start * 4 of the device; otherwise at that offset of the metabox inode's data, or
   * without a metabox, of the packed inode's.
   */
  private prefixTable = (): readonly XattrPrefix[] => {
    if (this.prefixes === undefined) {
      const sb = this.sb;
      const plain = (sb.featureCompat & FEATURE_COMPAT.PLAIN_XATTR_PFX) !== 0;
      if (sb.xattrPrefixCount === 0) {
        this.prefixes = [];
      } else if (!plain && (sb.metaboxNid !== 0 || sb.packedNid !== 0)) {
        const packed = this.inode(sb.metaboxNid !== 0 ? sb.metaboxNid : sb.packedNid);
        const what = sb.metaboxNid !== 0 ? 'metabox' : 'packed';
        this.prefixes = parsePrefixTable(
          (pos, len) => {
            if (pos + len > packed.size) {
              throw new ErofsError('ETRUNCATED', `xattr prefix table runs past the ${what} inode`, packed.iloc);
            }
            return this.read(packed, pos, len);
          },
          sb.xattrPrefixStart,
          sb.xattrPrefixCount,
        );
      } else {
        this.prefixes = parsePrefixTable(
          (pos, len) => readAt(this.source, pos, len),
          sb.xattrPrefixStart,
          sb.xattrPrefixCount,
        );
      }
    }
    return this.prefixes;
  };

  /** The long name prefixes of the image (empty without INCOMPAT_XATTR_PREFIXES). */
  longPrefixes(): readonly XattrPrefix[] {
    return this.prefixTable();
  }

  /** The xattrs listxattr shows (hidden base-index-0 names left out, as the kernel does). */
  xattrs(inode: ErofsInode): Xattr[] {
    return listXattrs(this.source, this.sb, inode, this.prefixTable);
  }

  /** Every on-disk xattr entry, hidden ones included. */
  rawXattrs(inode: ErofsInode): RawXattr[] {
    return listRawXattrs(this.source, this.sb, inode, this.prefixTable);
  }

  getXattr(inode: ErofsInode, name: string): Uint8Array | undefined {
    for (const x of this.xattrs(inode)) if (x.name === name) return x.value;
    return undefined;
  }

  /** The ishare fingerprint prefix (COMPAT_ISHARE_XATTRS), or undefined when the image has none. */
  fingerprintPrefix(): XattrPrefix | undefined {
    if (!this.sb.hasFingerprints) return undefined;
    // parseSuperblock checked the id against the count; the table itself may still be corrupt.
    return this.prefixTable()[this.sb.ishareXattrPrefixId];
  }

  /** The fingerprint xattr's name as erofs-utils prints it ("erofs.fingerprint.v1" by default). */
  fingerprintName(): string | undefined {
    const p = this.fingerprintPrefix();
    return p === undefined ? undefined : fullName(p.baseIndex, p.infix);
  }

  /** Whether the inode has a usable fingerprint, none, or a malformed one (then it is not shared). */
  fingerprintResult(inode: ErofsInode): FingerprintResult {
    if (inode.type !== 'file') return { status: 'none' };
    const p = this.fingerprintPrefix();
    if (p === undefined) return { status: 'none' };
    return findFingerprint(this.rawXattrs(inode), p);
  }

  /** The sha256 digest (hex) the inode's fingerprint carries, when it has a well-formed one. */
  fingerprint(inode: ErofsInode): string | undefined {
    const r = this.fingerprintResult(inode);
    return r.status === 'ok' ? r.hex : undefined;
  }

  private chunkTable(inode: ErofsInode): ChunkTable {
    let t = this.chunkTables.get(inode.nid);
    if (t === undefined) {
      t = loadChunkTable(this.source, this.sb, inode);
      this.chunkTables.set(inode.nid, t);
    }
    return t;
  }

  mapBlocks(inode: ErofsInode, offset: number): BlockMapping {
    const m = newMappingOut();
    this.mapBlocksInto(inode, offset, m);
    return toBlockMapping(m);
  }

  mapBlocksInto(inode: ErofsInode, offset: number, out: MappingOut): void {
    const table =
      inode.layout === DATALAYOUT.CHUNK_BASED && !inode.compressed && offset >= 0 && offset < inode.size
        ? this.chunkTable(inode)
        : undefined;
    mapInto(this.source, this.sb, inode, offset, out, table);
  }

  read(inode: ErofsInode, offset: number, length: number): Uint8Array {
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw new ErofsError('EINVAL', `bad read range offset ${offset} length ${length}`);
    }
    const n = Math.max(0, Math.min(length, inode.size - offset));
    let buf: Uint8Array;
    try {
      if (n > bufferConstants.MAX_LENGTH) throw new RangeError('over the buffer limit');
      buf = new Uint8Array(n);
    } catch {
      // A (possibly forged) i_size of a sparse file can exceed what one buffer may hold.
      throw new ErofsError(
        'EINVAL',
        `read of ${n} bytes of nid ${inode.nid} is too large for one buffer; use readInto`,
      );
    }
    this.readInto(inode, buf, offset);
    return buf;
  }

  /** The extent mapper of a compressed inode (its map header parsed once). */
  zmapper(inode: ErofsInode): ZMapper {
    let z = this.zmappers.get(inode.nid);
    if (z === undefined) {
      if (!inode.compressed) throw new ErofsError('EINVAL', `nid ${inode.nid} is not compressed`);
      z = new ZMapper(this.source, this.sb, inode);
      this.zmappers.set(inode.nid, z);
    }
    return z;
  }

  /** Reads fragment bytes from the packed inode (which must not itself hold fragments). */
  readPacked(fromNid: number, dst: Uint8Array, pos: number): void {
    const sb = this.sb;
    if (!(sb.featureIncompat & FEATURE_INCOMPAT.FRAGMENTS) || sb.packedNid === 0) {
      throw new ErofsError('ECORRUPT', `compressed nid ${fromNid} has a fragment but the image has no packed inode`);
    }
    if (fromNid === sb.packedNid) throw new ErofsError('ECORRUPT', `fragment inside the packed inode (nid ${fromNid})`);
    const packed = this.inode(sb.packedNid);
    if (packed.type !== 'file')
      throw new ErofsError('ECORRUPT', `packed inode nid ${packed.nid} is not a regular file`, packed.iloc);
    if (pos + dst.length > packed.size) {
      throw new ErofsError(
        'ECORRUPT',
        `fragment of nid ${fromNid} (${dst.length} bytes at ${pos}) runs past the packed inode's ${packed.size} bytes`,
      );
    }
    if (!packed.compressed) {
      this.readInto(packed, dst, pos);
      return;
    }
    const m = newZMapOut();
    for (let done = 0; done < dst.length;) {
      const at = pos + done;
      const ext = this.packedExtent(packed, at, m);
      if (ext === undefined) {
        // An extent too long to keep or undecodable as a whole (only a damaged image has one): read just
        // this fragment's bytes, as before.
        this.readInto(packed, dst.subarray(done), at);
        return;
      }
      const n = Math.min(dst.length - done, ext.la + ext.data.length - at);
      dst.set(ext.data.subarray(at - ext.la, at - ext.la + n), done);
      done += n;
    }
  }

  /**
   * The decoded extent of the compressed packed inode holding byte `at` (cached), or undefined when it is
   * longer than the kernel allows or does not map and decode as a whole.
   */
  private packedExtent(packed: ErofsInode, at: number, m: ZMapOut): { la: number; data: Uint8Array } | undefined {
    const cache = this.packedExtents;
    for (let i = cache.length - 1; i >= 0; i--) {
      const e = cache[i];
      if (at >= e.la && at < e.la + e.data.length) return e;
    }
    let e: { la: number; data: Uint8Array };
    try {
      this.zmapper(packed).mapFull(at, m);
      const end = Math.min(m.la + m.llen, packed.size);
      if (!(m.la <= at && at < end) || end - m.la > PACKED_EXTENT_MAX) return undefined;
      e = { la: m.la, data: new Uint8Array(end - m.la) };
      this.readInto(packed, e.data, e.la);
    } catch (err) {
      // Damage elsewhere in the extent must not fail this fragment: read alone, it decodes only its prefix.
      if (isErofsError(err)) return undefined;
      throw err;
    }
    cache.push(e);
    this.packedCached += e.data.length;
    while (this.packedCached > PACKED_CACHE_BYTES && cache.length > 1) this.packedCached -= cache.shift()!.data.length;
    return e;
  }

  readInto(inode: ErofsInode, dst: Uint8Array, offset: number): number {
    if (inode.compressed) {
      return zReadData(this.source, this.sb, this.zmapper(inode), dst, offset, (d, p) =>
        this.readPacked(inode.nid, d, p),
      );
    }
    const map = (off: number, out: MappingOut): void => this.mapBlocksInto(inode, off, out);
    return readData(this.source, inode, dst, offset, map, newMappingOut());
  }

  readFile(inode: ErofsInode): Uint8Array {
    if (inode.type === 'dir') throw new ErofsError('EISDIR', `nid ${inode.nid} is a directory`);
    if (inode.compressed) {
      // The index must hold the last byte before i_size bytes are allocated (a forged size fails here).
      if (inode.size > 0) this.zmapper(inode).map(inode.size - 1, newZMapOut());
      return this.read(inode, 0, inode.size);
    }
    // Validate the whole mapping before allocating i_size bytes, so a forged size fails cleanly.
    if (inode.size > 0) this.mapBlocksInto(inode, inode.size - 1, newMappingOut());
    if (inode.size > 0) this.mapBlocksInto(inode, 0, newMappingOut());
    return this.read(inode, 0, inode.size);
  }

  *walk(): Generator<{ path: string; inode: ErofsInode }> {
    const root = this.root();
    yield { path: '/', inode: root };
    const seen = new Set<number>([root.nid]);
    const stack: { prefix: string; entries: DirEntry[]; i: number }[] = [
      { prefix: '', entries: this.readdir(root), i: 0 },
    ];
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      if (top.i >= top.entries.length) {
        stack.pop();
        continue;
      }
      const e = top.entries[top.i++];
      if (e.name === '.' || e.name === '..') continue;
      const inode = this.inode(e.nid);
      const path = `${top.prefix}/${e.name}`;
      yield { path, inode };
      if (inode.type === 'dir') {
        // Directories cannot be hard linked: meeting one twice means the tree has a cycle.
        if (seen.has(inode.nid)) {
          throw new ErofsError(
            'ELOOP',
            `directory nid ${inode.nid} reached twice (at ${path}): directory cycle`,
            inode.iloc,
          );
        }
        seen.add(inode.nid);
        stack.push({ prefix: path, entries: this.readdir(inode), i: 0 });
      }
    }
  }

  close(): void {
    this.inodes.clear();
    this.dirBlocks.clear();
    this.chunkTables.clear();
    this.zmappers.clear();
    zbioForget(this.source);
    this.source.close();
  }
}
