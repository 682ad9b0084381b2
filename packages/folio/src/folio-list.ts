import { MmsimError } from '@mmsim/runtime';
import {
  acquireListId,
  type Folio,
  FRAME_HEAD,
  folioError,
  listOwnerOf,
  type Memmap,
  markWritten,
  memmapOf,
  type PhysicalMemory,
  publicView,
  releaseListId,
} from './memmap.js';

/** Set by FolioList's static block (declared first: the block runs as the class is defined). */
let internals: FolioListInternals;

/**
 * A list of folios linked through their `lru` field (include/linux/list.h used on
 * `folio->lru`): an LRU list, or one of migration's private lists (`from`, `ret_folios`,
 * `split_folios`, ...). The links are the memmap's pfn-indexed next/prev arrays, so the list
 * allocates nothing per folio. A folio is on at most one list at a time; the list it is on is
 * recorded (as an id the list holds while it is not empty, in the memmap's `listId`), and adding a folio that is still on a list is a CONTRACT_VIOLATION (in the
 * kernel it silently corrupts both lists). Free frames reuse the same links for the buddy
 * free lists, which is safe because a free frame is on no folio list.
 *
 * "Front" is the kernel's `list_add` end (`list_first_entry`), "tail" is `list_add_tail`.
 */
export class FolioList implements Iterable<Folio> {
  readonly #m: Memmap;
  #head = -1;
  #tail = -1;
  #size = 0;
  /** This list's id in the memmap's `lists` while it is not empty; 0 while it is. */
  #id = 0;

  constructor(mem: PhysicalMemory) {
    this.#m = memmapOf(mem);
  }

  /** The memory whose folios this list links. */
  get mem(): PhysicalMemory {
    return publicView(this.#m);
  }

  /** Number of folios on the list (`list_count_nodes`, kept as a counter). */
  get size(): number {
    return this.#size;
  }

  /** `list_empty`. */
  isEmpty(): boolean {
    return this.#size === 0;
  }

  /** `list_first_entry_or_null`: the front folio, or -1 when empty. */
  first(): Folio {
    return this.#head;
  }

  /** `list_last_entry`: the tail folio, or -1 when empty. */
  last(): Folio {
    return this.#tail;
  }

  /** Whether `folio` is on this list. */
  has(folio: Folio): boolean {
    const m = this.#m;
    return m.state[folio] === FRAME_HEAD && this.#id !== 0 && m.listId[folio] === this.#id;
  }

  /** The folio after `folio` on this list, or -1 at the tail. */
  next(folio: Folio): Folio {
    this.#checkOn(folio, 'next');
    return this.#m.next[folio]!;
  }

  /** The folio before `folio` on this list, or -1 at the front. */
  prev(folio: Folio): Folio {
    this.#checkOn(folio, 'prev');
    return this.#m.prev[folio]!;
  }

  /** `list_add(&folio->lru, list)`: add at the front. */
  add(folio: Folio): void {
    this.#checkOff(folio, 'add');
    this.#linkFront(folio);
  }

  /** `list_add_tail(&folio->lru, list)`: add at the tail. */
  addTail(folio: Folio): void {
    this.#checkOff(folio, 'addTail');
    this.#linkTail(folio);
  }

  /**
   * `list_add_tail(&folio->lru, &pos->lru)`: insert `folio` just before `pos`, which is on
   * this list (how `lru_add_page_tail` puts split tails next to their head).
   */
  addBefore(folio: Folio, pos: Folio): void {
    this.#checkOn(pos, 'addBefore (position)');
    this.#checkOff(folio, 'addBefore');
    const m = this.#m;
    const prev = m.prev[pos]!;
    m.prev[folio] = prev;
    m.next[folio] = pos;
    m.prev[pos] = folio;
    if (prev >= 0) m.next[prev] = folio;
    else this.#head = folio;
    m.listId[folio] = this.#takeId();
    this.#size++;
    stampLinks(m, folio, pos, prev);
  }

  /** `list_del(&folio->lru)`: take `folio`, which must be on this list, off it. */
  del(folio: Folio): void {
    this.#checkOn(folio, 'del');
    this.#unlink(folio);
  }

  /** `list_move(&folio->lru, dst)`: take `folio` off this list and add it at the front of `dst`. */
  moveTo(folio: Folio, dst: FolioList): void {
    this.#checkOn(folio, 'moveTo');
    this.#checkSameMemory(dst);
    this.#unlink(folio);
    dst.#linkFront(folio);
  }

  /** `list_move_tail(&folio->lru, dst)`: take `folio` off this list and add it at the tail of `dst`. */
  moveToTail(folio: Folio, dst: FolioList): void {
    this.#checkOn(folio, 'moveToTail');
    this.#checkSameMemory(dst);
    this.#unlink(folio);
    dst.#linkTail(folio);
  }

  /**
   * `list_splice_init(list, dst)`: move every folio of this list, in order, to the front of
   * `dst`, and leave this list empty.
   */
  spliceInit(dst: FolioList): void {
    this.#checkSplice(dst);
    if (this.#size === 0) return;
    const m = this.#m;
    this.#adopt(dst);
    const first = this.#head;
    const last = this.#tail;
    const old = dst.#head;
    m.next[last] = old;
    if (old >= 0) m.prev[old] = last;
    else dst.#tail = last;
    stampLinks(m, last, old, -1);
    dst.#head = first;
    dst.#size += this.#size;
    this.#clear();
  }

  /**
   * `list_splice_tail_init(list, dst)`: move every folio of this list, in order, to the tail
   * of `dst`, and leave this list empty.
   */
  spliceTailInit(dst: FolioList): void {
    this.#checkSplice(dst);
    if (this.#size === 0) return;
    const m = this.#m;
    this.#adopt(dst);
    const first = this.#head;
    const last = this.#tail;
    const old = dst.#tail;
    m.prev[first] = old;
    if (old >= 0) m.next[old] = first;
    else dst.#head = first;
    stampLinks(m, first, old, -1);
    dst.#tail = last;
    dst.#size += this.#size;
    this.#clear();
  }

  /**
   * Iterates front to tail like `list_for_each_entry_safe`: the next folio is read before
   * the current one is handed out, so the current one may be deleted or moved to another
   * list. Removing the *next* folio during the iteration throws CONTRACT_VIOLATION (in the
   * kernel it would walk a stale pointer).
   */
  [Symbol.iterator](): Iterator<Folio> {
    return new SafeIterator(this.#m, this, this.#head);
  }

  /** The folios front to tail. */
  toArray(): Folio[] {
    const out: Folio[] = [];
    const m = this.#m;
    for (let f = this.#head; f >= 0; f = m.next[f]!) out.push(f);
    return out;
  }

  #linkFront(folio: number): void {
    const m = this.#m;
    const head = this.#head;
    m.next[folio] = head;
    m.prev[folio] = -1;
    if (head >= 0) m.prev[head] = folio;
    else this.#tail = folio;
    this.#head = folio;
    m.listId[folio] = this.#takeId();
    this.#size++;
    stampLinks(m, folio, head, -1);
  }

  #linkTail(folio: number): void {
    const m = this.#m;
    const tail = this.#tail;
    m.prev[folio] = tail;
    m.next[folio] = -1;
    if (tail >= 0) m.next[tail] = folio;
    else this.#head = folio;
    this.#tail = folio;
    m.listId[folio] = this.#takeId();
    this.#size++;
    stampLinks(m, folio, tail, -1);
  }

  #unlink(folio: number): void {
    const m = this.#m;
    const next = m.next[folio]!;
    const prev = m.prev[folio]!;
    if (prev >= 0) m.next[prev] = next;
    else this.#head = next;
    if (next >= 0) m.prev[next] = prev;
    else this.#tail = prev;
    m.next[folio] = -1;
    m.prev[folio] = -1;
    m.listId[folio] = 0;
    stampLinks(m, folio, prev, next);
    if (--this.#size === 0) this.#giveBackId();
  }

  /** This list's id, taken when it gets its first folio. */
  #takeId(): number {
    let id = this.#id;
    if (id === 0) {
      id = acquireListId(this.#m, this);
      this.#id = id;
    }
    return id;
  }

  /** The list is empty again: its id goes back. */
  #giveBackId(): void {
    if (this.#id !== 0) {
      releaseListId(this.#m, this.#id);
      this.#id = 0;
    }
  }

  #adopt(dst: FolioList): void {
    const m = this.#m;
    const id = dst.#takeId();
    for (let f = this.#head; f >= 0; f = m.next[f]!) {
      m.listId[f] = id;
      markWritten(m, f);
    }
  }

  #clear(): void {
    this.#head = -1;
    this.#tail = -1;
    this.#size = 0;
    this.#giveBackId();
  }

  static {
    // The friend access of `putFolioList` (put-folio-list.ts), which unlinks the front of a
    // list itself, and of `isolateFreeBlock` (buddy.ts), which links a run of new pages at
    // its tail: see `folioListInternals`.
    internals = {
      memmap: (list) => list.#m,
      id: (list) => list.#id,
      droppedFront: (list, newHead, count) => list.#droppedFront(newHead, count),
      addTailRun: (list, pfn, nr) => list.#addTailRun(pfn, nr),
    };
  }

  /**
   * `addTail` of each of the folios pfn, pfn + 1, ..., pfn + nr - 1 in turn: the links, list
   * ids and write stamps those calls leave. The caller vouches that they are heads on no list
   * and stamped in this write epoch already (`isolateFreeBlock` has just made them order-0
   * folios out of a free block, and checked): only the old tail gets a stamp here.
   * Why: compaction's free scanner adds a free block's pages, up to a pageblock of them, one
   * after the other, and per page the call, its checks and its stamps cost more than the links.
   */
  #addTailRun(pfn: number, nr: number): void {
    if (nr <= 0) return;
    const m = this.#m;
    const end = pfn + nr;
    const tail = this.#tail;
    const next = m.next;
    const prev = m.prev;
    prev[pfn] = tail;
    if (tail >= 0) next[tail] = pfn;
    else this.#head = pfn;
    for (let p = pfn + 1; p < end; p++) {
      next[p - 1] = p;
      prev[p] = p - 1;
    }
    next[end - 1] = -1;
    m.listId.fill(this.#takeId(), pfn, end);
    this.#tail = end - 1;
    this.#size += nr;
    if (tail >= 0) markWritten(m, tail);
  }

  /**
   * The caller took the first `count` folios off this list by itself (their `listId` cleared,
   * their links its own business): `newHead`, the folio that was after them (-1: none), is
   * the new front, as `count` calls of `#unlink` on the front would have left it.
   */
  #droppedFront(newHead: number, count: number): void {
    if (count === 0) return;
    this.#size -= count;
    this.#head = newHead;
    if (newHead < 0) {
      this.#tail = -1;
      this.#giveBackId();
      return;
    }
    const m = this.#m;
    m.prev[newHead] = -1;
    markWritten(m, newHead);
  }

  #checkOn(folio: number, op: string): void {
    const m = this.#m;
    if (m.state[folio] !== FRAME_HEAD) throw folioError(m, folio);
    if (this.#id === 0 || m.listId[folio] !== this.#id) {
      throw new MmsimError(
        'CONTRACT_VIOLATION',
        m.listId[folio] === 0
          ? `FolioList.${op}: folio ${folio} is not on any list`
          : `FolioList.${op}: folio ${folio} is on another list`,
      );
    }
  }

  #checkOff(folio: number, op: string): void {
    const m = this.#m;
    if (m.state[folio] !== FRAME_HEAD) throw folioError(m, folio);
    if (m.listId[folio] !== 0) {
      throw new MmsimError(
        'CONTRACT_VIOLATION',
        `FolioList.${op}: folio ${folio} is already on ${m.listId[folio] === this.#id ? 'this' : 'another'} list (delete or move it instead)`,
      );
    }
  }

  #checkSameMemory(dst: FolioList): void {
    if (!(dst instanceof FolioList) || dst.#m !== this.#m) {
      throw new MmsimError(
        'INVALID_ARGUMENT',
        'the destination list must be a FolioList of the same PhysicalMemory',
      );
    }
  }

  #checkSplice(dst: FolioList): void {
    this.#checkSameMemory(dst);
    if (dst === this) {
      throw new MmsimError('INVALID_ARGUMENT', 'cannot splice a FolioList onto itself');
    }
  }
}

/**
 * What a list-wide operation in another file of this package may read or do to a FolioList's
 * private state (set by the class's static block): its memmap, its id (0 while empty), and
 * `droppedFront`, the bookkeeping after the caller unlinked the first `count` folios itself.
 */
export interface FolioListInternals {
  memmap(list: FolioList): Memmap;
  id(list: FolioList): number;
  droppedFront(list: FolioList, newHead: number, count: number): void;
  /** `addTail` of the order-0 folios pfn .. pfn + nr - 1 in turn (see `FolioList#addTailRun`). */
  addTailRun(list: FolioList, pfn: number, nr: number): void;
}

/** The friend access to FolioList's private state (internal to this package). */
export function folioListInternals(): FolioListInternals {
  return internals;
}

class SafeIterator implements Iterator<Folio> {
  readonly #m: Memmap;
  readonly #list: FolioList;
  #cur: number;
  /** The one result object of this iteration, refilled by each `next()` (for...of reads it at once). */
  readonly #result: { done: boolean; value: Folio } = { done: false, value: -1 };

  constructor(m: Memmap, list: FolioList, first: number) {
    this.#m = m;
    this.#list = list;
    this.#cur = first;
  }

  next(): IteratorResult<Folio> {
    const cur = this.#cur;
    if (cur < 0) return { done: true, value: undefined };
    const m = this.#m;
    if (m.state[cur] !== FRAME_HEAD || listOwnerOf(m, cur) !== this.#list) {
      throw new MmsimError(
        'CONTRACT_VIOLATION',
        `FolioList iteration: folio ${cur}, the next entry, was taken off the list during the iteration`,
      );
    }
    this.#cur = m.next[cur]!;
    const r = this.#result;
    r.value = cur;
    return r;
  }
}

/**
 * An iterator that lives as long as the module, never used. V8 keeps the hidden class of
 * SafeIterator instances only while one of them is alive (its constructor's transition tree
 * holds it weakly): without this one, a full collection between two iterations frees it and
 * discards the optimised code of every function that checks it (`next`, called for each
 * folio of every `for...of` over a list), which the next machine then runs in the
 * interpreter until it is hot again.
 */
export const ITERATOR_SHAPE_HOLDER: object = new SafeIterator(
  null as unknown as Memmap,
  null as unknown as FolioList,
  -1,
);

/** The FolioList `folio` is on, or null. */
export function folioOnList(mem: PhysicalMemory, folio: Folio): FolioList | null {
  const m = memmapOf(mem);
  if (m.state[folio] !== FRAME_HEAD) throw folioError(m, folio);
  return listOwnerOf(m, folio);
}

/**
 * Stamps the frames whose links a list operation wrote (`folio` and its neighbours, -1 for
 * none) for the incremental memory-map check (`markWritten`): it skips a chunk of frames no
 * writer stamped, list links included.
 */
function stampLinks(m: Memmap, folio: number, a: number, b: number): void {
  markWritten(m, folio);
  if (a >= 0) markWritten(m, a);
  if (b >= 0) markWritten(m, b);
}
