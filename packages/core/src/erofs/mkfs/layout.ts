// Where everything goes. The image is laid out front to back as
//
//   [superblock blocks] [file data (written during the scan)] [directory / symlink blocks]
//   [shared xattrs] [metadata: inodes, each followed by its xattr body and inline tail]
//
// File data comes first because it is streamed while the source is read, before the number and size
// of inodes is known. meta_blkaddr is the first metadata block; its first 32-byte slot stays empty so
// no inode gets nid 0 (the kernel turns nids into inode numbers, and d_ino 0 means "no entry" to
// some of user space). The root is placed next, so its nid is 1: it always fits the u16 in the sb.
import { ErofsError } from '../errors.ts';
import {
  CHUNK_FORMAT_BLKBITS_MASK,
  CHUNK_FORMAT_INDEXES,
  CHUNK_INDEX_SIZE,
  CI,
  DATALAYOUT,
  EROFS_DEVT_SLOT_SIZE,
  EROFS_ISLOT_SIZE,
  EROFS_NULL_ADDR,
  EROFS_SUPER_OFFSET,
  EROFS_SUPER_SIZE,
  INODE_EXTENDED_SIZE,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFREG,
  S_IFSOCK,
} from '../format.ts';
import { fileTypeOf, planDirBlocks, type DirBlocks, type DirentIn } from './dirent.ts';
import { fitsCompact, inodeSize } from './inode.ts';
import type { MkfsConfig } from './options.ts';
import { collectNodes, linkCounts, sortedChildren, type NodeKind, type Timestamp, type TreeNode } from './tree.ts';
import {
  chooseShared,
  compareXattrs,
  encodePrefixTable,
  encodeXattr,
  fingerprintXattr,
  ibodySize,
  MAX_IBODY,
  MAX_SHARED_PER_INODE,
  type EncodedXattr,
} from './xattr.ts';

/**
 * Where the long xattr name prefix table goes: right behind the 128-byte superblock, where
 * mkfs.erofs puts it (xattr_prefix_start 288 with COMPAT_PLAIN_XATTR_PFX), inside the area the
 * superblock checksum covers.
 */
export const PREFIX_TABLE_POS = EROFS_SUPER_OFFSET + EROFS_SUPER_SIZE;

/** The prefix table mkfs writes for `cfg` (empty without fingerprints). */
export function prefixTable(cfg: MkfsConfig): Buffer {
  return cfg.fingerprint ? encodePrefixTable(cfg.digestName) : Buffer.alloc(0);
}

/** The device table's slot offset (devt_slotoff): the first 128-byte slot after the prefix table. */
export function deviceTableSlot(cfg: MkfsConfig): number {
  return Math.ceil((PREFIX_TABLE_POS + prefixTable(cfg).length) / EROFS_DEVT_SLOT_SIZE);
}

/** The first block anything else may use: after the superblock, the prefix table and the device table. */
export function firstFreeBlock(cfg: MkfsConfig): number {
  const end =
    cfg.devices.length > 0
      ? (deviceTableSlot(cfg) + cfg.devices.length) * EROFS_DEVT_SLOT_SIZE
      : PREFIX_TABLE_POS + prefixTable(cfg).length;
  return Math.ceil(end / cfg.blockSize);
}

/**
 * The chunk indexes of a file whose data lives on an extra device: one chunk as large as the file
 * allows (chunkbits = ceil(log2 size), at least the block size), as upstream's tar index mode does,
 * each index naming the device and its start block there. Returns i_u's chunk format and the table.
 */
export function deviceChunks(
  size: number,
  device: number,
  blkaddr: number,
  cfg: MkfsConfig,
): { u: number; table: Buffer } {
  let chunkbits = Math.max(cfg.blkszbits, Math.ceil(Math.log2(Math.max(size, 1))));
  if (chunkbits - cfg.blkszbits > CHUNK_FORMAT_BLKBITS_MASK) chunkbits = cfg.blkszbits + CHUNK_FORMAT_BLKBITS_MASK;
  const chunkBlocks = 2 ** (chunkbits - cfg.blkszbits);
  const count = Math.ceil(size / 2 ** chunkbits);
  const table = Buffer.alloc(count * CHUNK_INDEX_SIZE);
  for (let i = 0; i < count; i++) {
    const blk = blkaddr + i * chunkBlocks;
    table.writeUInt16LE(Math.floor(blk / 0x100000000), i * CHUNK_INDEX_SIZE + CI.startblkHi);
    table.writeUInt16LE(device, i * CHUNK_INDEX_SIZE + CI.deviceId);
    table.writeUInt32LE(blk % 0x100000000, i * CHUNK_INDEX_SIZE + CI.blkaddr);
  }
  return { u: CHUNK_FORMAT_INDEXES | (chunkbits - cfg.blkszbits), table };
}

const FINGERPRINT_PLACEHOLDER = Buffer.alloc(32);

/** Only non-empty regular files carry a fingerprint (mkfs.erofs skips empty ones). */
export function hasFingerprint(node: TreeNode, cfg: MkfsConfig): boolean {
  return cfg.fingerprint && node.kind === 'file' && (node.data?.size ?? node.size) > 0;
}
const DOT = Buffer.from('.');
const DOTDOT = Buffer.from('..');

/** The xattrs an inode will carry, sorted: the source's (when copied) plus the fingerprint. */
export function inodeXattrs(node: TreeNode, cfg: MkfsConfig): EncodedXattr[] {
  const out: EncodedXattr[] = [];
  const fp = hasFingerprint(node, cfg);
  if (cfg.xattrs) {
    for (const [name, value] of node.xattrs) {
      // A visible --xattr-inode-digest name (trusted.x) may already be on the source: the
      // fingerprint xattr of the image is always ours.
      if (cfg.fingerprint && name === cfg.digestName.key) continue;
      out.push(encodeXattr(name, value, 'xattr'));
    }
  }
  if (fp) out.push(fingerprintXattr(node.sha256 ?? FINGERPRINT_PLACEHOLDER));
  return out.sort(compareXattrs);
}

/**
 * Decided while a file's data streams in, before the layout exists: inline the tail only if it fits
 * behind the largest inode with every xattr inline. Final inodes can only be smaller (compact, shared
 * xattrs), so the promise holds.
 */
export function tailFitsInline(node: TreeNode, tailLen: number, cfg: MkfsConfig): boolean {
  if (!cfg.inline) return false;
  return INODE_EXTENDED_SIZE + ibodySize(0, inodeXattrs(node, cfg)) + tailLen <= cfg.blockSize;
}

export interface InodePlan {
  readonly node: TreeNode;
  readonly ino: number;
  readonly mode: number;
  readonly nlink: number;
  readonly mtime: Timestamp;
  readonly compact: boolean;
  readonly sharedIds: number[];
  readonly inlineXattrs: EncodedXattr[];
  readonly ibody: number;
  readonly layout: number;
  readonly size: number;
  /** i_u: first data block (or NULL_ADDR / 0), or rdev for devices. */
  u: number;
  /** Inline tail length (bytes packed after the xattr body). */
  readonly tailLen: number;
  /** CHUNK_BASED: the chunk indexes, written after the xattr body at the next 8-byte boundary. */
  readonly chunkTable: Buffer | undefined;
  /** Blocks this inode owns in the directory/symlink area (written by the writer). */
  lateBlocks: number;
  /** Directory: entries with '.' and '..', sorted, and how they split into blocks. */
  readonly dirents: (DirentIn & { node: TreeNode })[] | undefined;
  readonly dirBlocks: DirBlocks | undefined;
  /** Byte position of the inode in the image, and its nid. */
  pos: number;
  nid: number;
}

export interface ImagePlan {
  readonly blockSize: number;
  readonly inodes: InodePlan[];
  readonly byNode: Map<TreeNode, InodePlan>;
  readonly buildTime: Timestamp;
  readonly sharedXattrs: EncodedXattr[];
  readonly sharedBytes: number;
  readonly xattrBlkaddr: number;
  readonly metaBlkaddr: number;
  readonly metaBlocks: number;
  readonly blocks: number;
  readonly rootNid: number;
}

const TYPE_BITS: Record<NodeKind, number> = {
  file: S_IFREG,
  dir: S_IFDIR,
  symlink: S_IFLNK,
  chardev: S_IFCHR,
  blockdev: S_IFBLK,
  fifo: S_IFIFO,
  socket: S_IFSOCK,
};

function newestMtime(nodes: readonly TreeNode[]): Timestamp {
  let best: Timestamp | undefined;
  for (const n of nodes) {
    const t = n.mtime;
    if (t && (!best || t.sec > best.sec || (t.sec === best.sec && t.nsec > best.nsec))) best = t;
  }
  return best && best.sec >= 0 ? best : { sec: 0, nsec: 0 };
}

/** First-fit placement of inode records in the metadata area, each inside one block when it can be. */
class MetaPacker {
  private open: { block: number; used: number }[] = [];
  blocks = 0;
  constructor(private readonly bs: number) {}

  /** Byte offset (from the area start) for a record of `len` bytes, 32-byte aligned. */
  place(len: number): number {
    const need = Math.ceil(len / EROFS_ISLOT_SIZE) * EROFS_ISLOT_SIZE;
    if (need <= this.bs) {
      for (let i = 0; i < this.open.length; i++) {
        const o = this.open[i];
        if (this.bs - o.used >= need) {
          const at = o.block * this.bs + o.used;
          o.used += need;
          if (this.bs - o.used < EROFS_ISLOT_SIZE) this.open.splice(i, 1);
          return at;
        }
      }
    }
    // A new block (or run of blocks for a record bigger than one).
    const at = this.blocks * this.bs;
    const span = Math.ceil(need / this.bs);
    this.blocks += span;
    const used = need - (span - 1) * this.bs;
    if (this.bs - used >= EROFS_ISLOT_SIZE) {
      this.open.push({ block: this.blocks - 1, used });
      // Keep the search short: forget the fullest block when too many are open.
      if (this.open.length > 64) {
        let k = 0;
        for (let i = 1; i < this.open.length; i++) if (this.open[i].used > this.open[k].used) k = i;
        this.open.splice(k, 1);
      }
    }
    return at;
  }
}

/**
 * Lay out the metadata of the scanned tree. `dataEnd` is the first block after the file data the
 * scan wrote.
 */
/** Shared xattrs: the chosen ones in on-disk order, each one's id (its offset in 4-byte units). */
function planSharedXattrs(xattrLists: readonly EncodedXattr[][]): {
  sharedXattrs: EncodedXattr[];
  sharedId: Map<string, number>;
  sharedBytes: number;
} {
  const sharedKeys = chooseShared(xattrLists);
  const sharedXattrs: EncodedXattr[] = [];
  const seen = new Set<string>();
  for (const list of xattrLists) {
    for (const x of list) {
      if (sharedKeys.has(x.key) && !seen.has(x.key)) {
        seen.add(x.key);
        sharedXattrs.push(x);
      }
    }
  }
  sharedXattrs.sort(compareXattrs);
  const sharedId = new Map<string, number>();
  let sharedBytes = 0;
  for (const x of sharedXattrs) {
    sharedId.set(x.key, sharedBytes / 4);
    sharedBytes += x.size;
  }
  return { sharedXattrs, sharedId, sharedBytes };
}

/** An inode's xattrs: shared ids (up to the per-inode limit) and the rest inline, with the body's size. */
function splitXattrs(
  list: readonly EncodedXattr[],
  sharedId: ReadonlyMap<string, number>,
): { sharedIds: number[]; inlineXattrs: EncodedXattr[]; ibody: number } {
  const sharedIds: number[] = [];
  const inlineXattrs: EncodedXattr[] = [];
  for (const x of list) {
    const id = sharedId.get(x.key);
    if (id !== undefined && sharedIds.length < MAX_SHARED_PER_INODE) sharedIds.push(id);
    else inlineXattrs.push(x);
  }
  const ibody = ibodySize(sharedIds.length, inlineXattrs);
  if (ibody > MAX_IBODY)
    throw new ErofsError('EUNSUPPORTED', `an inode has ${ibody} bytes of xattrs, more than EROFS can describe`);
  return { sharedIds, inlineXattrs, ibody };
}

/** i_size of a node; for a directory also its sorted entries ('.' and '..' included) and their blocks. */
function sizeAndDirents(
  node: TreeNode,
  parent: ReadonlyMap<TreeNode, TreeNode>,
  bs: number,
): { size: number; dirents: InodePlan['dirents']; dirBlocks: DirBlocks | undefined } {
  if (node.kind === 'file') return { size: node.data?.size ?? node.size, dirents: undefined, dirBlocks: undefined };
  if (node.kind === 'symlink') return { size: node.target!.length, dirents: undefined, dirBlocks: undefined };
  if (node.kind !== 'dir') return { size: 0, dirents: undefined, dirBlocks: undefined };
  const dirents = [
    { name: DOT, type: fileTypeOf('dir'), node },
    { name: DOTDOT, type: fileTypeOf('dir'), node: parent.get(node)! },
    ...sortedChildren(node).map((c) => ({ name: c.name, type: fileTypeOf(c.node.kind), node: c.node })),
  ].sort((a, b) => Buffer.compare(a.name, b.name));
  const dirBlocks = planDirBlocks(dirents, bs);
  return { size: dirBlocks.size, dirents, dirBlocks };
}

/**
 * Where a node's data lives: its layout, inline tail, i_u, and the blocks it takes in the
 * directory/symlink area starting at `late` (the caller advances `late` by lateBlocks).
 */
function placeData(
  node: TreeNode,
  cfg: MkfsConfig,
  headBytes: number,
  size: number,
  dirBlocks: DirBlocks | undefined,
  late: number,
): { layout: number; tailLen: number; u: number; lateBlocks: number; chunkTable?: Buffer } {
  const bs = cfg.blockSize;
  let layout: number = DATALAYOUT.FLAT_PLAIN;
  let tailLen = 0;
  let u = 0;
  let lateBlocks = 0;
  if (node.kind === 'file') {
    const d = node.data;
    if (!d) throw new ErofsError('EIO', 'internal: a regular file was never written');
    if (d.device !== undefined && d.device > 0 && d.size > 0) {
      if (d.device > cfg.devices.length)
        throw new ErofsError('EINVAL', `a file's data is on device ${d.device}, the image has ${cfg.devices.length}`);
      if (d.tail) throw new ErofsError('EINVAL', 'data on an extra device cannot have an inline tail');
      const { u: fmt, table } = deviceChunks(d.size, d.device, d.blkaddr, cfg);
      return { layout: DATALAYOUT.CHUNK_BASED, tailLen: 0, u: fmt, lateBlocks: 0, chunkTable: table };
    }
    if (d.tail) {
      layout = DATALAYOUT.FLAT_INLINE;
      tailLen = d.tail.length;
      if (headBytes + tailLen > bs) throw new ErofsError('EIO', 'internal: inline tail no longer fits its inode block');
    }
    u = d.blocks > 0 ? d.blkaddr : layout === DATALAYOUT.FLAT_INLINE ? EROFS_NULL_ADDR : 0;
  } else if (node.kind === 'dir' || node.kind === 'symlink') {
    const tail = node.kind === 'dir' ? dirBlocks!.lastUsed % bs : size % bs;
    const full = node.kind === 'dir' ? dirBlocks!.blocks.length : Math.ceil(size / bs);
    if (cfg.inline && tail > 0 && headBytes + tail <= bs) {
      layout = DATALAYOUT.FLAT_INLINE;
      tailLen = tail;
      lateBlocks = full - 1;
    } else {
      lateBlocks = full;
    }
    u = lateBlocks > 0 ? late : layout === DATALAYOUT.FLAT_INLINE ? EROFS_NULL_ADDR : 0;
  } else if (node.kind === 'chardev' || node.kind === 'blockdev') {
    u = node.rdev;
  }
  return { layout, tailLen, u, lateBlocks };
}

/** Bytes a chunk table takes after the xattr body, its alignment to 8 included (inodes start 32-aligned). */
export function chunkTableSpan(p: Pick<InodePlan, 'ibody' | 'chunkTable'>): number {
  if (p.chunkTable === undefined) return 0;
  return (p.ibody % CHUNK_INDEX_SIZE === 0 ? 0 : CHUNK_INDEX_SIZE - (p.ibody % CHUNK_INDEX_SIZE)) + p.chunkTable.length;
}

/** Pack the inode records into the metadata area after the shared xattrs; sets each one's pos and nid. */
function placeInodes(
  inodes: readonly InodePlan[],
  late: number,
  sharedBytes: number,
  bs: number,
): { xattrBlkaddr: number; metaBlkaddr: number; metaBlocks: number; blocks: number; rootNid: number } {
  const xattrBlkaddr = sharedBytes > 0 ? late : 0;
  const metaBlkaddr = late + Math.ceil(sharedBytes / bs);
  const packer = new MetaPacker(bs);
  packer.place(EROFS_ISLOT_SIZE); // slot 0: keep nid 0 unused
  for (const p of inodes) {
    const off = packer.place(inodeSize(p.compact) + p.ibody + p.tailLen + chunkTableSpan(p));
    p.pos = metaBlkaddr * bs + off;
    p.nid = off / EROFS_ISLOT_SIZE;
  }
  const rootNid = inodes[0].nid;
  if (rootNid > 0xffff) throw new ErofsError('EIO', 'internal: root nid does not fit in 16 bits');
  const blocks = metaBlkaddr + packer.blocks;
  if (blocks > 0xffffffff) throw new ErofsError('EINVAL', 'image would need more than 2^32 blocks');
  return { xattrBlkaddr, metaBlkaddr, metaBlocks: packer.blocks, blocks, rootNid };
}

export function planImage(root: TreeNode, cfg: MkfsConfig, dataEnd: number): ImagePlan {
  const bs = cfg.blockSize;
  const nodes = collectNodes(root);
  const links = linkCounts(root);
  const buildTime: Timestamp = cfg.timestamp !== undefined ? { sec: cfg.timestamp, nsec: 0 } : newestMtime(nodes);

  const xattrLists = nodes.map((n) => inodeXattrs(n, cfg));
  const { sharedXattrs, sharedId, sharedBytes } = planSharedXattrs(xattrLists);

  // Parents, for '..' (directories cannot be hard-linked, so each has exactly one).
  const parent = new Map<TreeNode, TreeNode>([[root, root]]);
  for (const n of nodes) for (const c of n.children?.values() ?? []) if (c.node.kind === 'dir') parent.set(c.node, n);

  const inodes: InodePlan[] = [];
  const byNode = new Map<TreeNode, InodePlan>();
  let late = dataEnd; // next free block of the directory/symlink area
  for (let i = 0; i < nodes.length; i++) {
    const node = nodes[i];
    const mtime = cfg.timestamp !== undefined ? buildTime : (node.mtime ?? buildTime);
    const nlink = links.get(node) ?? 1;
    const { sharedIds, inlineXattrs, ibody } = splitXattrs(xattrLists[i], sharedId);
    const { size, dirents, dirBlocks } = sizeAndDirents(node, parent, bs);
    const compact = fitsCompact(
      { uid: node.uid, gid: node.gid, size, nlink, mtime: mtime.sec, mtimeNsec: mtime.nsec },
      buildTime.sec,
      buildTime.nsec,
    );
    const { layout, tailLen, u, lateBlocks, chunkTable } = placeData(
      node,
      cfg,
      inodeSize(compact) + ibody,
      size,
      dirBlocks,
      late,
    );
    late += lateBlocks;
    const plan: InodePlan = {
      node,
      ino: i + 1,
      mode: TYPE_BITS[node.kind] | node.perm,
      nlink,
      mtime,
      compact,
      sharedIds,
      inlineXattrs,
      ibody,
      layout,
      size,
      u,
      tailLen,
      chunkTable,
      lateBlocks,
      dirents,
      dirBlocks,
      pos: 0,
      nid: 0,
    };
    inodes.push(plan);
    byNode.set(node, plan);
  }

  const placed = placeInodes(inodes, late, sharedBytes, bs);
  return { blockSize: bs, inodes, byNode, buildTime, sharedXattrs, sharedBytes, ...placed };
}
