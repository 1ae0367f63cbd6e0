// The shared-inode keys of one mount's regular files, by nid, as one thread computed them (parsing the
// fingerprint xattr and hashing the key): kept so that an inode evicted and read again (drop_caches,
// reclaim) joins its shared inode without doing either again.
//
// Kept in typed arrays — an open-addressed table of nids and, beside it, each key's eight words — rather
// than a Map of objects: the fill that follows a drop_caches runs with cold CPU caches, and a lookup in a
// Map of key objects missed on the Map's table, its entry, the value object, the key object and the key's
// words, each on a line of its own. Here a lookup reads the probe's line of nids, the entry's kind and
// the key's 32 bytes. This module owns the layout; callers go through its methods.
import { ISHARE_KEY_WORDS, type IshareKey } from './ishare.ts';

/** What an entry says of its file: no fingerprint, a key, or a malformed fingerprint value. */
export const KEY_NONE = 1;
export const KEY_OK = 2;
export const KEY_BAD = 3;
export type KeyKind = typeof KEY_NONE | typeof KEY_OK | typeof KEY_BAD;

export const KEY_WORDS = ISHARE_KEY_WORDS;
const EMPTY = -1; // nids are never negative
const MIN_ENTRIES = 64;

export class IshareKeyTable {
  private nids: Float64Array;
  private kinds: Uint8Array;
  /** Each entry's key words at entry × KEY_WORDS (valid for KEY_OK entries); read through keyWords(). */
  private words: Int32Array;
  private hexes: (string | undefined)[];
  private used = 0;

  /** A table that holds `files` entries before it first grows (it grows at half full). */
  constructor(files = MIN_ENTRIES / 2) {
    let n = MIN_ENTRIES;
    while (n < files * 2) n *= 2;
    this.nids = new Float64Array(n).fill(EMPTY);
    this.kinds = new Uint8Array(n);
    this.words = new Int32Array(n * KEY_WORDS);
    this.hexes = new Array<string | undefined>(n);
  }

  /** Files recorded. */
  get size(): number {
    return this.used;
  }

  /** The entry of `nid`, or -1 if none was recorded. */
  find(nid: number): number {
    const nids = this.nids;
    const mask = nids.length - 1;
    for (let i = slotOf(nid, mask); ; i = (i + 1) & mask) {
      const v = nids[i];
      if (v === nid) return i;
      if (v === EMPTY) return -1;
    }
  }

  /**
   * Record `nid` (not yet recorded) as `kind`, with its key and fingerprint for KEY_OK. Returns its entry.
   * Entries found before may move: find them again after an add.
   */
  add(nid: number, kind: typeof KEY_OK, key: IshareKey, hex: string): number;
  add(nid: number, kind: typeof KEY_NONE | typeof KEY_BAD): number;
  add(nid: number, kind: KeyKind, key?: IshareKey, hex?: string): number {
    if (!(Number.isInteger(nid) && nid >= 0)) throw new RangeError(`ishare key table: bad nid ${nid}`);
    if (kind === KEY_OK && (key === undefined || hex === undefined || key.words.length !== KEY_WORDS))
      throw new Error(`ishare key table: a key entry needs its key (${KEY_WORDS} words) and fingerprint`);
    if ((this.used + 1) * 2 > this.nids.length) this.grow();
    const e = this.place(nid);
    this.kinds[e] = kind;
    if (key !== undefined) {
      this.words.set(key.words, e * KEY_WORDS);
      this.hexes[e] = hex;
    }
    this.used++;
    return e;
  }

  kind(e: number): KeyKind {
    return this.kinds[e] as KeyKind;
  }

  /** The fingerprint (hex) of a KEY_OK entry. */
  hex(e: number): string {
    const h = this.hexes[e];
    if (h === undefined) throw new Error(`ishare key table: entry ${e} has no fingerprint`);
    return h;
  }

  /**
   * The array holding the key words: entry e's are [keyOffset(e), keyOffset(e) + KEY_WORDS). Handed out
   * (thread-local memory, read-only to callers) so that a join reads the key where it lies, with no
   * object or view made per file; it is replaced when the table grows.
   */
  keyWords(): Int32Array {
    return this.words;
  }

  keyOffset(e: number): number {
    return e * KEY_WORDS;
  }

  /** The free slot where `nid` goes. */
  private place(nid: number): number {
    const nids = this.nids;
    const mask = nids.length - 1;
    let i = slotOf(nid, mask);
    while (nids[i] !== EMPTY) {
      if (nids[i] === nid) throw new Error(`ishare key table: nid ${nid} recorded twice`);
      i = (i + 1) & mask;
    }
    nids[i] = nid;
    return i;
  }

  private grow(): void {
    const { nids, kinds, words, hexes } = this;
    const n = nids.length * 2;
    this.nids = new Float64Array(n).fill(EMPTY);
    this.kinds = new Uint8Array(n);
    this.words = new Int32Array(n * KEY_WORDS);
    this.hexes = new Array<string | undefined>(n);
    for (let i = 0; i < nids.length; i++) {
      if (nids[i] === EMPTY) continue;
      const e = this.place(nids[i]);
      this.kinds[e] = kinds[i];
      this.words.set(words.subarray(i * KEY_WORDS, (i + 1) * KEY_WORDS), e * KEY_WORDS);
      this.hexes[e] = hexes[i];
    }
  }
}

/** Fibonacci hashing of the nid's low 32 bits: neighbouring nids land far apart. */
function slotOf(nid: number, mask: number): number {
  const h = Math.imul(nid | 0, 0x9e3779b1);
  return (h ^ (h >>> 16)) & mask;
}
