// Compressed inodes: logical cluster indexes → extents (kernel fs/erofs/zmap.c, erofs-utils lib/zmap.c).
// A compressed file is cut into logical clusters (lclusters) of 2^lclusterbits bytes; each has an index
// entry saying whether a compressed extent starts in it (a HEAD: PLAIN = stored, HEAD1/HEAD2 = the
// inode's first/second algorithm) and where, or how far back its head is (NONHEAD). An extent's bytes
// live in a physical cluster (pcluster) of one or more blocks, or inline right after the index
// (ztailpacking), or in the packed inode (fragments). Indexes come "full" (8 B per lcluster) or
// "compact" (packs of 2 × 4 B or 16 × 2 B entries sharing one block address).
//
// Everything here reads through the BlockSource (range-checked) and validates what it follows: a
// lookback or lookahead walk is bounded by the lcluster numbers it decrements, every length is checked
// against the kernel's limits, and each refusal is a one-line ErofsError.
import { ErofsError } from './errors.ts';
import {
  DATALAYOUT,
  EXT,
  Z_EXTENT_PLEN_FMT_BIT,
  Z_EXTENT_PLEN_MASK,
  Z_EXTENT_PLEN_PARTIAL,
  Z_EXTRECSZ_BIT,
  FEATURE_INCOMPAT,
  Z_ADVISE,
  Z_ALG,
  Z_ALG_NAMES,
  Z_FRAGMENT_INODE_BIT,
  Z_LCLUSTER_INDEX_SIZE,
  Z_LCLUSTER_TYPE,
  Z_LI_D0_CBLKCNT,
  Z_LI_PARTIAL_REF,
  Z_MAP_HEADER_SIZE,
  Z_PCLUSTER_MAX_DSIZE,
  Z_PCLUSTER_MAX_SIZE,
  ZLI,
  ZMH,
} from './format.ts';
import type { BlockSource, ErofsInode, Superblock } from './types.ts';

/** Extent flags (erofs_map_blocks.m_flags). */
export const ZF_MAPPED = 1;
export const ZF_META = 2; // inline (ztailpacking) pcluster: pa/plen address bytes in the metadata
export const ZF_ENCODED = 4;
export const ZF_FULL_MAPPED = 8; // the extent's end is known (it ends at the next head)
export const ZF_FRAGMENT = 16; // the bytes live in the packed inode at fragmentOff
export const ZF_PARTIAL_REF = 32; // the extent uses a prefix of its pcluster's output (dedupe)

/** One extent of a compressed inode (reused by the caller: the kernel path allocates none per call). */
export interface ZMapOut {
  la: number; // logical start
  llen: number; // logical length
  pa: number; // byte address of the pcluster (or of the inline data)
  plen: number; // pcluster bytes
  flags: number;
  alg: number; // Z_ALG.*
}

export function newZMapOut(): ZMapOut {
  return { la: 0, llen: 0, pa: 0, plen: 0, flags: 0, alg: 0 };
}

/** Per-inode facts from the map header (z_erofs_fill_inode_lazy), parsed once. */
export interface ZInodeInfo {
  readonly advise: number;
  readonly lclusterBits: number;
  readonly algs: readonly [number, number];
  /** Bytes of the inline (ztailpacking) pcluster, 0 when none. */
  readonly idataSize: number;
  /** Byte address of the inline pcluster (the kernel's z_fragmentoff for ztailpacking). */
  readonly idataPos: number;
  /** Offset in the packed inode of the fragment (FRAGMENT_PCLUSTER). */
  readonly fragmentOff: number;
  /** lcluster of the tail extent's head (the inline or fragment extent). */
  readonly tailHeadLcn: number;
}

/** Bytes of index kept per inode (one block of the kernel's metadata cache). */
const META_WINDOW = 4096;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** z_erofs_maprecorder: scratch of one mapping walk, reused. */
class Recorder {
  lcn = 0;
  type = 0;
  headType = 0;
  clusterOfs = 0;
  delta0 = 0;
  delta1 = 0;
  pblk = 0;
  compressedBlks = 0;
  nextPackOff = 0;
  partialRef = false;
  reset(): void {
    this.lcn = 0;
    this.type = 0;
    this.headType = 0;
    this.clusterOfs = 0;
    this.delta0 = 0;
    this.delta1 = 0;
    this.pblk = 0;
    this.compressedBlks = 0;
    this.nextPackOff = 0;
    this.partialRef = false;
  }
}

function u16(b: Uint8Array, o: number): number {
  return b[o] | (b[o + 1] << 8);
}
function u32(b: Uint8Array, o: number): number {
  return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
}
/** le32 that reads zeros past the end of `b` (compact entries near a pack's end). */
function u32z(b: Uint8Array, o: number): number {
  return ((b[o] ?? 0) | ((b[o + 1] ?? 0) << 8) | ((b[o + 2] ?? 0) << 16) | ((b[o + 3] ?? 0) << 24)) >>> 0;
}

function corrupt(inode: ErofsInode, what: string, at?: number): ErofsError {
  return new ErofsError('ECORRUPT', `compressed nid ${inode.nid}: ${what}`, at);
}

/** Algorithms the image may use (z_erofs_parse_cfgs): the superblock's mask, or lz4 alone without it. */
export function availableAlgs(sb: Superblock): number {
  return sb.featureIncompat & FEATURE_INCOMPAT.COMPR_CFGS ? sb.u1 : 1 << Z_ALG.LZ4;
}

/**
 * The mapping state of one compressed inode: its header facts plus scratch buffers. One per inode per
 * thread; `map` fills a caller-owned ZMapOut and allocates nothing once the header is parsed.
 */
export class ZMapper {
  readonly inode: ErofsInode;
  readonly info: ZInodeInfo;
  private readonly src: BlockSource;
  private readonly sb: Superblock;
  private readonly m = new Recorder();
  private readonly buf8 = new Uint8Array(8);
  private readonly buf32 = new Uint8Array(32);
  private readonly headerEnd: number;
  private readonly lsize: number;
  /** Encoded extents (48-bit images, COMPRESSED_FULL with ADVISE_EXTENTS): their count, else -1. */
  private readonly extents: number = -1;
  /** Bytes per encoded extent record: 4 << EXTRECSZ (4, 8, 16 or 32). */
  private readonly recsz: number = 0;
  /** Where this inode's metadata starts (the map header) and an upper bound of where its index ends. */
  private readonly metaStart: number;
  private metaEnd: number;
  /**
   * A window of the index, [winLo, winHi) of the image in `win`, as the kernel keeps the index block
   * in its metadata page cache: an extent lookup reads 8–32 bytes of index, and a pread per lookup
   * cost more than the lz4 decode of the pcluster it finds.
   */
  private win = new Uint8Array(0);
  private winLo = 0;
  private winHi = 0;

  constructor(src: BlockSource, sb: Superblock, inode: ErofsInode) {
    this.src = src;
    this.sb = sb;
    this.inode = inode;
    const hpos = Math.ceil((inode.iloc + inode.inodeSize + inode.xattrSize) / 8) * 8;
    this.headerEnd = hpos + Z_MAP_HEADER_SIZE;
    this.metaStart = hpos;
    // Until the header says which index it is, no window (every read goes to the source).
    this.metaEnd = hpos;
    if (hpos + Z_MAP_HEADER_SIZE > src.size) {
      throw new ErofsError(
        'ETRUNCATED',
        `map header of compressed nid ${inode.nid} runs past the end of the image`,
        hpos,
      );
    }
    const h = this.buf8;
    src.read(h, hpos);
    const clusterBits = h[ZMH.clusterBits];
    if (clusterBits >> Z_FRAGMENT_INODE_BIT) {
      // The whole file lives in the packed inode; the other 63 bits are its offset there.
      const hi = u32(h, 4) & 0x7fffffff;
      const fragmentOff = hi * 2 ** 32 + u32(h, 0);
      if (!Number.isSafeInteger(fragmentOff)) throw corrupt(inode, 'fragment offset out of range', hpos);
      this.lsize = 2 ** sb.blkszbits;
      this.info = {
        advise: Z_ADVISE.FRAGMENT_PCLUSTER,
        lclusterBits: sb.blkszbits,
        algs: [0, 0],
        idataSize: 0,
        idataPos: 0,
        fragmentOff,
        tailHeadLcn: 0,
      };
      return;
    }
    const advise = u16(h, ZMH.advise);
    const lclusterBits = sb.blkszbits + (clusterBits & 15);
    if (inode.layout === DATALAYOUT.COMPRESSED_FULL && advise & Z_ADVISE.EXTENTS) {
      // z_erofs_fill_inode_lazy: the count shares the header with the algorithm and cluster bytes.
      this.extents = u32(h, 0) + u16(h, 6) * 2 ** 32;
      this.recsz = 4 << ((advise >> Z_EXTRECSZ_BIT) & 3);
      this.lsize = 2 ** lclusterBits;
      const records = Math.max(this.extents, Math.ceil(inode.size / this.lsize)) + 1;
      this.metaEnd = Math.ceil(this.headerEnd / this.recsz) * this.recsz + 8 + records * this.recsz;
      this.info = { advise, lclusterBits, algs: [0, 0], idataSize: 0, idataPos: 0, fragmentOff: 0, tailHeadLcn: 0 };
      if (inode.size > 0 && advise & Z_ADVISE.FRAGMENT_PCLUSTER) {
        // The last extent carries the fragment's offset in the packed inode: read it once, now.
        this.mapExt(inode.size - 1, newZMapOut());
      }
      return;
    }
    const algs: [number, number] = [h[ZMH.algorithmType] & 15, h[ZMH.algorithmType] >> 4];
    let fragmentOff = 0;
    let idataSize = 0;
    if (advise & Z_ADVISE.FRAGMENT_PCLUSTER) fragmentOff = u32(h, ZMH.fragmentOff);
    else if (advise & Z_ADVISE.INLINE_PCLUSTER) idataSize = u16(h, ZMH.idataSize);
    if (
      inode.layout === DATALAYOUT.COMPRESSED_COMPACT &&
      !(advise & Z_ADVISE.BIG_PCLUSTER_1) !== !(advise & Z_ADVISE.BIG_PCLUSTER_2)
    ) {
      throw corrupt(inode, 'big pcluster head1/2 of compact indexes are inconsistent', hpos);
    }
    if (inode.layout === DATALAYOUT.COMPRESSED_COMPACT && lclusterBits > 14) {
      throw corrupt(inode, `compact indexes with ${2 ** lclusterBits}-byte lclusters`, hpos);
    }
    this.lsize = 2 ** lclusterBits;
    // Full indexes: 8 bytes per lcluster after 8 reserved; compact ones take at most 4 per block,
    // in packs aligned to 32.
    const lclusters = Math.ceil(inode.size / Math.min(this.lsize, sb.blockSize)) + 1;
    this.metaEnd = this.headerEnd + 8 + 32 + lclusters * Z_LCLUSTER_INDEX_SIZE;
    const info = { advise, lclusterBits, algs, idataSize, idataPos: 0, fragmentOff, tailHeadLcn: 0 };
    this.info = info;
    if (inode.size > 0 && (idataSize > 0 || advise & Z_ADVISE.FRAGMENT_PCLUSTER)) {
      // FINDTAIL: locate the tail extent once (its head lcluster, the inline data's address).
      this.mapFo(inode.size - 1, true, newZMapOut());
    }
  }

  private loadFull(lcn: number): void {
    const m = this.m;
    const pos = this.headerEnd + 8 + lcn * Z_LCLUSTER_INDEX_SIZE;
    const di = this.buf8;
    this.readMeta(di, pos);
    m.lcn = lcn;
    m.nextPackOff = pos + Z_LCLUSTER_INDEX_SIZE;
    const advise = u16(di, ZLI.advise);
    m.type = advise & 3;
    if (m.type === Z_LCLUSTER_TYPE.NONHEAD) {
      m.clusterOfs = this.lsize;
      m.delta0 = u16(di, ZLI.delta0);
      if (m.delta0 & Z_LI_D0_CBLKCNT) {
        if (!(this.info.advise & (Z_ADVISE.BIG_PCLUSTER_1 | Z_ADVISE.BIG_PCLUSTER_2))) {
          throw corrupt(this.inode, `CBLKCNT at lcn ${lcn} without big pclusters`, pos);
        }
        m.compressedBlks = m.delta0 & ~Z_LI_D0_CBLKCNT;
        m.delta0 = 1;
      }
      m.delta1 = u16(di, ZLI.delta1);
    } else {
      m.partialRef = (advise & Z_LI_PARTIAL_REF) !== 0;
      m.clusterOfs = u16(di, ZLI.clusterOfs);
      m.pblk = u32(di, ZLI.blkaddr);
    }
  }

  private readMeta(dst: Uint8Array, pos: number): void {
    const n = dst.length;
    if (pos + n > this.src.size) {
      throw new ErofsError(
        'ETRUNCATED',
        `lcluster index of compressed nid ${this.inode.nid} runs past the end of the image`,
        pos,
      );
    }
    if (pos < this.winLo || pos + n > this.winHi) {
      // The index block holding pos, cut to this inode's metadata; a read outside it (a corrupt
      // address) goes to the source as it is.
      const block = pos - (pos % META_WINDOW);
      const lo = Math.max(this.metaStart, block);
      const hi = Math.min(block + META_WINDOW, this.metaEnd, this.src.size);
      if (pos < lo || pos + n > hi) {
        this.src.read(dst, pos);
        return;
      }
      if (this.win.length < hi - lo) this.win = new Uint8Array(hi - lo);
      this.winLo = this.winHi = 0; // a failed read leaves nothing behind
      try {
        this.src.read(this.win.subarray(0, hi - lo), lo);
      } catch {
        // The bytes around pos are a guess (an address space with gaps: the metabox above the image):
        // read exactly what was asked, which fails only as that read itself fails.
        this.src.read(dst, pos);
        return;
      }
      this.winLo = lo;
      this.winHi = hi;
    }
    const w = this.win;
    for (let i = 0, j = pos - this.winLo; i < n; i++, j++) dst[i] = w[j];
  }

  private loadCompact(lcn: number, lookahead: boolean): void {
    const m = this.m;
    const inode = this.inode;
    const ebase = this.headerEnd;
    const lclusterBits = this.info.lclusterBits;
    const totalIdx = Math.ceil(inode.size / this.sb.blockSize);
    const bigPcluster = (this.info.advise & Z_ADVISE.BIG_PCLUSTER_1) !== 0;
    if (lcn >= totalIdx) throw corrupt(inode, `lcluster ${lcn} past the index of ${totalIdx} entries`);
    m.lcn = lcn;
    const compacted4bInitial = ((32 - (ebase % 32)) / 4) & 7;
    let compacted2b = 0;
    if (this.info.advise & Z_ADVISE.COMPACTED_2B && compacted4bInitial < totalIdx) {
      compacted2b = Math.floor((totalIdx - compacted4bInitial) / 16) * 16;
    }
    let pos = ebase;
    let amortizedShift = 2;
    let rel = lcn;
    if (rel >= compacted4bInitial) {
      pos += compacted4bInitial * 4;
      rel -= compacted4bInitial;
      if (rel < compacted2b) {
        amortizedShift = 1;
      } else {
        pos += compacted2b * 2;
        rel -= compacted2b;
      }
    }
    pos += rel * (1 << amortizedShift);
    let vcnt: number;
    if (amortizedShift === 2 && lclusterBits <= 14) vcnt = 2;
    else if (amortizedShift === 1 && lclusterBits <= 12) vcnt = 16;
    else
      throw new ErofsError(
        'EUNSUPPORTED',
        `compressed nid ${inode.nid}: compact 2B indexes with ${2 ** lclusterBits}-byte lclusters`,
      );
    const packSize = vcnt << amortizedShift;
    const packStart = Math.floor(pos / packSize) * packSize;
    const pack = packSize === 8 ? this.buf8 : this.buf32;
    this.readMeta(pack, packStart);
    m.nextPackOff = packStart + packSize;
    const lobits = Math.max(lclusterBits, 12);
    const encodeBits = ((packSize - 4) * 8) / vcnt;
    let i = (pos - packStart) >> amortizedShift;
    let lo = this.decodeBits(pack, lobits, encodeBits * i);
    const type = this.bitsType;
    m.type = type;
    if (type === Z_LCLUSTER_TYPE.NONHEAD) {
      m.clusterOfs = this.lsize;
      if (lookahead) m.delta1 = this.laDistance(pack, lobits, encodeBits, vcnt, i);
      if (lo & Z_LI_D0_CBLKCNT) {
        if (!bigPcluster) throw corrupt(inode, `CBLKCNT at lcn ${lcn} without big pclusters`, pos);
        m.compressedBlks = lo & ~Z_LI_D0_CBLKCNT;
        m.delta0 = 1;
        return;
      } else if (i + 1 !== vcnt) {
        m.delta0 = lo;
        return;
      }
      // The pack's last entry stores delta[1]; delta[0] comes from the entry before it.
      lo = this.decodeBits(pack, lobits, encodeBits * (i - 1));
      if (this.bitsType !== Z_LCLUSTER_TYPE.NONHEAD) lo = 0;
      else if (lo & Z_LI_D0_CBLKCNT) lo = 1;
      m.delta0 = lo + 1;
      return;
    }
    m.clusterOfs = lo;
    m.delta0 = 0;
    // The block address: the pack's base plus the pclusters of the heads before this one.
    let nblk: number;
    if (!bigPcluster) {
      nblk = 1;
      while (i > 0) {
        --i;
        lo = this.decodeBits(pack, lobits, encodeBits * i);
        if (this.bitsType === Z_LCLUSTER_TYPE.NONHEAD) i -= lo;
        if (i >= 0) ++nblk;
      }
    } else {
      nblk = 0;
      while (i > 0) {
        --i;
        lo = this.decodeBits(pack, lobits, encodeBits * i);
        if (this.bitsType === Z_LCLUSTER_TYPE.NONHEAD) {
          if (lo & Z_LI_D0_CBLKCNT) {
            --i;
            nblk += lo & ~Z_LI_D0_CBLKCNT;
            continue;
          }
          if (lo <= 1) throw corrupt(inode, `bogus delta[0] ${lo} in a big-pcluster pack`, packStart);
          i -= lo - 2;
          continue;
        }
        ++nblk;
      }
    }
    m.pblk = u32(pack, packSize - 4) + nblk;
  }

  private bitsType = 0;
  private decodeBits(pack: Uint8Array, lobits: number, bitPos: number): number {
    const v = u32z(pack, bitPos >> 3) >>> (bitPos & 7);
    this.bitsType = (v >>> lobits) & 3;
    return v & ((1 << lobits) - 1);
  }

  private laDistance(pack: Uint8Array, lobits: number, encodeBits: number, vcnt: number, i: number): number {
    let d1 = 0;
    let lo: number;
    do {
      lo = this.decodeBits(pack, lobits, encodeBits * i);
      if (this.bitsType !== Z_LCLUSTER_TYPE.NONHEAD) return d1;
      ++d1;
    } while (++i < vcnt);
    if (!(lo & Z_LI_D0_CBLKCNT)) d1 += lo - 1;
    return d1;
  }

  private load(lcn: number, lookahead: boolean): void {
    if (this.inode.layout === DATALAYOUT.COMPRESSED_COMPACT) this.loadCompact(lcn, lookahead);
    else this.loadFull(lcn);
    const m = this.m;
    if (m.type !== Z_LCLUSTER_TYPE.NONHEAD && m.clusterOfs >= this.lsize) {
      throw corrupt(this.inode, `clusterofs ${m.clusterOfs} at lcn ${lcn} beyond its lcluster`);
    }
  }

  private lookback(distance: number): void {
    const m = this.m;
    while (m.lcn >= distance) {
      const lcn = m.lcn - distance;
      this.load(lcn, false);
      if (m.type === Z_LCLUSTER_TYPE.NONHEAD) {
        distance = m.delta0;
        if (!distance) break;
        continue;
      }
      m.headType = m.type;
      this.laOut = lcn * this.lsize + m.clusterOfs;
      return;
    }
    throw corrupt(this.inode, `bogus lookback distance ${distance} at lcn ${m.lcn}`);
  }

  private laOut = 0;

  private compressedLen(): number {
    const m = this.m;
    const adv = this.info.advise;
    const lcn = m.lcn + 1;
    if (
      (m.headType === Z_LCLUSTER_TYPE.HEAD1 && !(adv & Z_ADVISE.BIG_PCLUSTER_1)) ||
      ((m.headType === Z_LCLUSTER_TYPE.PLAIN || m.headType === Z_LCLUSTER_TYPE.HEAD2) &&
        !(adv & Z_ADVISE.BIG_PCLUSTER_2)) ||
      lcn * this.lsize >= this.inode.size
    ) {
      m.compressedBlks = 1;
    }
    if (!m.compressedBlks) {
      this.load(lcn, false);
      if (m.type === Z_LCLUSTER_TYPE.NONHEAD) {
        if (m.delta0 !== 1) throw corrupt(this.inode, `bogus CBLKCNT at lcn ${lcn}`);
        if (!m.compressedBlks) throw corrupt(this.inode, `no CBLKCNT at lcn ${lcn}`);
      } else {
        m.compressedBlks = 1;
      }
    }
    return m.compressedBlks * this.sb.blockSize;
  }

  /** One little-endian u32 of an encoded extent record at `pos`. */
  private extWord(pos: number, field: number): number {
    const b = this.buf32.subarray(0, 4);
    this.readMeta(b, pos + field);
    return u32(b, 0);
  }

  /**
   * z_erofs_map_blocks_ext (erofs-utils lib/zmap.c): the extent holding `ofs` from the encoded extent
   * records of a 48-bit image — per lcluster for records of 4 or 8 bytes (8: a 64-bit start address
   * first, then each record's length), else a binary search over (plen, pstart, lstart) records.
   */
  private mapExt(ofs: number, res: ZMapOut): void {
    const info = this.info as Mutable<ZInodeInfo>;
    const inode = this.inode;
    const recsz = this.recsz;
    const lsize = this.lsize;
    let pos = Math.ceil(this.headerEnd / recsz) * recsz;
    let lend = inode.size;
    let lstart: number;
    let plen = 0;
    let pa = 0;
    let last: boolean;
    if (recsz <= EXT.pstartHi) {
      let run = -1;
      if (recsz <= EXT.pstartLo) {
        run = this.extWord(pos, 0) + this.extWord(pos, 4) * 2 ** 32;
        pos += 8;
        lstart = 0;
      } else {
        lstart = Math.floor(ofs / lsize) * lsize;
        pos += (lstart / lsize) * recsz;
      }
      for (; lstart <= ofs; lstart += lsize) {
        plen = this.extWord(pos, EXT.plen);
        if (run >= 0) {
          pa = run;
          run += plen & Z_EXTENT_PLEN_MASK;
        } else {
          pa = this.extWord(pos, EXT.pstartLo);
        }
        pos += recsz;
      }
      last = lstart >= Math.ceil(lend / lsize) * lsize;
      lend = Math.min(lstart, lend);
      lstart -= lsize;
    } else {
      lstart = lend;
      let l = 0;
      let r = this.extents;
      while (l < r) {
        const mid = l + Math.floor((r - l) / 2);
        const at = pos + mid * recsz;
        let la = this.extWord(at, EXT.lstartLo);
        if (recsz > EXT.lstartHi) la += this.extWord(at, EXT.lstartHi) * 2 ** 32;
        if (la > ofs) {
          r = mid;
          if (la > lend) throw corrupt(inode, `encoded extent ${mid} starts past the next one`, at);
          lend = la;
        } else {
          l = mid + 1;
          if (ofs === la) r = Math.min(l + 1, r);
          lstart = la;
          plen = this.extWord(at, EXT.plen);
          pa = this.extWord(at, EXT.pstartLo) + this.extWord(at, EXT.pstartHi) * 2 ** 32;
        }
      }
      last = l >= this.extents;
    }
    if (!(lstart < lend) || lstart > ofs) throw corrupt(inode, `no encoded extent holds offset ${ofs}`);
    res.la = lstart;
    res.llen = lend - lstart;
    res.pa = 0;
    res.plen = 0;
    res.alg = 0;
    res.flags = ZF_FULL_MAPPED;
    if (last && info.advise & Z_ADVISE.FRAGMENT_PCLUSTER) {
      info.fragmentOff = recsz > EXT.pstartLo ? plen + pa * 2 ** 32 : plen;
      res.flags = ZF_MAPPED | ZF_FRAGMENT | ZF_FULL_MAPPED;
    } else if (plen & Z_EXTENT_PLEN_MASK) {
      const fmt = plen >>> Z_EXTENT_PLEN_FMT_BIT;
      res.flags = ZF_MAPPED | ZF_ENCODED | ZF_FULL_MAPPED | (plen & Z_EXTENT_PLEN_PARTIAL ? ZF_PARTIAL_REF : 0);
      res.plen = plen & Z_EXTENT_PLEN_MASK;
      res.pa = pa;
      const bmask = this.sb.blockSize - 1;
      if (fmt) res.alg = fmt - 1;
      else if (info.advise & Z_ADVISE.INTERLACED_PCLUSTER && !((pa % this.sb.blockSize) | (res.plen & bmask)))
        res.alg = Z_ALG.INTERLACED;
      else res.alg = Z_ALG.SHIFTED;
    }
  }

  /** z_erofs_map_blocks_fo for `ofs` (findTail: the FINDTAIL pass run once from the constructor). */
  private mapFo(ofs: number, findTail: boolean, res: ZMapOut): void {
    const info = this.info as Mutable<ZInodeInfo>;
    const inode = this.inode;
    const fragment = (info.advise & Z_ADVISE.FRAGMENT_PCLUSTER) !== 0;
    const ztail = info.idataSize > 0;
    const m = this.m;
    m.reset();
    if (fragment && !findTail && info.tailHeadLcn === 0) {
      res.la = 0;
      res.llen = inode.size;
      res.pa = 0;
      res.plen = 0;
      res.flags = ZF_MAPPED | ZF_FRAGMENT;
      res.alg = 0;
      return;
    }
    const lsize = this.lsize;
    const initialLcn = Math.floor(ofs / lsize);
    const endoff = ofs - initialLcn * lsize;
    this.load(initialLcn, false);
    if (findTail && ztail) info.idataPos = m.nextPackOff;
    let flags = ZF_MAPPED | ZF_ENCODED;
    let end = (m.lcn + 1) * lsize;
    let la: number;
    if (m.type === Z_LCLUSTER_TYPE.NONHEAD) {
      this.lookback(m.delta0);
      la = this.laOut;
    } else if (endoff >= m.clusterOfs) {
      m.headType = m.type;
      la = m.lcn * lsize + m.clusterOfs;
      // ztailpacking EOF lclusters may hold three parts; the extent stops at i_size.
      if (ztail && end > inode.size) end = inode.size;
    } else {
      if (m.lcn === 0) throw corrupt(inode, 'invalid logical cluster 0');
      end = m.lcn * lsize + m.clusterOfs;
      flags |= ZF_FULL_MAPPED;
      this.lookback(1);
      la = this.laOut;
    }
    if (m.partialRef) flags |= ZF_PARTIAL_REF;
    if (end > inode.size) end = inode.size;
    if (!(end > la) || la > ofs) throw corrupt(inode, `empty extent at offset ${ofs}`);
    res.la = la;
    res.llen = end - la;
    if (findTail) {
      info.tailHeadLcn = m.lcn;
      // Full indexes keep the fragment offset's high 32 bits in the tail head's blkaddr.
      if (fragment && inode.layout === DATALAYOUT.COMPRESSED_FULL) info.fragmentOff += m.pblk * 2 ** 32;
    }
    if (ztail && m.lcn === info.tailHeadLcn) {
      flags |= ZF_META;
      res.pa = info.idataPos;
      res.plen = info.idataSize;
      const bs = this.sb.blockSize;
      if ((res.pa % bs) + res.plen > bs)
        throw corrupt(inode, `inline pcluster of ${res.plen} bytes crosses a block`, res.pa);
      if (res.pa + res.plen > this.src.size)
        throw new ErofsError(
          'ETRUNCATED',
          `inline pcluster of compressed nid ${inode.nid} runs past the end of the image`,
          res.pa,
        );
    } else if (fragment && m.lcn === info.tailHeadLcn) {
      flags = ZF_MAPPED | ZF_FRAGMENT | (flags & ZF_PARTIAL_REF);
      res.pa = 0;
      res.plen = 0;
    } else {
      res.pa = m.pblk * this.sb.blockSize;
      res.plen = this.compressedLen();
      if (res.pa + res.plen > this.src.size) {
        throw new ErofsError(
          'ETRUNCATED',
          `pcluster of compressed nid ${inode.nid} (${res.plen} bytes at block ${m.pblk}) runs past the end of the image`,
          res.pa,
        );
      }
    }
    res.flags = flags;
    if (flags & ZF_FRAGMENT) {
      res.alg = 0;
    } else if (m.headType === Z_LCLUSTER_TYPE.PLAIN) {
      if (res.llen > res.plen)
        throw corrupt(inode, `stored extent of ${res.llen} bytes in a ${res.plen}-byte pcluster`, res.pa);
      res.alg = info.advise & Z_ADVISE.INTERLACED_PCLUSTER ? Z_ALG.INTERLACED : Z_ALG.SHIFTED;
    } else {
      res.alg = info.algs[m.headType === Z_LCLUSTER_TYPE.HEAD2 ? 1 : 0];
    }
  }

  /**
   * The whole extent holding `ofs` (EROFS_GET_BLOCKS_READMORE / FIEMAP): `map` may stop at the end of
   * the lcluster it looked at; this follows the index forward to the next head (or EOF) so the caller
   * can decode the pcluster once for all of it (z_erofs_get_extent_decompressedlen).
   */
  mapFull(ofs: number, res: ZMapOut): void {
    this.map(ofs, res);
    if (res.flags & ZF_FULL_MAPPED) return;
    const size = this.inode.size;
    if (res.flags & (ZF_FRAGMENT | ZF_META)) {
      res.llen = size - res.la; // tail extents run to EOF
    } else {
      const m = this.m;
      const lsize = this.lsize;
      const headLcn = Math.floor(res.la / lsize);
      let lcn = headLcn;
      for (;;) {
        if (lcn * lsize >= size) {
          res.llen = size - res.la;
          break;
        }
        this.load(lcn, true);
        if (m.type === Z_LCLUSTER_TYPE.NONHEAD) {
          if (!m.delta1) m.delta1 = 1; // pre-1.0 mkfs wrote 0 here
        } else {
          if (lcn !== headLcn) {
            res.llen = lcn * lsize + m.clusterOfs - res.la;
            break;
          }
          m.delta1 = 1;
        }
        lcn += m.delta1;
      }
      if (res.la + res.llen > size) res.llen = size - res.la;
      if (!(res.llen > 0) || res.la + res.llen <= ofs)
        throw corrupt(this.inode, `extent at ${res.la} does not reach offset ${ofs}`);
      if (res.llen > Z_PCLUSTER_MAX_DSIZE) {
        throw new ErofsError(
          'EUNSUPPORTED',
          `compressed nid ${this.inode.nid}: extent of ${res.llen} bytes is over the kernel's limit`,
        );
      }
      if ((res.alg === Z_ALG.SHIFTED || res.alg === Z_ALG.INTERLACED) && res.llen > res.plen) {
        throw corrupt(this.inode, `stored extent of ${res.llen} bytes in a ${res.plen}-byte pcluster`, res.pa);
      }
    }
    res.flags |= ZF_FULL_MAPPED;
  }

  /** z_erofs_map_blocks_iter for a byte inside the file, with the kernel's sanity checks. */
  map(ofs: number, res: ZMapOut): void {
    if (!(ofs >= 0 && ofs < this.inode.size)) {
      throw new ErofsError('EINVAL', `offset ${ofs} outside file of ${this.inode.size} bytes (nid ${this.inode.nid})`);
    }
    if (this.extents >= 0) this.mapExt(ofs, res);
    else this.mapFo(ofs, false, res);
    if (res.flags & ZF_ENCODED) {
      if (res.alg > Z_ALG.INTERLACED) {
        throw new ErofsError(
          'EUNSUPPORTED',
          `compressed nid ${this.inode.nid}: unknown algorithm ${res.alg} at offset ${res.la}`,
        );
      }
      if (res.alg < Z_ALG.SHIFTED && !(availableAlgs(this.sb) & (1 << res.alg))) {
        throw corrupt(this.inode, `algorithm ${Z_ALG_NAMES[res.alg]} not announced by the superblock`);
      }
      if (res.plen > Z_PCLUSTER_MAX_SIZE || res.llen > Z_PCLUSTER_MAX_DSIZE) {
        throw new ErofsError(
          'EUNSUPPORTED',
          `compressed nid ${this.inode.nid}: extent of ${res.llen} bytes from a ${res.plen}-byte pcluster is over the kernel's limits`,
        );
      }
    }
  }
}
