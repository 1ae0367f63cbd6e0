// The per-mount table of shared-inode keys (fs/erofs/ishare_keys.ts): every nid recorded is found again
// with its kind, key words and fingerprint, across the table's growth, and a nid never recorded is not
// found. Expected values come from the inputs (a Map kept beside the table), not from the table.
import test from 'ava';
import { IshareKeyTable, KEY_BAD, KEY_NONE, KEY_OK, KEY_WORDS, type KeyKind } from '../src/fs/erofs/ishare_keys.ts';
import { ishareKeyOf } from '../src/fs/erofs/ishare.ts';

test('keys recorded by nid are found again after the table grows; absent nids are not', (t) => {
  const table = new IshareKeyTable();
  const want = new Map<number, { kind: KeyKind; words: number[]; hex: string }>();
  // Nids as an image has them (multiples of a slot size), some neighbours, some far apart, some above 2^32.
  const nids: number[] = [];
  for (let i = 0; i < 3000; i++) nids.push(i * 2 + 27);
  for (let i = 0; i < 200; i++) nids.push(2 ** 31 + i * 65536, 2 ** 33 + i);
  let k = 0;
  for (const nid of nids) {
    const kind = k % 7 === 0 ? KEY_NONE : k % 11 === 0 ? KEY_BAD : KEY_OK;
    k++;
    if (kind === KEY_OK) {
      const hex = (nid.toString(16).padStart(8, '0') + 'ab'.repeat(28)).slice(0, 64);
      const key = ishareKeyOf('d', hex, k % 2 === 0);
      table.add(nid, KEY_OK, key, hex);
      want.set(nid, { kind, words: [...key.words], hex });
    } else {
      table.add(nid, kind);
      want.set(nid, { kind, words: [], hex: '' });
    }
  }
  t.is(table.size, want.size);
  for (const [nid, w] of want) {
    const e = table.find(nid);
    t.true(e >= 0, `nid ${nid} found`);
    t.is(table.kind(e), w.kind);
    if (w.kind === KEY_OK) {
      const off = table.keyOffset(e);
      t.deepEqual([...table.keyWords().subarray(off, off + KEY_WORDS)], w.words);
      t.is(table.hex(e), w.hex);
    }
  }
  for (const nid of [0, 1, 26, 28, 6027, 2 ** 31 + 1, 2 ** 33 + 200, 2 ** 40]) t.is(table.find(nid), -1, `nid ${nid}`);
});

test('a nid recorded twice, a negative or fractional nid, or a key entry without its key is refused', (t) => {
  const table = new IshareKeyTable(1);
  table.add(40, KEY_NONE);
  t.throws(() => table.add(40, KEY_BAD), { message: /recorded twice/ });
  t.throws(() => table.add(-1, KEY_NONE), { instanceOf: RangeError });
  t.throws(() => table.add(1.5, KEY_NONE), { instanceOf: RangeError });
  // A JavaScript caller can leave the key out; the table refuses rather than record an empty key.
  const untyped = table.add.bind(table) as (nid: number, kind: number) => number;
  t.throws(() => untyped(41, KEY_OK), { message: /needs its key/ });
  t.is(table.size, 1);
});
