import {
  FOLIO_TYPE_HUGETLB,
  type Folio,
  FRAME_HEAD,
  memmapReader,
  nodeSpannedPages,
  nodeStartPfn,
  PAGE_MAPPING_MOVABLE,
  PG_lru,
  pfnFolio,
} from '@mmsim/folio';
import { type Kernel, pageCacheLookup } from '@mmsim/kernel';
import { type AddressSpaceView, type MmView, PAGE_SIZE } from '@mmsim/rmap';
import { FP_FOLIO, FP_ZONE } from '@mmsim/runtime';

/**
 * Which folios a migrator tries to isolate, in order. A selector is a lazy iterable: each
 * folio is looked up when the migrator comes to it (between two of its scheduling
 * points), as the kernel's callers look pages up one at a time, so what it yields is
 * current. `null` stands for a place with nothing to migrate.
 */
export type FolioSelector = (round: number, target: number) => Iterable<Folio | null>;

/**
 * The folios mapping `pages` pages of `mm` from `addr`, as `move_pages` looks them up
 * (`follow_page` of each address: present PTEs only, each folio once), in address order
 * or its reverse.
 */
export function mappedFolios(
  k: Kernel,
  mm: MmView,
  addr: number,
  pages: number,
  order: 'ascending' | 'descending' = 'ascending',
): FolioSelector {
  const seen = new SeenFolios(k, pages);
  return () => new MappedFoliosWalk(k, mm, addr, pages, order, seen);
}

/**
 * The folios a walk has yielded, as epoch stamps by pfn shared by the walks of one
 * selector (no set per walk): a folio was seen in the current walk when its stamp is that
 * walk's epoch. Only one walk at a time may use the stamps (`claim`); a walk that starts
 * while another is still going (never finished or returned) keeps a `Set` of its own.
 * A selector of at most `SMALL_WALK` pages keeps the folios of the current walk in a list
 * of that length instead (searched from its start): a stamp array of the machine's size,
 * made for each machine's first walk, would cost more than the walks.
 */
class SeenFolios {
  readonly #k: Kernel;
  #stamps: Uint32Array | null = null;
  /** The current walk's folios, for a selector of few pages; null otherwise. */
  readonly #few: Int32Array | null;
  #nFew = 0;
  #epoch = 0;
  #busy = false;

  constructor(k: Kernel, pages: number) {
    this.#k = k;
    this.#few = pages <= SMALL_WALK ? new Int32Array(Math.max(Math.ceil(pages), 0)) : null;
  }

  /** A new walk's epoch, or 0 when another walk holds the stamps. */
  claim(): number {
    if (this.#busy) return 0;
    this.#busy = true;
    this.#nFew = 0;
    if (this.#epoch === 0xffffffff) {
      this.#stamps?.fill(0);
      this.#epoch = 0;
    }
    return ++this.#epoch;
  }

  /** The walk of `epoch` ended. */
  release(epoch: number): void {
    if (epoch === this.#epoch) this.#busy = false;
  }

  /** Marks `folio` seen in the walk of `epoch`; false when it already was. */
  add(epoch: number, folio: Folio): boolean {
    const few = this.#few;
    if (few !== null) {
      const n = this.#nFew;
      for (let i = 0; i < n; i++) if (few[i] === folio) return false;
      few[n] = folio; // a walk adds at most one folio per page
      this.#nFew = n + 1;
      return true;
    }
    let stamps = this.#stamps;
    if (stamps === null || folio >= stamps.length) {
      const grown = new Uint32Array(Math.max(folio + 1, memmapReader(this.#k.mem).maxPfn));
      if (stamps !== null) grown.set(stamps);
      this.#stamps = stamps = grown;
    }
    if (stamps[folio] === epoch) return false;
    stamps[folio] = epoch;
    return true;
  }
}

/** The most pages of a `mappedFolios` selector whose walks keep their folios in a list. */
const SMALL_WALK = 32;

/**
 * `mappedFolios`'s walk, as an iterator object stepped by the migrator's `for ... of`
 * (each `next()` looks up the next address, between two of the migrator's scheduling
 * points). Its result object is reused from one `next()` to the next: a `for ... of` or
 * `yield*` reads it at once.
 */
class MappedFoliosWalk implements Iterator<Folio | null>, Iterable<Folio | null> {
  readonly #k: Kernel;
  readonly #mm: MmView;
  readonly #addr: number;
  readonly #pages: number;
  readonly #descending: boolean;
  readonly #seen: SeenFolios;
  /** This walk's epoch in `#seen` (claimed at the first `next()`), -1 before. */
  #epoch = -1;
  /** The set of a walk that could not claim `#seen`. */
  #own: Set<Folio> | null = null;
  #n = 0;
  #ended = false;
  readonly #result: IteratorYieldResult<Folio | null> = { done: false, value: null };

  constructor(
    k: Kernel,
    mm: MmView,
    addr: number,
    pages: number,
    order: 'ascending' | 'descending',
    seen: SeenFolios,
  ) {
    this.#k = k;
    this.#mm = mm;
    this.#addr = addr;
    this.#pages = pages;
    this.#descending = order === 'descending';
    this.#seen = seen;
  }

  next(): IteratorResult<Folio | null> {
    if (this.#ended) return this.#end();
    if (this.#epoch < 0) {
      this.#epoch = this.#seen.claim();
      if (this.#epoch === 0) this.#own = new Set();
    }
    const k = this.#k;
    const mm = this.#mm;
    const pages = this.#pages;
    const result = this.#result;
    while (this.#n < pages) {
      const n = this.#n++;
      const i = this.#descending ? pages - 1 - n : n;
      if (!mm.alive) break;
      const pfn = k.vm.presentPfnAt(mm, this.#addr + i * PAGE_SIZE);
      if (pfn < 0 || pfn === k.mem.zeroPfn) {
        result.value = null;
        return result;
      }
      const folio = pfnFolio(k.mem, pfn);
      if (folio < 0) continue;
      const own = this.#own;
      if (own === null ? !this.#seen.add(this.#epoch, folio) : own.has(folio)) continue;
      own?.add(folio);
      result.value = folio;
      return result;
    }
    return this.#end();
  }

  return(): IteratorResult<Folio | null> {
    return this.#end();
  }

  #end(): IteratorResult<Folio | null> {
    if (!this.#ended) {
      this.#ended = true;
      if (this.#epoch > 0) this.#seen.release(this.#epoch);
      this.#own = null;
    }
    return { done: true, value: undefined };
  }

  [Symbol.iterator](): this {
    return this;
  }
}

/** The folios caching `indices` of `file` (one lookup each, skipping repeats). */
export function cachedFolios(
  k: Kernel,
  file: AddressSpaceView,
  indices: readonly number[],
): FolioSelector {
  return () => cachedFoliosWalk(k, file, indices);
}

/**
 * Compaction's migration scanner (`isolate_migratepages_block`, mm/compaction.c, 6.3):
 * the frames of node `nid` in ascending pfn order, yielding each folio head that is on
 * the LRU or is a non-LRU movable page, without taking any lock. Hugetlb folios are
 * skipped, as compaction (but not `alloc_contig_range`) skips them in 6.3.
 */
export function nodeScan(
  k: Kernel,
  nid: number | ((round: number, target: number) => number),
): FolioSelector {
  const select: FolioSelector = (round, target) => nodeScanWalk(k, nid, round, target);
  (select as RecordingSelector)[RECORDS_READS] = true;
  return select;
}

/**
 * The mark of a selector that records what it reads (`Runtime.touchKernel`) in the caller's
 * step: a property of the selector, not an entry in a module-level weak set (an explorer
 * makes a selector a machine, and a weak set's entries cost an ephemeron each, about a
 * microsecond to add and more for the collector to trace).
 */
const RECORDS_READS: unique symbol = Symbol('records reads');

/** A selector with the mark. */
interface RecordingSelector {
  [RECORDS_READS]?: true;
}

/**
 * Whether `select` records every read it makes (`nodeScan` does): a migrator that declares
 * its footprints may use it.
 */
export function selectorRecordsFootprints(select: FolioSelector): boolean {
  return (select as RecordingSelector)[RECORDS_READS] === true;
}

/** Fixed folios, for a scenario that knows exactly what it migrates. */
export function givenFolios(folios: () => readonly Folio[]): FolioSelector {
  return () => givenFoliosWalk(folios);
}

/** The selectors one after the other. */
export function concatSelectors(...selectors: readonly FolioSelector[]): FolioSelector {
  return (round, target) => new ConcatWalk(selectors, round, target);
}

/** `cachedFolios`'s walk (a module-level generator: see `initTask` in scenario.ts). */
function* cachedFoliosWalk(
  k: Kernel,
  file: AddressSpaceView,
  indices: readonly number[],
): Generator<Folio | null> {
  const mem = k.mem;
  const seen = new Set<Folio>();
  for (const index of indices) {
    const folio = pageCacheLookup(mem, file, index);
    if (folio === undefined) {
      yield null;
      continue;
    }
    if (seen.has(folio)) continue;
    seen.add(folio);
    yield folio;
  }
}

/** `nodeScan`'s walk (a module-level generator: see `initTask` in scenario.ts). */
function* nodeScanWalk(
  k: Kernel,
  nid: number | ((round: number, target: number) => number),
  round: number,
  target: number,
): Generator<Folio> {
  const mem = k.mem;
  const rt = k.rt;
  const node = typeof nid === 'function' ? nid(round, target) : nid;
  const start = nodeStartPfn(mem, node);
  const end = start + nodeSpannedPages(mem, node);
  // The frames read through the memmap reader (`pfnValid`, `pfnFolio`, `folioNrPages`,
  // `folioTestHugetlb`, `folioTestFlag(PG_lru)`, `folioTestMovable` of a live head): a
  // hole, a free frame or a tail is not a head and is passed over one pfn at a time.
  const r = memmapReader(mem);
  // The scan reads which pfns are allocated and how (the buddy's side: FP_ZONE), then
  // the flags of each folio it comes to (FP_FOLIO), in the step of the caller's next().
  rt.touchKernel(FP_ZONE, node, false);
  for (let pfn = start; pfn < end; ) {
    if (r.state[pfn] !== FRAME_HEAD) {
      pfn++;
      continue;
    }
    const folio = pfn;
    rt.touchKernel(FP_FOLIO, folio, false);
    pfn += 1 << r.order[folio]!;
    if (r.folioType[folio] === FOLIO_TYPE_HUGETLB) continue;
    if ((r.flags[folio]! & LRU_FLAG) !== 0 || r.mappingKind[folio] === PAGE_MAPPING_MOVABLE) {
      yield folio;
      rt.touchKernel(FP_ZONE, node, false);
    }
  }
}

/** PG_lru as a bit of the memmap reader's `flags` word. */
const LRU_FLAG = 1 << PG_lru;

/** `givenFolios`'s walk (a module-level generator: see `initTask` in scenario.ts). */
function* givenFoliosWalk(folios: () => readonly Folio[]): Generator<Folio> {
  yield* folios();
}

/**
 * `concatSelectors`'s walk, as an iterator object: what a generator running `yield*` over
 * each selector's walk in turn gives (the same walks made at the same `next()`, their
 * result objects handed on as they are, `return()` passed to the walk in progress), with
 * no generator resumed and suspended around each folio. A `migrate_pages` round of
 * migrate-under-writes takes its folios through eight of them.
 */
class ConcatWalk implements Iterator<Folio | null>, Iterable<Folio | null> {
  readonly #selectors: readonly FolioSelector[];
  readonly #round: number;
  readonly #target: number;
  /** The next selector to start. */
  #i = 0;
  /** The walk in progress, or null (none started yet, or the last one ended). */
  #walk: Iterator<Folio | null> | null = null;
  #ended = false;

  constructor(selectors: readonly FolioSelector[], round: number, target: number) {
    this.#selectors = selectors;
    this.#round = round;
    this.#target = target;
  }

  next(): IteratorResult<Folio | null> {
    if (this.#ended) return { done: true, value: undefined };
    for (;;) {
      let walk = this.#walk;
      if (walk === null) {
        const selectors = this.#selectors;
        if (this.#i >= selectors.length) {
          this.#ended = true;
          return { done: true, value: undefined };
        }
        const select = selectors[this.#i++] as FolioSelector;
        walk = select(this.#round, this.#target)[Symbol.iterator]();
        this.#walk = walk;
      }
      const r = walk.next();
      if (!r.done) return r;
      this.#walk = null;
    }
  }

  return(): IteratorResult<Folio | null> {
    const walk = this.#walk;
    this.#walk = null;
    this.#ended = true;
    walk?.return?.();
    return { done: true, value: undefined };
  }

  [Symbol.iterator](): this {
    return this;
  }
}
