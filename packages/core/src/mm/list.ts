// list_head, by slot index: a doubly linked list whose links live in arena records.
// A head is two words (first, last); an element's link is two words (prev, next) inside its record.
// NIL ends a list; UNLINKED in `prev` marks an element that is on no list (list_empty(&link)).
// Mutated only under the lock that owns the list, so plain (non-atomic) accesses suffice: the lock's
// Atomics operations order them.

export const NIL = -1;
export const UNLINKED = -2;

/** Where an element's link words are: record `slot` starts at base + slot*stride. */
export interface ListSpec {
  readonly base: number;
  readonly stride: number;
  readonly prev: number; // offset of the prev word in the record
  readonly next: number; // offset of the next word in the record
}

export function listSpec(base: number, stride: number, prev: number, next: number): ListSpec {
  return { base, stride, prev, next };
}

export function listInitHead(i32: Int32Array, head: number): void {
  i32[head] = NIL;
  i32[head + 1] = NIL;
}

export function linkInit(i32: Int32Array, s: ListSpec, elem: number): void {
  const r = s.base + elem * s.stride;
  i32[r + s.prev] = UNLINKED;
  i32[r + s.next] = NIL;
}

export function isLinked(i32: Int32Array, s: ListSpec, elem: number): boolean {
  return i32[s.base + elem * s.stride + s.prev] !== UNLINKED;
}

export function listEmpty(i32: Int32Array, head: number): boolean {
  return i32[head] === NIL;
}

export function listFirst(i32: Int32Array, head: number): number {
  return i32[head];
}

export function listLast(i32: Int32Array, head: number): number {
  return i32[head + 1];
}

export function listNext(i32: Int32Array, s: ListSpec, elem: number): number {
  return i32[s.base + elem * s.stride + s.next];
}

export function listPrev(i32: Int32Array, s: ListSpec, elem: number): number {
  return i32[s.base + elem * s.stride + s.prev];
}

/** list_add: insert at the front. */
export function listAdd(i32: Int32Array, s: ListSpec, head: number, elem: number): void {
  const r = s.base + elem * s.stride;
  const first = i32[head];
  i32[r + s.prev] = NIL;
  i32[r + s.next] = first;
  if (first === NIL) i32[head + 1] = elem;
  else i32[s.base + first * s.stride + s.prev] = elem;
  i32[head] = elem;
}

/** list_add_tail: insert at the back. */
export function listAddTail(i32: Int32Array, s: ListSpec, head: number, elem: number): void {
  const r = s.base + elem * s.stride;
  const last = i32[head + 1];
  i32[r + s.next] = NIL;
  i32[r + s.prev] = last;
  if (last === NIL) i32[head] = elem;
  else i32[s.base + last * s.stride + s.next] = elem;
  i32[head + 1] = elem;
}

/** list_del_init: unlink and mark UNLINKED. The element must be on this list. */
export function listDel(i32: Int32Array, s: ListSpec, head: number, elem: number): void {
  const r = s.base + elem * s.stride;
  const prev = i32[r + s.prev];
  const next = i32[r + s.next];
  if (prev === NIL) i32[head] = next;
  else i32[s.base + prev * s.stride + s.next] = next;
  if (next === NIL) i32[head + 1] = prev;
  else i32[s.base + next * s.stride + s.prev] = prev;
  i32[r + s.prev] = UNLINKED;
  i32[r + s.next] = NIL;
}

/** Count elements (bounded by `limit` so a corrupted list cannot loop forever). */
export function listCount(i32: Int32Array, s: ListSpec, head: number, limit: number): number {
  let n = 0;
  for (let e = i32[head]; e !== NIL && n <= limit; e = i32[s.base + e * s.stride + s.next]) n++;
  return n;
}
