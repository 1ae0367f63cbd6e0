// MicroLZMA decoding into a caller's buffer (the kernel's xz_dec_microlzma, lib/xz/xz_dec_lzma2.c, as
// fs/erofs/decompressor_lzma.c drives it). EROFS stores each lzma pcluster as MicroLZMA: a raw LZMA1
// stream with no header and no end marker whose first byte — the range coder's first byte, which the
// decoder shifts out unread — carries the bitwise-not of the properties byte (lc, lp, pb). The decoded
// size comes from the extent map, so decoding stops when the output is full.
//
// Why our own: @napi-rs/lzma (the previous decoder) needed the stream rebuilt as a .lzma file, could not
// stop early (extents using part of their pcluster were refused) and, in our pool workers, its output
// buffers were never freed (docs/compressed.md). This one writes straight into `dst`, keeps its
// probabilities in one per-thread array and allocates nothing per call. The range coder's state is kept
// in locals and every step ends in `>>> 0` (Math.imul for the bound) so V8 keeps it in 32-bit registers
// instead of doubles: that took it from 0.75x to 1.3x @napi-rs/lzma's speed on a small text image, 1.5x
// on the bundled tree (bench/zdec-micro.ts, docs/compressed.md). That is also why the range coder's bit
// step (normalise, bound, compare, adapt) is written out at each of its uses below rather than called:
// a helper would have to keep range, code and the input position in shared state, not locals. A helper
// version was not built and measured against this one.
//
// The kernel's rules, kept here so a corrupt stream fails where the kernel's fails:
// - properties: pb ≤ 4 and lc + lp ≤ 4 (lzma_props), and at least the five range-coder bytes;
// - a match may reach back at most over the bytes decoded from this pcluster and less than the
//   dictionary size (dict_repeat: dist < full, dist < dict.size);
// - the input is never read past its end: a symbol that would need a byte beyond it is corruption
//   (lzma2_lzma decodes the tail from a zero-padded copy and fails when it consumed any of the padding);
// - an exact request (not a prefix, xz_dec_microlzma_reset's uncomp_size_is_exact) must also end with
//   every input byte consumed, no match left unfinished and the range coder at code 0.
// Where it parts from the kernel on purpose: the kernel's dictionary is the largest of any lzma image
// mounted since boot (z_erofs_lzma_max_dictsize) and its position wraps at that size (dict_flush), so
// with a size that is not a multiple of 16 its contexts shift on extents longer than it; a setting
// global to a boot cannot be kept per image, so ours takes the image's config and absolute positions
// (as liblzma does) — docs/compressed.md, Decoders.

/** Errors (negative returns of microLzmaDecode). */
export const LZMA_E_PROPS = -1; // the properties byte is out of range
export const LZMA_E_SHORT = -2; // fewer bytes than the range coder's initialisation needs
export const LZMA_E_INPUT = -3; // a symbol runs past the end of the input
export const LZMA_E_DISTANCE = -4; // a match reaches before the pcluster's output or beyond the dictionary
export const LZMA_E_TRAILING = -5; // exact: input left over once the output is full
export const LZMA_E_PENDING = -6; // exact: the last match runs past the end of the output
export const LZMA_E_UNFINISHED = -7; // exact: the range coder did not end at code 0

const RC_INIT_BYTES = 5;
const TOP = 0x1000000;
const PROB_INIT = 1024;
const MOVE_BITS = 5;
const PROB_TOTAL = 2048;

const STATES = 12;
const LIT_STATES = 7;
const POS_STATES_MAX = 16;
const DIST_MODEL_START = 4;
const DIST_MODEL_END = 14;
const ALIGN_BITS = 4;

// One probability array per thread: offsets of each model in it.
const IS_MATCH = 0;
const IS_REP = IS_MATCH + STATES * POS_STATES_MAX;
const IS_REP0 = IS_REP + STATES;
const IS_REP1 = IS_REP0 + STATES;
const IS_REP2 = IS_REP1 + STATES;
const IS_REP0_LONG = IS_REP2 + STATES;
const DIST_SLOT = IS_REP0_LONG + STATES * POS_STATES_MAX;
const DIST_SPECIAL = DIST_SLOT + 4 * 64;
const DIST_ALIGN = DIST_SPECIAL + (128 - DIST_MODEL_END);
// A length decoder: choice, choice2, low[16][8], mid[16][8], high[256].
const LEN_CHOICE2 = 1;
const LEN_LOW = 2;
const LEN_MID = LEN_LOW + POS_STATES_MAX * 8;
const LEN_HIGH = LEN_MID + POS_STATES_MAX * 8;
const LEN_SIZE = LEN_HIGH + 256;
const MATCH_LEN = DIST_ALIGN + (1 << ALIGN_BITS);
const REP_LEN = MATCH_LEN + LEN_SIZE;
const LITERAL = REP_LEN + LEN_SIZE;
const LITERAL_CODER = 0x300;
/** lc + lp ≤ 4: at most 16 literal coders. */
const PROBS_MAX = LITERAL + LITERAL_CODER * 16;

const PROBS = new Uint16Array(PROBS_MAX);

/** Properties byte → lc | lp << 4 | pb << 8, or -1 where the kernel's lzma_props refuses it. */
export function lzmaProps(props: number): number {
  if (props > (4 * 5 + 4) * 9 + 8) return -1;
  const pb = Math.floor(props / 45);
  const rest = props - pb * 45;
  const lp = Math.floor(rest / 9);
  const lc = rest - lp * 9;
  if (lc + lp > 4) return -1;
  return lc | (lp << 4) | (pb << 8);
}

/**
 * Decode the MicroLZMA stream src[s0, s1) into dst[d0, d1) (exactly d1 − d0 bytes). `exact`: the
 * stream encodes exactly that much (a whole extent); otherwise it may encode more (a prefix is asked
 * for) and decoding stops once the output is full. `dictSize`: the image's lzma dictionary size.
 * Returns 0, or an LZMA_E_* error; dst[d0, d1) may hold partial output after an error.
 */
export function microLzmaDecode(
  src: Uint8Array,
  s0: number,
  s1: number,
  dst: Uint8Array,
  d0: number,
  d1: number,
  exact: boolean,
  dictSize: number,
): number {
  if (s1 - s0 < RC_INIT_BYTES) return LZMA_E_SHORT;
  const props = lzmaProps(~src[s0] & 0xff);
  if (props < 0) return LZMA_E_PROPS;
  const lc = props & 15;
  const lp = (props >>> 4) & 15;
  const pb = props >>> 8;
  const probs = PROBS;
  const lcShift = 8 - lc;
  const lpMask = (1 << lp) - 1;
  const pbMask = (1 << pb) - 1;
  probs.fill(PROB_INIT, 0, LITERAL + (LITERAL_CODER << (lc + lp)));

  // Range coder: the first byte (the properties) is shifted out by the four after it.
  let range = 0xffffffff;
  let code = 0;
  let ip = s0;
  for (let i = 0; i < RC_INIT_BYTES; i++) code = ((code << 8) | src[ip++]) >>> 0;

  let state = 0;
  let rep0 = 0;
  let rep1 = 0;
  let rep2 = 0;
  let rep3 = 0;
  let len = 0; // bytes of the last match not yet copied (only when the output filled up)
  let d = d0;
  // dict_repeat: a distance (0-based) must be below both the bytes decoded and the dictionary size.
  const maxDist = dictSize;
  let p: number;
  let bound: number;

  while (d < d1) {
    // lzma2_lzma: a symbol that consumed a byte past the end of the input is corruption.
    if (ip > s1) return LZMA_E_INPUT;
    const posState = (d - d0) & pbMask;

    // is_match[state][posState]
    if (range < TOP) {
      range = (range << 8) >>> 0;
      code = ((code << 8) | (ip < s1 ? src[ip] : 0)) >>> 0;
      ip++;
    }
    p = probs[IS_MATCH + state * POS_STATES_MAX + posState];
    bound = Math.imul(range >>> 11, p) >>> 0;
    if (code < bound) {
      range = bound;
      probs[IS_MATCH + state * POS_STATES_MAX + posState] = p + ((PROB_TOTAL - p) >>> MOVE_BITS);
      // Literal.
      const prev = d > d0 ? dst[d - 1] : 0;
      const base = LITERAL + LITERAL_CODER * ((((d - d0) & lpMask) << lc) + (prev >>> lcShift));
      let sym = 1;
      if (state < LIT_STATES) {
        do {
          if (range < TOP) {
            range = (range << 8) >>> 0;
            code = ((code << 8) | (ip < s1 ? src[ip] : 0)) >>> 0;
            ip++;
          }
          p = probs[base + sym];
          bound = Math.imul(range >>> 11, p) >>> 0;
          if (code < bound) {
            range = bound;
            probs[base + sym] = p + ((PROB_TOTAL - p) >>> MOVE_BITS);
            sym <<= 1;
          } else {
            range = (range - bound) >>> 0;
            code = (code - bound) >>> 0;
            probs[base + sym] = p - (p >>> MOVE_BITS);
            sym = (sym << 1) | 1;
          }
        } while (sym < 0x100);
      } else {
        // After a match: the byte at rep0 steers the coder until the first bit that differs.
        let matchByte = dst[d - rep0 - 1] << 1;
        let offset = 0x100;
        do {
          const matchBit = matchByte & offset;
          matchByte <<= 1;
          const i = base + offset + matchBit + sym;
          if (range < TOP) {
            range = (range << 8) >>> 0;
            code = ((code << 8) | (ip < s1 ? src[ip] : 0)) >>> 0;
            ip++;
          }
          p = probs[i];
          bound = Math.imul(range >>> 11, p) >>> 0;
          if (code < bound) {
            range = bound;
            probs[i] = p + ((PROB_TOTAL - p) >>> MOVE_BITS);
            sym <<= 1;
            offset &= ~matchBit;
          } else {
            range = (range - bound) >>> 0;
            code = (code - bound) >>> 0;
            probs[i] = p - (p >>> MOVE_BITS);
            sym = (sym << 1) | 1;
            offset &= matchBit;
          }
        } while (sym < 0x100);
      }
      dst[d++] = sym & 0xff;
      state = state < 4 ? 0 : state < 10 ? state - 3 : state - 6;
      continue;
    }
    range = (range - bound) >>> 0;
    code = (code - bound) >>> 0;
    probs[IS_MATCH + state * POS_STATES_MAX + posState] = p - (p >>> MOVE_BITS);

    // is_rep[state]
    if (range < TOP) {
      range = (range << 8) >>> 0;
      code = ((code << 8) | (ip < s1 ? src[ip] : 0)) >>> 0;
      ip++;
    }
    p = probs[IS_REP + state];
    bound = Math.imul(range >>> 11, p) >>> 0;
    let lenBase: number;
    if (code < bound) {
      range = bound;
      probs[IS_REP + state] = p + ((PROB_TOTAL - p) >>> MOVE_BITS);
      // A new match: its length, then its distance.
      state = state < LIT_STATES ? 7 : 10;
      rep3 = rep2;
      rep2 = rep1;
      rep1 = rep0;
      lenBase = MATCH_LEN;
    } else {
      range = (range - bound) >>> 0;
      code = (code - bound) >>> 0;
      probs[IS_REP + state] = p - (p >>> MOVE_BITS);
      // A repeated match: which of the last four distances.
      if (range < TOP) {
        range = (range << 8) >>> 0;
        code = ((code << 8) | (ip < s1 ? src[ip] : 0)) >>> 0;
        ip++;
      }
      p = probs[IS_REP0 + state];
      bound = Math.imul(range >>> 11, p) >>> 0;
      if (code < bound) {
        range = bound;
        probs[IS_REP0 + state] = p + ((PROB_TOTAL - p) >>> MOVE_BITS);
        const i = IS_REP0_LONG + state * POS_STATES_MAX + posState;
        if (range < TOP) {
          range = (range << 8) >>> 0;
          code = ((code << 8) | (ip < s1 ? src[ip] : 0)) >>> 0;
          ip++;
        }
        p = probs[i];
        bound = Math.imul(range >>> 11, p) >>> 0;
        if (code < bound) {
          range = bound;
          probs[i] = p + ((PROB_TOTAL - p) >>> MOVE_BITS);
          // Short rep: one byte from rep0.
          state = state < LIT_STATES ? 9 : 11;
          if (rep0 >= d - d0 || rep0 >= maxDist) return LZMA_E_DISTANCE;
          dst[d] = dst[d - rep0 - 1];
          d++;
          continue;
        }
        range = (range - bound) >>> 0;
        code = (code - bound) >>> 0;
        probs[i] = p - (p >>> MOVE_BITS);
      } else {
        range = (range - bound) >>> 0;
        code = (code - bound) >>> 0;
        probs[IS_REP0 + state] = p - (p >>> MOVE_BITS);
        let dist: number;
        if (range < TOP) {
          range = (range << 8) >>> 0;
          code = ((code << 8) | (ip < s1 ? src[ip] : 0)) >>> 0;
          ip++;
        }
        p = probs[IS_REP1 + state];
        bound = Math.imul(range >>> 11, p) >>> 0;
        if (code < bound) {
          range = bound;
          probs[IS_REP1 + state] = p + ((PROB_TOTAL - p) >>> MOVE_BITS);
          dist = rep1;
        } else {
          range = (range - bound) >>> 0;
          code = (code - bound) >>> 0;
          probs[IS_REP1 + state] = p - (p >>> MOVE_BITS);
          if (range < TOP) {
            range = (range << 8) >>> 0;
            code = ((code << 8) | (ip < s1 ? src[ip] : 0)) >>> 0;
            ip++;
          }
          p = probs[IS_REP2 + state];
          bound = Math.imul(range >>> 11, p) >>> 0;
          if (code < bound) {
            range = bound;
            probs[IS_REP2 + state] = p + ((PROB_TOTAL - p) >>> MOVE_BITS);
            dist = rep2;
          } else {
            range = (range - bound) >>> 0;
            code = (code - bound) >>> 0;
            probs[IS_REP2 + state] = p - (p >>> MOVE_BITS);
            dist = rep3;
            rep3 = rep2;
          }
          rep2 = rep1;
        }
        rep1 = rep0;
        rep0 = dist;
      }
      state = state < LIT_STATES ? 8 : 11;
      lenBase = REP_LEN;
    }

    // The length: 2-9 (low), 10-17 (mid) or 18-273 (high).
    let treeBase: number;
    let treeLimit: number;
    if (range < TOP) {
      range = (range << 8) >>> 0;
      code = ((code << 8) | (ip < s1 ? src[ip] : 0)) >>> 0;
      ip++;
    }
    p = probs[lenBase];
    bound = Math.imul(range >>> 11, p) >>> 0;
    if (code < bound) {
      range = bound;
      probs[lenBase] = p + ((PROB_TOTAL - p) >>> MOVE_BITS);
      treeBase = lenBase + LEN_LOW + posState * 8;
      treeLimit = 8;
      len = 2;
    } else {
      range = (range - bound) >>> 0;
      code = (code - bound) >>> 0;
      probs[lenBase] = p - (p >>> MOVE_BITS);
      if (range < TOP) {
        range = (range << 8) >>> 0;
        code = ((code << 8) | (ip < s1 ? src[ip] : 0)) >>> 0;
        ip++;
      }
      p = probs[lenBase + LEN_CHOICE2];
      bound = Math.imul(range >>> 11, p) >>> 0;
      if (code < bound) {
        range = bound;
        probs[lenBase + LEN_CHOICE2] = p + ((PROB_TOTAL - p) >>> MOVE_BITS);
        treeBase = lenBase + LEN_MID + posState * 8;
        treeLimit = 8;
        len = 10;
      } else {
        range = (range - bound) >>> 0;
        code = (code - bound) >>> 0;
        probs[lenBase + LEN_CHOICE2] = p - (p >>> MOVE_BITS);
        treeBase = lenBase + LEN_HIGH;
        treeLimit = 256;
        len = 18;
      }
    }
    let sym = 1;
    do {
      if (range < TOP) {
        range = (range << 8) >>> 0;
        code = ((code << 8) | (ip < s1 ? src[ip] : 0)) >>> 0;
        ip++;
      }
      p = probs[treeBase + sym];
      bound = Math.imul(range >>> 11, p) >>> 0;
      if (code < bound) {
        range = bound;
        probs[treeBase + sym] = p + ((PROB_TOTAL - p) >>> MOVE_BITS);
        sym <<= 1;
      } else {
        range = (range - bound) >>> 0;
        code = (code - bound) >>> 0;
        probs[treeBase + sym] = p - (p >>> MOVE_BITS);
        sym = (sym << 1) | 1;
      }
    } while (sym < treeLimit);
    len += sym - treeLimit;

    if (lenBase === MATCH_LEN) {
      // The distance: a 6-bit slot, then extra bits (modelled below 128, direct plus 4 aligned above).
      const slotBase = DIST_SLOT + (len < 6 ? len - 2 : 3) * 64;
      sym = 1;
      do {
        if (range < TOP) {
          range = (range << 8) >>> 0;
          code = ((code << 8) | (ip < s1 ? src[ip] : 0)) >>> 0;
          ip++;
        }
        p = probs[slotBase + sym];
        bound = Math.imul(range >>> 11, p) >>> 0;
        if (code < bound) {
          range = bound;
          probs[slotBase + sym] = p + ((PROB_TOTAL - p) >>> MOVE_BITS);
          sym <<= 1;
        } else {
          range = (range - bound) >>> 0;
          code = (code - bound) >>> 0;
          probs[slotBase + sym] = p - (p >>> MOVE_BITS);
          sym = (sym << 1) | 1;
        }
      } while (sym < 64);
      const slot = sym - 64;
      if (slot < DIST_MODEL_START) {
        rep0 = slot;
      } else {
        const extra = (slot >>> 1) - 1;
        // Kept as a plain (non-negative) number: up to 2^32 − 1, the end marker's distance.
        let dist = 2 + (slot & 1);
        let revBase: number;
        let revBits: number;
        if (slot < DIST_MODEL_END) {
          dist <<= extra;
          revBase = DIST_SPECIAL + dist - slot - 1;
          revBits = extra;
        } else {
          for (let k = extra - ALIGN_BITS; k > 0; k--) {
            if (range < TOP) {
              range = (range << 8) >>> 0;
              code = ((code << 8) | (ip < s1 ? src[ip] : 0)) >>> 0;
              ip++;
            }
            // rc_direct, as the kernel's uint32 arithmetic does it (also for a corrupt code ≥ range).
            range >>>= 1;
            code = (code - range) >>> 0;
            if (code >= 0x80000000) {
              code = (code + range) >>> 0;
              dist = dist * 2;
            } else {
              dist = dist * 2 + 1;
            }
          }
          dist *= 1 << ALIGN_BITS;
          revBase = DIST_ALIGN;
          revBits = ALIGN_BITS;
        }
        sym = 1;
        for (let k = 0; k < revBits; k++) {
          if (range < TOP) {
            range = (range << 8) >>> 0;
            code = ((code << 8) | (ip < s1 ? src[ip] : 0)) >>> 0;
            ip++;
          }
          p = probs[revBase + sym];
          bound = Math.imul(range >>> 11, p) >>> 0;
          if (code < bound) {
            range = bound;
            probs[revBase + sym] = p + ((PROB_TOTAL - p) >>> MOVE_BITS);
            sym <<= 1;
          } else {
            range = (range - bound) >>> 0;
            code = (code - bound) >>> 0;
            probs[revBase + sym] = p - (p >>> MOVE_BITS);
            sym = (sym << 1) | 1;
            dist += 1 << k;
          }
        }
        // Checked here so that rep0 stays a small integer (the end marker's 2^32 − 1 fails here).
        if (dist >= maxDist) return LZMA_E_DISTANCE;
        rep0 = dist;
      }
    }

    // dict_repeat: copy what fits; the rest stays pending (an exact request refuses it below).
    if (rep0 >= d - d0 || rep0 >= maxDist) return LZMA_E_DISTANCE;
    let n = len;
    if (n > d1 - d) n = d1 - d;
    len -= n;
    let m = d - rep0 - 1;
    for (const e = d + n; d < e;) dst[d++] = dst[m++];
  }
  // lzma_main leaves the range coder normalised.
  if (range < TOP) {
    code = ((code << 8) | (ip < s1 ? src[ip] : 0)) >>> 0;
    ip++;
  }
  if (ip > s1) return LZMA_E_INPUT;
  if (exact) {
    if (ip < s1) return LZMA_E_TRAILING;
    if (len > 0) return LZMA_E_PENDING;
    if (code !== 0) return LZMA_E_UNFINISHED;
  }
  return 0;
}
