import {
  FOLIO_TYPE_HUGETLB,
  type Folio,
  FRAME_FREE,
  FRAME_HEAD,
  FRAME_POOL_TAIL,
  FRAME_TAIL,
  type FrameView,
  folioEntireMapcount,
  folioIndex,
  folioMapping,
  folioNrPages,
  folioOrder,
  folioTestAnon,
  folioTestFlag,
  folioTestHugetlb,
  folioTestKsm,
  frameView,
  HPAGE_PMD_ORDER,
  type MemmapReader,
  memmapReader,
  nodeSpannedPages,
  nodeStartPfn,
  PAGE_MAPPING_ANON,
  PAGE_MAPPING_KSM,
  PG_anon_exclusive,
  PG_locked,
  PG_slab,
  PG_swapbacked,
  PG_swapcache,
  pageMapcount,
  pageTestFlag,
  pfnFolio,
  pfnValid,
  readerMapping,
} from '@mmsim/folio';
import { MmsimError } from '@mmsim/runtime';
import { type AddressSpace, folioAddressSpace } from './address-space.js';
import type { AnonVma } from './anon-vma.js';
import { folioAnonVma } from './anon-vma.js';
import { GUP_PIN_COUNTING_BIAS, NR_MM_COUNTERS, PAGE_SIZE, PTRS_PER_PTE } from './constants.js';
import { checkHugetlbEntry } from './hugetlb-invariants.js';
import { isVmHugetlbPage } from './hugetlb-state.js';
import {
  F_BITS,
  F_EXCLUSIVE,
  F_FOLIO,
  F_LOCKED,
  F_MAP,
  F_META,
  F_RAW,
  type IncrementalRmapState,
  newRecord,
  passEndedSound,
  releaseRecord,
  SLOT_CHECK,
  SLOT_COUNTED,
  SLOT_FIELDS,
  SLOT_FOLIO,
  SLOT_ID_SHIFT,
  SLOT_MIGRATION,
  SLOT_ZERO,
  startIncrementalPass,
  type TableRecord,
  vmasUnchanged,
} from './invariants/incremental.js';
import { checkKsm, checkKsmFolio, checkKsmMapping, folioStableNode } from './ksm.js';
import type { Mm } from './mm.js';
import {
  ALL_PTE_RANGES,
  type PageTable,
  PTE_RANGE_SHIFT,
  PTE_RANGE_SLOTS,
  PTE_RANGES,
} from './page-table.js';
import {
  formatPte,
  isMigrationEntry,
  PTE_DIRTY,
  PTE_PRESENT,
  PTE_SOFT_DIRTY,
  PTE_YOUNG,
  pteHwPresent,
  ptePfn,
  ptePresent,
  pteProtnone,
  pteWrite,
} from './pte.js';
import type { RmapState } from './rmap-state.js';
import { tlbFlushedBeforeUse } from './tlb.js';
import { entryAt } from './view.js';
import { mmCounter } from './vm-fault.js';
import type { Vma } from './vma.js';

/** Options of `checkRmap`. */
export interface RmapCheckOptions {
  /**
   * The machine is at rest (no migration or flush in flight): every TLB entry must agree
   * with the page tables, and no task may have a deferred flush pending.
   */
  readonly quiescent?: boolean;
  /**
   * Check again in full only the page-table entries whose entry, VMA or folio fields
   * (frame, type, mapping, index) changed since the machine's last sound incremental pass,
   * the others counting as that pass recorded them (PageAnonExclusive and the flags the
   * verdict reads tested again), and only the folios whose counts, frames or mappings
   * changed since. Everything else (VMAs, anon_vmas, KSM, page caches, pins, TLBs) runs in
   * full. The verdict is the full check's: a pass that finds anything returns the full
   * check's list. A machine none of whose page tables has 16 entries yet gets the full
   * check. Default false: the full check.
   */
  readonly incremental?: boolean;
}

const MAX_PROBLEMS = 50;

/**
 * The problems one check found. One object serves every check of the thread (`threadProblems`,
 * started afresh by `start`), so that a check does not allocate it and its bound `addFn`:
 * checks do not nest (see `shared`), and only `list`, a new array each check, leaves it.
 */
class Problems {
  list: string[] = [];
  dropped = 0;
  /** `add` bound once, for the checks that take a callback (hugetlb, KSM). */
  readonly addFn = (message: string): void => this.add(message);
  add(message: string): void {
    if (this.list.length < MAX_PROBLEMS) this.list.push(message);
    else this.dropped++;
  }
  /** Empty, for a new check. */
  start(): this {
    this.list = [];
    this.dropped = 0;
    return this;
  }
}

/** The `Problems` of every check in this thread. */
const threadProblems = new Problems();

/**
 * A per-pfn counter of one check, with the `get`/`set` of the map `checkHugetlbEntry`
 * counts into. Its slots are zeroed by `Tally.reset`, which knows the pfns touched.
 */
class PfnCounter {
  readonly #counts: Int32Array;
  readonly #tally: Tally;
  constructor(counts: Int32Array, tally: Tally) {
    this.#counts = counts;
    this.#tally = tally;
  }
  get(pfn: number): number {
    return this.#counts[pfn]!;
  }
  set(pfn: number, value: number): void {
    if (this.#counts[pfn] === 0) this.#tally.touch(pfn);
    this.#counts[pfn] = value;
  }
}

/**
 * A float64 view of a whole buffer, made again only when the buffer changes (a machine's
 * memmap arrays read 8 bytes at a time by the checks below).
 */
class WordView {
  #view: Float64Array | null = null;
  #of: ArrayBufferLike | null = null;

  of(buffer: ArrayBufferLike): Float64Array {
    if (this.#of !== buffer || this.#view === null) {
      this.#view = new Float64Array(buffer, 0, buffer.byteLength >>> 3);
      this.#of = buffer;
    }
    return this.#view;
  }
}

/**
 * Up to `SMALL_ANON_VMA_CHECK` distinct objects, kept between checks: its first `n` slots.
 * Emptied by nulling them (`clear`), not by a store to `length`, which is a call into the
 * runtime on every check.
 */
class SmallList<T extends object> {
  readonly items: (T | null)[] = [];
  n = 0;

  /** Adds `item` unless there; false when the list is full. */
  addOnce(item: T): boolean {
    const items = this.items;
    const n = this.n;
    for (let i = 0; i < n; i++) if (items[i] === item) return true;
    if (n >= SMALL_ANON_VMA_CHECK) return false;
    items[n] = item;
    this.n = n + 1;
    return true;
  }

  clear(): void {
    const items = this.items;
    for (let i = 0; i < this.n; i++) items[i] = null;
    this.n = 0;
  }
}

/**
 * What one check counts, indexed by pfn: typed arrays allocated once and kept between
 * checks, so that a check allocates nothing per entry or per frame. Every pfn
 * whose counter leaves 0 is remembered in `touched`, and `reset` (at the start of each
 * check, so that a check that threw leaves nothing behind) zeroes exactly those.
 */
class Tally {
  /** PTE mappings per pfn. */
  readonly ptes: Int32Array;
  /** PMD mappings per folio. */
  readonly pmds: Int32Array;
  /** Page-table references per folio (one per PTE or PMD). */
  readonly refs: Int32Array;
  /** Page-cache and pin references per folio. */
  readonly held: Float64Array;
  /**
   * The pfns whose counters left 0 in this check (a pfn once per counter), its first
   * `nTouched` items; past them, stale pfns of earlier checks. Counted rather than cut
   * to length: a store to `length` is a call into the runtime, once or twice a check.
   */
  readonly touched: number[] = [];
  nTouched = 0;
  /** The rss counters the entries of one mm add up to. */
  readonly rss = new Float64Array(NR_MM_COUNTERS);
  /** `checkHugetlbEntry`'s view of `pmds` and `refs`. */
  readonly hugetlb: { readonly pmds: PfnCounter; readonly refs: PfnCounter };
  /** Scratch of `checkAnonVmas`. */
  readonly vmaList = new SmallList<Vma>();
  readonly anonVmaList = new SmallList<AnonVma>();
  readonly vmas = new Set<Vma>();
  readonly anonVmas = new Set<AnonVma>();
  readonly active = new Map<AnonVma, number>();
  /** All zero: the recorded counts of a full check, which records nothing. */
  readonly zeros: Int32Array;
  /** The folios an incremental pass's `checkChangedFolios` visited (cleared by `reset`). */
  readonly visited: Uint8Array;
  readonly visitedList: number[] = [];
  /**
   * Frames `tailsFrom` to `tailsTo` (exclusive, in whole groups of eight) that the last
   * `checkLargeFolio` found to be tails naming its folio, none naming itself: `checkFolios`,
   * reaching `tailsFrom`, passes over them at once instead of telling each group again
   * (`tailsNameOthers`). -1: none. Cleared by `checkFolios` when it starts and when it uses
   * them; the memmap does not change during a check.
   */
  tailsFrom = -1;
  tailsTo = -1;
  /**
   * The memmap's frame states read 8 at a time (`checkFolios`, `isTailGroup`) and 4 at a
   * time (`noHeadNorTail`), and its `headOf` read two frames at a time (an aligned float64
   * holds the int32 heads of two frames; `tailsNameOthers`, `isTailGroup`), with the byte
   * offsets at which `state` (`soff`) and `headOf` (`hoff`) start in their buffers: set by
   * `frames`, for the arrays it was last given.
   */
  words: Float64Array = new Float64Array(0);
  ints: Int32Array = new Int32Array(0);
  heads: Float64Array = new Float64Array(0);
  soff = 0;
  hoff = 0;
  /** The arrays `words`, `ints`, `heads`, `soff` and `hoff` were made for. */
  #stateOf: Uint8Array | null = null;
  #headOfOf: Int32Array | null = null;
  readonly #marks = new WordView();
  /** Two int32s seen as one float64 (`pairWord`). */
  readonly #pair = new Int32Array(2);
  readonly #pairWord = new Float64Array(this.#pair.buffer);

  constructor(nrPfns: number) {
    this.ptes = new Int32Array(nrPfns);
    this.pmds = new Int32Array(nrPfns);
    this.refs = new Int32Array(nrPfns);
    this.held = new Float64Array(nrPfns);
    this.zeros = new Int32Array(nrPfns);
    this.visited = new Uint8Array(nrPfns);
    this.hugetlb = {
      pmds: new PfnCounter(this.pmds, this),
      refs: new PfnCounter(this.refs, this),
    };
  }

  reset(): void {
    const t = this.touched;
    const n = this.nTouched;
    for (let i = 0; i < n; i++) {
      const pfn = t[i]!;
      this.ptes[pfn] = 0;
      this.pmds[pfn] = 0;
      this.refs[pfn] = 0;
      this.held[pfn] = 0;
    }
    this.nTouched = 0;
    // A pass that threw in `checkChangedFolios` left its visits behind.
    const v = this.visitedList;
    for (let i = 0; i < v.length; i++) this.visited[v[i]!] = 0;
    if (v.length !== 0) v.length = 0;
    // Empty but after a check that threw in `checkAnonVmas`.
    this.vmaList.clear();
    this.anonVmaList.clear();
    if (this.vmas.size > 0) this.vmas.clear();
    if (this.anonVmas.size > 0) this.anonVmas.clear();
    if (this.active.size > 0) this.active.clear();
  }

  /**
   * Makes `words`, `ints`, `heads`, `soff` and `hoff` those of `m`'s arrays, unless they
   * are already (one identity test of each array: a typed array keeps its buffer and
   * offset). Each frame walk and each large folio's test used to make its views through the
   * buffers' getters, calls TurboFan left out of line (some 1.8 % of a migrate-under-writes
   * check).
   */
  frames(m: FrameView): this {
    const { state, headOf } = m;
    if (state !== this.#stateOf || headOf !== this.#headOfOf) {
      const sb = state.buffer;
      const hb = headOf.buffer;
      this.words = new Float64Array(sb, 0, sb.byteLength >>> 3);
      this.ints = new Int32Array(sb, 0, sb.byteLength >>> 2);
      this.heads = new Float64Array(hb, 0, hb.byteLength >>> 3);
      this.soff = state.byteOffset;
      this.hoff = headOf.byteOffset;
      this.#stateOf = state;
      this.#headOfOf = headOf;
    }
    return this;
  }

  /**
   * The buffer of the memmap's `rmapWritten` marks read 8 bytes at a time (a word is 0
   * exactly when its 8 bytes are), for `checkChangedFolios`.
   */
  markWords(marks: Uint8Array): Float64Array {
    return this.#marks.of(marks.buffer);
  }

  /**
   * The float64 whose two int32 halves are both `head`, as `heads` reads two frames
   * that name `head`. For 0 < head < PAIR_WORD_LIMIT it is neither a NaN nor a zero, so
   * another word equals it exactly when its bits do.
   */
  pairWord(head: number): number {
    this.#pair[0] = head;
    this.#pair[1] = head;
    return this.#pairWord[0]!;
  }

  /** Remembers that a counter of `pfn` left 0 (for `reset`). */
  touch(pfn: number): void {
    this.touched[this.nTouched++] = pfn;
  }

  pte(pfn: number): void {
    if (this.ptes[pfn]!++ === 0) this.touch(pfn);
  }

  pmd(folio: Folio): void {
    if (this.pmds[folio]!++ === 0) this.touch(folio);
  }

  ref(folio: Folio): void {
    if (this.refs[folio]!++ === 0) this.touch(folio);
  }

  hold(folio: Folio, by: number): void {
    if (this.held[folio] === 0) this.touch(folio);
    this.held[folio]! += by;
  }
}

/**
 * Eight frame states as one float64, for skipping runs of frames 8 at a time: every byte
 * FRAME_FREE. (States are below 8, so no such word is a NaN, and two words compare equal
 * exactly when their bytes do; the word of eight holes, FRAME_HOLE = 0, is +0.)
 */
const EIGHT_FREE = eightOf(FRAME_FREE);
/** Eight tails of a free hugetlb page in its pool (passed over like free frames). */
const EIGHT_POOL_TAIL = eightOf(FRAME_POOL_TAIL);
/** Eight tails (passed over, unless one names itself as its head). */
const EIGHT_TAIL = eightOf(FRAME_TAIL);

/** Eight frame states `state` as one float64 (see EIGHT_FREE). */
function eightOf(state: number): number {
  return new Float64Array(new Uint8Array(8).fill(state).buffer)[0]!;
}

/** A byte of 1 in each byte of an int32, and the top bit of each byte. */
const BYTE_ONES = 0x01010101;
const BYTE_TOPS = 0x80808080 | 0;
/** Four frame states of a head, and of a tail, as one int32. */
const FOUR_HEADS = Math.imul(FRAME_HEAD, BYTE_ONES);
const FOUR_TAILS = Math.imul(FRAME_TAIL, BYTE_ONES);

/**
 * Whether none of the four frame states packed in `x` (an int32 read of the states) is
 * FRAME_HEAD or FRAME_TAIL, the only states the frame walk reads further: a free block's
 * first frame among free frames, a pooled hugetlb page's head among its tails, holes. A
 * byte equals a state exactly when the byte of `x ^ fourOfIt` is 0, and an int32 has a zero
 * byte exactly when `(v - 0x01010101) & ~v & 0x80808080` is not 0 (in 32-bit arithmetic, as
 * the bitwise operators take it).
 */
function noHeadNorTail(x: number): boolean {
  const h = x ^ FOUR_HEADS;
  const t = x ^ FOUR_TAILS;
  return ((((h - BYTE_ONES) & ~h) | ((t - BYTE_ONES) & ~t)) & BYTE_TOPS) === 0;
}

/**
 * The `Tally` of every check in this thread: checks do not nest, and each starts by zeroing
 * what the one before touched, so machines share it (an exploration builds a machine per
 * schedule). It grows to the largest machine checked.
 */
let shared: Tally | null = null;

function tallyFor(ctx: RmapState): Tally {
  let t = shared;
  if (t === null || t.ptes.length < ctx.mem.maxPfn) {
    t = new Tally(ctx.mem.maxPfn);
    shared = t;
  }
  t.reset();
  return t;
}

/** Whether some link of the VMA's anon_vma chain leads to `av` (no closure per test). */
function chainedTo(vma: Vma, av: AnonVma): boolean {
  const chain = vma.anonVmaChain;
  for (let i = 0; i < chain.length; i++) if (chain[i]!.anonVma === av) return true;
  return false;
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

/**
 * A migration entry to a page-cache folio that a successful migration has already
 * replaced, waiting for `remove_migration_ptes(src, dst)` to reach it. In mm/migrate.c
 * (6.3 `migrate_folio_move`; 6.2 `__unmap_and_move` the same), `move_to_new_folio` has
 * `folio_migrate_mapping` put dst into `i_pages` in src's place and then sets
 * `src->mapping = NULL` before `remove_migration_ptes(src, dst)` walks the VMAs (through
 * dst's mapping, `rmap_walk_file`), one VMA at a time, with both folios locked until the
 * walk ends (`folio_unlock(dst)`, then `folio_unlock(src)`). Other tasks run in between,
 * so the VMAs not yet walked still hold migration entries to a src without a mapping.
 *
 * Accepted only in exactly that state: a migration entry (not a present PTE: nothing maps
 * a page-cache folio that lost its mapping), to a locked src that is not anonymous and has
 * no mapping, while the VMA's file caches at src's index another, locked folio. A folio
 * truncated or never inserted, a present PTE, or an unlocked dst is still reported.
 */
function isReplacedMigrationSource(
  mem: RmapState['mem'],
  vma: Vma,
  folio: Folio,
  pfn: number,
  addr: number,
  raw: number,
): boolean {
  if (vma.file === null || !isMigrationEntry(raw)) return false;
  if (!folioTestFlag(mem, folio, PG_locked) || folioTestAnon(mem, folio)) return false;
  const dst = vma.file.lookup(vma.linearPageIndex(addr) - (pfn - folio));
  return dst !== undefined && dst !== folio && folioTestFlag(mem, dst, PG_locked);
}

/** Where a mapping is, for a problem's message. */
function whereOf(vma: Vma, addr: number, pfn: number): string {
  return `${vma.mm} ${hex(addr)} (pfn ${hex(pfn)})`;
}

/** The rmap must be able to find this mapping: anon_vma chain or i_mmap, and the index. */
function checkReachable(
  ctx: RmapState,
  vma: Vma,
  folio: Folio,
  pfn: number,
  vpn: number,
  raw: number,
  bad: Problems,
): void {
  const mem = ctx.mem;
  const addr = vpn * PAGE_SIZE;
  // Formatted only for a problem: this runs for every mapped entry on every check.
  if (folioTestKsm(mem, folio)) {
    // Found through the stable node's rmap_items, at any address (see checkKsmMapping); a
    // migration entry to a locked src that folio_migrate_ksm already left without a node
    // waits for remove_migration_ptes of dst, as for a page-cache src above.
    const problem = checkKsmMapping(ctx, vma, folio, addr);
    const movedSrc =
      isMigrationEntry(raw) &&
      folioTestFlag(mem, folio, PG_locked) &&
      folioStableNode(mem, folio) === null;
    if (problem !== null && !movedSrc) bad.add(`${whereOf(vma, addr, pfn)}: ${problem}`);
    return;
  }
  if (folioTestAnon(mem, folio)) {
    const av = folioAnonVma(mem, folio);
    if (av === null)
      bad.add(`${whereOf(vma, addr, pfn)}: anonymous folio ${hex(folio)} has no anon_vma`);
    else if (!chainedTo(vma, av)) {
      bad.add(
        `${whereOf(vma, addr, pfn)}: the VMA is not chained to ${av}, so rmap cannot find this mapping`,
      );
    }
  } else {
    const as = folioAddressSpace(mem, folio);
    if (as === null && isReplacedMigrationSource(mem, vma, folio, pfn, addr, raw)) {
      // Legal mid-migration state, see isReplacedMigrationSource; the index check below
      // still applies (move_to_new_folio leaves src->index alone).
    } else if (as === null || as !== vma.file) {
      bad.add(
        `${whereOf(vma, addr, pfn)}: page-cache folio of ${String(as)} mapped by a VMA of ${String(vma.file)}`,
      );
    }
  }
  const expected = folioIndex(mem, folio) + (pfn - folio);
  if (vma.linearPageIndex(addr) !== expected) {
    bad.add(
      `${whereOf(vma, addr, pfn)}: page index ${expected} does not match the VMA's ${vma.linearPageIndex(addr)}`,
    );
  }
}

/**
 * The VMA of virtual page `vpn`, `mm.vmaLookup(addr)`: the VMA found last when it covers
 * `addr` and the mm's VMAs are sorted and disjoint (then only that VMA covers it, and the
 * binary search would find it too), else the search. It and `checkReachable` take the page
 * number, an int32, and make the address themselves: an address above 2^31 passed to a call
 * is a heap number allocated per entry (two a mapped entry of a check).
 */
function vmaOf(mm: Mm, vpn: number, walk: MmWalk): Vma | null {
  const addr = vpn * PAGE_SIZE;
  const last = walk.vma;
  if (walk.sorted && last !== null && last.start <= addr && addr < last.end) return last;
  const vma = mm.vmaLookup(addr);
  walk.vma = vma;
  return vma;
}

/** The state of the walk of one mm's entries. */
interface MmWalk {
  /** The mm's VMAs are in address order, each non-empty, none overlapping. */
  sorted: boolean;
  /** The VMA the last entry was in. */
  vma: Vma | null;
}

/** The `MmWalk` of every check in this thread (reset by `runCheck`; checks do not nest). */
const mmWalk: MmWalk = { sorted: false, vma: null };

function checkEntry(
  ctx: RmapState,
  mm: Mm,
  vpn: number,
  raw: number,
  huge: boolean,
  tally: Tally,
  walk: MmWalk,
  bad: Problems,
): void {
  const mem = ctx.mem;
  const addr = vpn * PAGE_SIZE;
  const vma = vmaOf(mm, vpn, walk);
  if (vma === null) {
    bad.add(`${mm} ${hex(addr)}: ${formatPte(raw)} outside every VMA`);
    return;
  }
  const pfn = ptePfn(raw);
  const present = ptePresent(raw);
  const m = frameView(mem);
  // pfnValid, then pfnFolio (an entry's pfn is an integer: no need of the integer test).
  const state = pfn < m.maxPfn ? m.state[pfn]! : 0;
  const folio =
    state === FRAME_HEAD ? pfn : state === FRAME_TAIL ? m.headOf[pfn]! : state === 0 ? -2 : -1;
  // isHugetlbEntry (hugetlb-invariants.ts) without a second lookup of the folio.
  if (
    isVmHugetlbPage(vma) ||
    ((present || isMigrationEntry(raw)) &&
      folio >= 0 &&
      (m.state[folio] === FRAME_HEAD
        ? m.folioType[folio] === FOLIO_TYPE_HUGETLB
        : folioTestHugetlb(mem, folio)))
  ) {
    checkHugetlbEntry(ctx, mm, vma, addr, raw, huge, tally.hugetlb, bad.addFn);
    return;
  }
  if (present && pfn === mem.zeroPfn) {
    if (pteWrite(raw)) bad.add(`${mm} ${hex(addr)}: the zero page is mapped writable`);
    return;
  }
  if (folio < 0) {
    bad.add(`${mm} ${hex(addr)}: ${formatPte(raw)} points at a frame that is not a live folio`);
    return;
  }
  const nr = huge ? PTRS_PER_PTE : 1;
  if (huge && (folio !== pfn || folioOrder(mem, folio) < HPAGE_PMD_ORDER)) {
    bad.add(`${mm} ${hex(addr)}: a huge PMD maps pfn ${hex(pfn)}, not the head of a THP`);
    return;
  }
  tally.rss[mmCounter(mem, folio)]! += nr;
  checkReachable(ctx, vma, folio, pfn, vpn, raw, bad);
  if (!present) {
    if (!isMigrationEntry(raw)) bad.add(`${mm} ${hex(addr)}: unknown entry ${hex(raw)}`);
    else if (!folioTestFlag(mem, folio, PG_locked)) {
      bad.add(`${mm} ${hex(addr)}: migration entry to folio ${hex(folio)}, which is not locked`);
    }
    return;
  }
  if (huge) tally.pmd(folio);
  else tally.pte(pfn);
  tally.ref(folio);
  if (pteWrite(raw) && folioTestAnon(mem, folio) && !pageTestFlag(mem, pfn, PG_anon_exclusive)) {
    bad.add(`${mm} ${hex(addr)}: anonymous page ${hex(pfn)} is writable but not PageAnonExclusive`);
  }
}

/**
 * `x % PAGE_SIZE === 0` (a whole multiple of the page size; false for NaN, an infinity or a
 * fraction) without the `%` of doubles, a call to fmod for the user addresses above 2^31
 * (about 2 % of a migrate-under-writes check for its four VMAs): an integer's low 12 bits
 * are those of its truncation modulo 2^32, which the bitwise AND reads.
 */
function pageAligned(x: number): boolean {
  return Number.isInteger(x) && (x & (PAGE_SIZE - 1)) === 0;
}

function checkMm(
  ctx: RmapState,
  mm: Mm,
  tally: Tally,
  walk: MmWalk,
  bad: Problems,
  inc: IncrementalRmapState | null,
): void {
  let prevEnd = -1;
  let sorted = true;
  const vmas = mm.vmas;
  for (let v = 0; v < vmas.length; v++) {
    const vma = vmas[v]!;
    if (!pageAligned(vma.start) || !pageAligned(vma.end) || vma.start >= vma.end) {
      bad.add(`${vma}: bad bounds`);
      sorted = false;
    }
    if (vma.start < prevEnd) {
      bad.add(`${vma}: overlaps the VMA before it`);
      sorted = false;
    }
    prevEnd = vma.end;
    if (vma.mm !== mm) bad.add(`${vma} is in the list of ${mm}`);
    const chain = vma.anonVmaChain;
    for (let c = 0; c < chain.length; c++) {
      const avc = chain[c]!;
      if (avc.vma !== vma) bad.add(`${vma}: a chain link of another VMA`);
      if (avc.anonVma.freed) bad.add(`${vma}: chained to freed ${avc.anonVma}`);
      if (!avc.anonVma.rbRoot.has(avc)) bad.add(`${vma}: ${avc.anonVma} does not list it`);
    }
    if (vma.anonVma !== null && !chainedTo(vma, vma.anonVma)) {
      bad.add(`${vma}: not chained to its own ${vma.anonVma}`);
    }
    if (vma.file !== null && !vma.file.iMmap.has(vma)) bad.add(`${vma}: missing from i_mmap`);
  }
  walk.sorted = sorted;
  walk.vma = null;
  const rss = tally.rss;
  // A loop, not `fill` (a builtin call for a few counters, on every mm of every check).
  for (let i = 0; i < NR_MM_COUNTERS; i++) rss[i] = 0;
  if (inc !== null) checkTablesIncrementally(ctx, mm, tally, walk, bad, inc);
  else {
    const w = tableWalk;
    w.ctx = ctx;
    w.mm = mm;
    w.tally = tally;
    w.walk = walk;
    w.bad = bad;
    try {
      mm.pageTables.forEach(w.table);
    } finally {
      w.ctx = null;
      w.mm = null;
      w.tally = null;
      w.walk = null;
      w.bad = null;
    }
  }
  // Most checks find these empty: no iterator made for them.
  if (ctx.unmapPending.size !== 0) checkUnmapPending(ctx, mm, tally, walk, bad);
  if (mm.pmds.size !== 0) {
    for (const [idx, raw] of mm.pmds) {
      if (raw === 0) bad.add(`${mm}: PMD ${idx} left invalid`);
      else checkEntry(ctx, mm, idx * PTRS_PER_PTE, raw, true, tally, walk, bad);
    }
  }
  for (let i = 0; i < NR_MM_COUNTERS; i++) {
    if (rss[i] !== mm.rss[i])
      bad.add(`${mm}: rss counter ${i} is ${mm.rss[i]}, entries say ${rss[i]}`);
  }
}

/**
 * The PTEs of `mm` that try_to_migrate_one has cleared, their migration entries not yet
 * set (the unmap window, under the page-table lock): the page is still counted as mapped
 * there.
 */
function checkUnmapPending(ctx: RmapState, mm: Mm, tally: Tally, walk: MmWalk, bad: Problems) {
  for (const p of ctx.unmapPending) {
    if (p.mm !== mm) continue;
    const table = mm.pageTables.get(Math.floor(p.vpn / PTRS_PER_PTE));
    if (table !== undefined && table.ptes[p.vpn % PTRS_PER_PTE] === 0) {
      checkEntry(ctx, mm, p.vpn, p.pte, false, tally, walk, bad);
    }
  }
}

/**
 * The mm whose page tables `checkMm` walks in full, for its `Map.prototype.forEach`
 * callback `table` (bound once): a `for...of` made an entry array per table (about 65 bytes
 * a table a check). `forEach` visits the tables in the same order. Emptied after each walk.
 */
class TableWalk {
  ctx: RmapState | null = null;
  mm: Mm | null = null;
  tally: Tally | null = null;
  walk: MmWalk | null = null;
  bad: Problems | null = null;
  readonly table = (table: PageTable, idx: number): void => {
    const mm = this.mm!;
    const bad = this.bad!;
    if (mm.pmds.has(idx)) bad.add(`${mm}: PMD ${idx} has both a page table and a huge entry`);
    checkTable(this.ctx!, mm, idx, table, this.tally!, this.walk!, bad);
  };
}

/** The `TableWalk` of every check in this thread. */
const tableWalk = new TableWalk();

/** Every entry of one page table, and its use count. */
function checkTable(
  ctx: RmapState,
  mm: Mm,
  idx: number,
  table: PageTable,
  tally: Tally,
  walk: MmWalk,
  bad: Problems,
): void {
  let used = 0;
  const ptes = table.ptes;
  const base = idx * PTRS_PER_PTE;
  // Eight slots at a time: their OR is 0 exactly when all eight are empty (a small
  // machine's table holds a few entries, so most of its 512 slots are).
  for (let i = 0; i < PTRS_PER_PTE; i += 8) {
    if (
      (ptes[i]! |
        ptes[i + 1]! |
        ptes[i + 2]! |
        ptes[i + 3]! |
        ptes[i + 4]! |
        ptes[i + 5]! |
        ptes[i + 6]! |
        ptes[i + 7]!) ===
      0
    )
      continue;
    for (let j = i; j < i + 8; j++) {
      const raw = ptes[j]!;
      if (raw === 0) continue;
      used++;
      checkEntry(ctx, mm, base + j, raw, false, tally, walk, bad);
    }
  }
  if (used !== table.used)
    bad.add(`${mm}: page table ${idx} counts ${table.used} entries, has ${used}`);
}

/**
 * Below this many entries (`PageTable.used`) the incremental pass checks a table in full:
 * replaying a few entries saves less than keeping their record costs (the small machines
 * of the deadlock scenarios, a handful of pages a table, gained nothing and paid the
 * records' allocation).
 */
const MIN_RECORDED_USED = 16;

/**
 * The flags a page-table entry's check reads of its folio through `folio_mapping` (which
 * answers null for a slab page and the swap cache's space for a swap-cache folio) and
 * `mm_counter` (PG_swapbacked): recorded with the mapping kind and compared on replay.
 */
const RECORDED_FLAGS = (1 << PG_slab) | (1 << PG_swapbacked) | (1 << PG_swapcache);

/**
 * The page-table walk of `checkMm` for an incremental pass: the same tests, but each table
 * of `MIN_RECORDED_USED` entries or more keeps a record (`TableRecord`) whose counted slots
 * (SLOT_FOLIO, SLOT_MIGRATION) count in the machine's recorded counts
 * (`IncrementalRmapState.ptes`, `refs` and the record's `rss`) instead of the pass's tally.
 * The table is walked range by range (`PTE_RANGE_SLOTS` slots, the ranges of
 * `PageTable.dirty`): in an mm whose VMAs did not change (`vmasUnchanged`), a range that
 * `PageTable.set` did not write since the table was last walked has only its recorded slots
 * compared (`replayRange`), without reading its entries; in a written range, the slots whose
 * entry is still the recorded one are compared the same way (`walkRange`). A slot that
 * compares equal still counts as recorded; any other is forgotten (`unrecordSlot`), checked
 * by `checkEntry` and recorded again (`recordEntry`).
 */
function checkTablesIncrementally(
  ctx: RmapState,
  mm: Mm,
  tally: Tally,
  walk: MmWalk,
  bad: Problems,
  inc: IncrementalRmapState,
): void {
  const vmasSame = vmasUnchanged(inc, mm);
  const r = memmapReader(ctx.mem);
  // Cleared by the last pass (sound, so `checkFolios` or `checkChangedFolios` ran).
  const marks = frameView(ctx.mem).rmapWritten;
  const pass = inc.pass;
  const rss = tally.rss;
  for (const [idx, table] of mm.pageTables) {
    if (mm.pmds.has(idx)) bad.add(`${mm}: PMD ${idx} has both a page table and a huge entry`);
    let rec = table.checkRecord;
    if (table.used < MIN_RECORDED_USED || (rec !== null && rec.seen === pass)) {
      // Too few entries to gain from a record (a record it had is dropped after the walk,
      // not being seen), or a table met twice in a pass: checked in full, as by `checkMm`.
      checkTable(ctx, mm, idx, table, tally, walk, bad);
      continue;
    }
    let same = vmasSame;
    if (rec === null) {
      rec = newRecord(ctx, inc, table);
      same = false;
    } else if (!same || rec.mm !== mm || rec.idx !== idx) {
      forgetSlots(inc, rec);
      same = false;
    }
    rec.seen = pass;
    rec.mm = mm;
    rec.idx = idx;
    const written = same ? table.dirty : ALL_PTE_RANGES;
    if (written !== 0) inc.recorded.push(table);
    const all = inc.replayAll;
    const { usedBits, checkBits, replayBits } = rec;
    for (let g = 0; g < PTE_RANGES; g++) {
      if ((written & (1 << g)) === 0) {
        // Unwritten: the slots checked in full every pass, and those whose folio a writer
        // marked (`gatherMarks`); every recorded one when the marks could not be told.
        const w = all ? usedBits[g]! : (checkBits[g]! | replayBits[g]!) & usedBits[g]!;
        if (w !== 0) {
          replayBits[g] = 0;
          replayRange(ctx, r, marks, mm, rec, g, w, tally, walk, bad, inc);
        }
      } else {
        // Read slot by slot; an unchanged entry is replayed as in an unwritten range.
        const told = all ? -1 : checkBits[g]! | replayBits[g]!;
        replayBits[g] = 0;
        walkRange(ctx, r, marks, mm, table, rec, g, same, told, tally, walk, bad, inc);
      }
    }
    if (rec.nrUsed !== table.used)
      bad.add(`${mm}: page table ${idx} counts ${table.used} entries, has ${rec.nrUsed}`);
    const counted = rec.rss;
    for (let c = 0; c < NR_MM_COUNTERS; c++) rss[c]! += counted[c]!;
  }
}

/**
 * Range `g` of a recorded table that no `PageTable.set` wrote since its last walk, in an mm
 * whose VMAs are unchanged: its entries are the recorded ones, so only recorded slots are
 * visited, those of `word` (bits of `usedBits[g]`), each replayed (`replayEntry`) or,
 * failing that, checked again. The other recorded slots of the range are counted slots or
 * the zero page whose frames and folios no writer marked since the last sound pass: their
 * entry, VMA and every folio field their verdict reads are what that pass saw.
 */
function replayRange(
  ctx: RmapState,
  r: MemmapReader,
  marks: Uint8Array,
  mm: Mm,
  rec: TableRecord,
  g: number,
  word: number,
  tally: Tally,
  walk: MmWalk,
  bad: Problems,
  inc: IncrementalRmapState,
): void {
  const f = rec.slots;
  const first = g << PTE_RANGE_SHIFT;
  const vbase = rec.idx * PTRS_PER_PTE;
  let w = word | 0;
  while (w !== 0) {
    const i = first + 31 - Math.clz32(w & -w);
    w &= w - 1;
    const raw = f[i * SLOT_FIELDS + F_RAW]! >>> 0;
    if (replayEntry(r, marks, rec, i, raw)) continue;
    if ((f[i * SLOT_FIELDS + F_META]! & SLOT_COUNTED) !== 0) unrecordSlot(inc, rec, i);
    checkEntry(ctx, mm, vbase + i, raw, false, tally, walk, bad);
    recordEntry(ctx, r, mm, rec, i, vbase + i, raw, walk, tally, inc);
  }
}

/**
 * Range `g` of a table written since its last walk (or whose record cannot be replayed,
 * `same` false): every slot is read; one whose entry is the recorded one, or a present one
 * that differs from it only in `UNREAD_PTE_BITS`, is replayed when `same` (the entry taken
 * as the recorded one), the others are forgotten, checked and recorded again. Rebuilds the range's
 * `usedBits` and `nrUsed`. `told`: the slots whose replay must read their folio (bits as in
 * `usedBits[g]`: SLOT_CHECK slots and those `gatherMarks` told, or all); an unchanged entry
 * of another recorded slot (counted, or the zero page) is left as recorded, as
 * `replayRange` leaves it.
 */
function walkRange(
  ctx: RmapState,
  r: MemmapReader,
  marks: Uint8Array,
  mm: Mm,
  table: PageTable,
  rec: TableRecord,
  g: number,
  same: boolean,
  told: number,
  tally: Tally,
  walk: MmWalk,
  bad: Problems,
  inc: IncrementalRmapState,
): void {
  const f = rec.slots;
  const ptes = table.ptes;
  const first = g << PTE_RANGE_SHIFT;
  const vbase = rec.idx * PTRS_PER_PTE;
  let bits = 0;
  let n = 0;
  for (let b = 0; b < PTE_RANGE_SLOTS; b++) {
    const i = first + b;
    const raw = ptes[i]!;
    const at = i * SLOT_FIELDS;
    const meta = f[at + F_META]!;
    if (raw === 0) {
      if ((meta & SLOT_COUNTED) !== 0) unrecordSlot(inc, rec, i);
      f[at + F_RAW] = 0;
      f[at + F_META] = SLOT_CHECK;
      rec.checkBits[g]! &= ~(1 << b);
      continue;
    }
    bits |= 1 << b;
    n++;
    const old = f[at + F_RAW]!;
    if (
      same &&
      (old === (raw | 0) ||
        ((old & raw & PTE_PRESENT) !== 0 && ((old ^ raw) & ~UNREAD_PTE_BITS) === 0)) &&
      ((told & (1 << b)) === 0 || replayEntry(r, marks, rec, i, raw))
    ) {
      f[at + F_RAW] = raw | 0;
      continue;
    }
    if (same && (meta & SLOT_COUNTED) !== 0 && replayMovedEntry(r, rec, i, raw, inc)) continue;
    if ((meta & SLOT_COUNTED) !== 0) unrecordSlot(inc, rec, i);
    checkEntry(ctx, mm, vbase + i, raw, false, tally, walk, bad);
    recordEntry(ctx, r, mm, rec, i, vbase + i, raw, walk, tally, inc);
  }
  rec.nrUsed += n - popcount(rec.usedBits[g]!);
  rec.usedBits[g] = bits;
}

/**
 * Bits of a present entry no verdict of `checkEntry` reads (it reads the pfn, whether the
 * entry is present and `pte_write`): `_PAGE_DIRTY`, `_PAGE_ACCESSED` and `_PAGE_SOFT_DIRTY`,
 * which accesses and the faults set. A present entry recorded with other values of these
 * alone gets the recorded verdict (`walkRange`).
 */
const UNREAD_PTE_BITS = PTE_DIRTY | PTE_YOUNG | PTE_SOFT_DIRTY;

/** Set bits of a 32-bit word. */
function popcount(word: number): number {
  let v = word - ((word >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}

/**
 * Takes slot `i` of a record (a counted slot: SLOT_FOLIO or SLOT_MIGRATION) out of the
 * recorded counts; a SLOT_FOLIO slot's folio and pfn go on the pass's `changed` list, for
 * `checkFolios`.
 */
function unrecordSlot(inc: IncrementalRmapState, rec: TableRecord, i: number): void {
  const f = rec.slots;
  const at = i * SLOT_FIELDS;
  const meta = f[at + F_META]!;
  rec.rss[(meta >>> 2) & 7]! -= 1;
  f[at + F_META] = SLOT_CHECK;
  uncountSlot(inc, f[at + F_FOLIO]!, ptePfn(f[at + F_RAW]! >>> 0), meta);
}

/**
 * Takes a counted slot that recorded page `pfn` of `folio` with `meta` out of the
 * incremental state's counts (its references; a SLOT_FOLIO slot's mapped page and folio
 * too, which go on the pass's `changed` list for `checkFolios`).
 */
function uncountSlot(inc: IncrementalRmapState, folio: number, pfn: number, meta: number): void {
  const slotRefs = inc.slotRefs!;
  slotRefs[folio]!--;
  if (pfn !== folio) slotRefs[pfn]!--;
  if ((meta & 3) !== SLOT_FOLIO) return;
  inc.ptes![pfn]!--;
  inc.refs![folio]!--;
  inc.changed.push(folio, pfn);
}

/** Counts slot `i` of `rec` as a reference to page `pfn` of `folio` (and where it is). */
function countSlotRefs(
  inc: IncrementalRmapState,
  rec: TableRecord,
  i: number,
  folio: number,
  pfn: number,
): void {
  const slotRefs = inc.slotRefs!;
  const slotAt = inc.slotAt!;
  const id = (rec.id << SLOT_ID_SHIFT) | i;
  slotRefs[folio]!++;
  slotAt[folio] = id;
  if (pfn !== folio) {
    slotRefs[pfn]!++;
    slotAt[pfn] = id;
  }
}

/** Takes every counted slot of a record out of the recorded counts. */
function forgetSlots(inc: IncrementalRmapState, rec: TableRecord): void {
  const f = rec.slots;
  const bits = rec.usedBits;
  for (let g = 0; g < PTE_RANGES; g++) {
    let w = bits[g]! | 0;
    while (w !== 0) {
      const i = (g << PTE_RANGE_SHIFT) + 31 - Math.clz32(w & -w);
      w &= w - 1;
      if ((f[i * SLOT_FIELDS + F_META]! & SLOT_COUNTED) !== 0) unrecordSlot(inc, rec, i);
    }
  }
}

/**
 * After the walk of every mm: the records of tables no walk met (gone from their mm, the mm
 * gone, or under `MIN_RECORDED_USED` entries now) leave the recorded counts and go to the
 * pool.
 */
function dropUnseenRecords(inc: IncrementalRmapState): void {
  const records = inc.records;
  let kept = 0;
  for (let k = 0; k < records.length; k++) {
    const rec = records[k]!;
    if (rec.seen === inc.pass) {
      records[kept++] = rec;
      continue;
    }
    forgetSlots(inc, rec);
    releaseRecord(inc, rec);
  }
  if (records.length !== kept) records.length = kept;
}

/**
 * Whether slot `i` of a table would get the verdict it got when it was recorded, so that it
 * may count as recorded without its tests: the entry and the mm's VMAs are unchanged (the
 * caller's tests), and so are the folio the pfn belongs to, its type, its `mapping` (kind
 * and object), the flags `folio_mapping` and `mm_counter` read, and its `index`.
 * PageAnonExclusive of a writable anonymous page, and PG_locked of a migration entry's
 * folio, are read again. The frames, `mapping` and `index` are compared only when a writer
 * marked the pfn's or the folio's frame (`rmapWritten`) since the last pass
 * (`replayMarked`), the flags always. False: the slot must be checked in full.
 */
function replayEntry(
  r: MemmapReader,
  marks: Uint8Array,
  rec: TableRecord,
  i: number,
  raw: number,
): boolean {
  const f = rec.slots;
  const at = i * SLOT_FIELDS;
  const meta = f[at + F_META]!;
  if ((meta & SLOT_COUNTED) === 0) {
    // The zero page's verdict reads the entry alone, once its frame is a normal folio.
    const pfn = ptePfn(raw);
    return (
      (meta & 3) === SLOT_ZERO &&
      r.state[pfn] === FRAME_HEAD &&
      r.folioType[pfn] !== FOLIO_TYPE_HUGETLB
    );
  }
  const pfn = ptePfn(raw);
  const folio = f[at + F_FOLIO]!;
  if ((marks[pfn]! | marks[folio]!) !== 0) return replayMarked(r, rec, i, pfn, folio, meta);
  // No writer changed what the frames are, the folio's mapping or index since the last
  // pass (which saw them as recorded, and cleared the marks): only the flags are read.
  const flags = r.flags;
  const ff = flags[folio]!;
  return (
    (r.mappingKind[folio]! | (ff & RECORDED_FLAGS)) === f[at + F_BITS] &&
    ((meta & F_EXCLUSIVE) === 0 || (flags[pfn]! & (1 << PG_anon_exclusive)) !== 0) &&
    ((meta & F_LOCKED) === 0 || (ff & (1 << PG_locked)) !== 0)
  );
}

/** `replayEntry` of a counted slot whose pfn or folio a writer marked: every field compared. */
function replayMarked(
  r: MemmapReader,
  rec: TableRecord,
  i: number,
  pfn: number,
  folio: number,
  meta: number,
): boolean {
  const f = rec.slots;
  const at = i * SLOT_FIELDS;
  const state = r.state;
  const s = state[pfn];
  const flags = r.flags;
  return !(
    (s === FRAME_HEAD ? pfn : s === FRAME_TAIL ? r.headOf[pfn]! : -1) !== folio ||
    state[folio] !== FRAME_HEAD ||
    r.folioType[folio] === FOLIO_TYPE_HUGETLB ||
    (r.mappingKind[folio]! | (flags[folio]! & RECORDED_FLAGS)) !== f[at + F_BITS] ||
    r.mappingObjs[r.mappingId[folio]!] !== rec.objs[f[at + F_MAP]!] ||
    r.index[folio] !== rec.index[i] ||
    ((meta & F_EXCLUSIVE) !== 0 && (flags[pfn]! & (1 << PG_anon_exclusive)) === 0) ||
    ((meta & F_LOCKED) !== 0 && (flags[folio]! & (1 << PG_locked)) === 0)
  );
}

/**
 * Slot `i`, a counted slot (SLOT_FOLIO, SLOT_MIGRATION), now holds `raw`, a present or
 * migration entry the slot did not record: most often what migration writes, the present
 * entry `try_to_migrate_one` replaces with a migration entry to the same page and the one
 * `remove_migration_ptes` (mm/rmap.c, mm/migrate.c, 6.3) puts back to the new folio. In
 * an mm whose VMAs are unchanged (the caller's `same`), `checkEntry`'s verdict on such an
 * entry reads the VMA (the recorded slot's), whether the entry is present, the folio of its
 * pfn (live, not hugetlb, not the zero page), the folio's mapping kind and object, the flags
 * `folio_mapping` and `mm_counter` read, its `index` and the page's offset in it (the
 * reachability and index tests), and then PageAnonExclusive of a writable anonymous page or
 * PG_locked of a migration entry's folio. When all of those are the recorded ones
 * (`replayMarked`, every field compared, marked or not; the offset tested here), the
 * recorded slot's verdict, sound, holds for the new entry, and `recordEntry` would record
 * it with the same fields but its kind, folio and the entry: the slot is made that at
 * once, its counts moved from the old page and folio to the new as `unrecordSlot` and
 * `recordEntry` move them (both on `changed`, for `checkChangedFolios`). False when a test
 * fails: the caller forgets the slot and checks it in full.
 */
function replayMovedEntry(
  r: MemmapReader,
  rec: TableRecord,
  i: number,
  raw: number,
  inc: IncrementalRmapState,
): boolean {
  const present = ptePresent(raw);
  if (!present && !isMigrationEntry(raw)) return false;
  const pfn = ptePfn(raw);
  if (pfn >= r.maxPfn || pfn === r.zeroPfn) return false;
  const s = r.state[pfn];
  const folio = s === FRAME_HEAD ? pfn : s === FRAME_TAIL ? r.headOf[pfn]! : -1;
  if (folio < 0) return false;
  const f = rec.slots;
  const at = i * SLOT_FIELDS;
  const oldMeta = f[at + F_META]!;
  const oldPfn = ptePfn(f[at + F_RAW]! >>> 0);
  const oldFolio = f[at + F_FOLIO]!;
  if (pfn - folio !== oldPfn - oldFolio) return false;
  const counter = oldMeta & (7 << 2);
  const meta = present
    ? SLOT_FOLIO |
      counter |
      (pteWrite(raw) && (r.mappingKind[folio]! & PAGE_MAPPING_ANON) !== 0 ? F_EXCLUSIVE : 0)
    : SLOT_MIGRATION | counter | F_LOCKED;
  if (!replayMarked(r, rec, i, pfn, folio, meta)) return false;
  // The old entry's counts out (its rss counter is the new one's: the same kind and flags).
  uncountSlot(inc, oldFolio, oldPfn, oldMeta);
  // The new one's in, as `recordEntry` counts them.
  f[at + F_RAW] = raw | 0;
  f[at + F_FOLIO] = folio;
  f[at + F_META] = meta;
  countSlotRefs(inc, rec, i, folio, pfn);
  if (present) {
    inc.ptes![pfn]!++;
    inc.refs![folio]!++;
    inc.changed.push(folio, pfn);
  }
  return true;
}

/** Distinct mapping objects a record keeps at most; past them, slots are checked in full. */
const MAX_RECORD_OBJS = 64;

/**
 * Records slot `i` after `checkEntry` checked it (and counted it in `tally`), its count
 * moved from the pass's tally to the recorded counts: a present entry of a live folio that
 * is neither hugetlb nor KSM nor in the swap cache (nor in a hugetlb VMA) as SLOT_FOLIO,
 * with the folio's fields `replayEntry` compares; a migration entry to such a folio, locked
 * and anonymous or in a page cache (`folio_mapping` not null), as SLOT_MIGRATION, the same
 * fields and PG_locked compared; the zero page as such; anything else (a migration entry to
 * a page-cache folio that lost its mapping, whose verdict reads the page cache; hugetlb;
 * KSM; a broken entry) to be checked in full, and counted, by every pass.
 */
function recordEntry(
  ctx: RmapState,
  r: MemmapReader,
  mm: Mm,
  rec: TableRecord,
  i: number,
  vpn: number,
  raw: number,
  walk: MmWalk,
  tally: Tally,
  inc: IncrementalRmapState,
): void {
  const f = rec.slots;
  const at = i * SLOT_FIELDS;
  f[at + F_RAW] = raw | 0;
  f[at + F_META] = SLOT_CHECK;
  // A SLOT_CHECK slot until recorded as another kind below.
  const bit = 1 << (i & 31);
  const word = i >>> PTE_RANGE_SHIFT;
  rec.checkBits[word]! |= bit;
  const present = ptePresent(raw);
  if (!present && !isMigrationEntry(raw)) return;
  const vma = vmaOf(mm, vpn, walk);
  if (vma === null || isVmHugetlbPage(vma)) return;
  const pfn = ptePfn(raw);
  if (pfn >= r.maxPfn) return;
  const s = r.state[pfn];
  const folio = s === FRAME_HEAD ? pfn : s === FRAME_TAIL ? r.headOf[pfn]! : -1;
  if (folio < 0 || r.state[folio] !== FRAME_HEAD || r.folioType[folio] === FOLIO_TYPE_HUGETLB)
    return;
  if (pfn === r.zeroPfn) {
    if (present) {
      f[at + F_META] = SLOT_ZERO;
      rec.checkBits[word]! &= ~bit;
    }
    return;
  }
  const kind = r.mappingKind[folio]!;
  const flags = r.flags[folio]! & RECORDED_FLAGS;
  if (kind === PAGE_MAPPING_KSM || (flags & (1 << PG_swapcache)) !== 0) return;
  if (!present) {
    // Its verdict read PG_locked; a page-cache folio without a mapping is judged by the
    // page cache (`isReplacedMigrationSource`), which is not recorded.
    if ((r.flags[folio]! & (1 << PG_locked)) === 0) return;
    if ((kind & PAGE_MAPPING_ANON) === 0 && folioAddressSpace(ctx.mem, folio) === null) return;
  }
  const mapping = readerMapping(r, folio);
  const objs = rec.objs;
  let map = objs.indexOf(mapping);
  if (map < 0) {
    if (objs.length >= MAX_RECORD_OBJS) return;
    map = objs.length;
    objs.push(mapping);
  }
  const counter = mmCounter(ctx.mem, folio);
  f[at + F_FOLIO] = folio;
  f[at + F_BITS] = kind | flags;
  f[at + F_MAP] = map;
  rec.index[i] = r.index[folio]!;
  // `checkEntry` counted the entry in the pass's tally: it counts in the record instead.
  tally.rss[counter]! -= 1;
  rec.rss[counter]! += 1;
  rec.checkBits[word]! &= ~bit;
  countSlotRefs(inc, rec, i, folio, pfn);
  if (!present) {
    f[at + F_META] = SLOT_MIGRATION | (counter << 2) | F_LOCKED;
    return;
  }
  const exclusive = pteWrite(raw) && (kind & PAGE_MAPPING_ANON) !== 0 ? F_EXCLUSIVE : 0;
  f[at + F_META] = SLOT_FOLIO | (counter << 2) | exclusive;
  tally.ptes[pfn]!--;
  tally.refs[folio]!--;
  inc.ptes![pfn]!++;
  inc.refs![folio]!++;
}

function checkTlbs(mm: Mm, bad: Problems): void {
  mm.tlb.forEach((tlb, cpu) => {
    // x86 lets a CPU that is lazy or has switched away keep entries a flush skipped; they
    // go before the CPU next runs a task of the mm (switch_mm_irqs_off's tlb_gen check).
    if (tlb === undefined || tlbFlushedBeforeUse(mm, cpu)) return;
    for (const [vpn, e] of tlb) {
      const { raw, level } = entryAt(mm, vpn);
      const pfn = ptePfn(raw) + (level === 'pmd' ? vpn % PTRS_PER_PTE : 0);
      // A PROT_NONE entry may still be cached as it was while the flush of the change that
      // made it PROT_NONE is pending (mm->tlb_flush_pending, what pte_accessible tests).
      const legal = pteHwPresent(raw)
        ? pfn === e >>> 2 && ((e & 2) === 0 || pteWrite(raw))
        : pteProtnone(raw) && mm.tlbFlushPending > 0 && pfn === e >>> 2;
      if (!legal) {
        bad.add(
          `CPU ${cpu} caches ${mm} ${hex(vpn * PAGE_SIZE)} -> pfn ${hex(e >>> 2)}${(e & 2) !== 0 ? ' writable' : ''}, but the page table says ${formatPte(raw)} (a missing TLB flush)`,
        );
      }
    }
  });
}

/**
 * The anon_vma side (mm/rmap.c, 6.3). `num_active_vmas` counts the VMAs whose
 * `vma->anon_vma` points at the anon_vma (`anon_vma_clone` / `anon_vma_fork` /
 * `__anon_vma_prepare` add one, `unlink_anon_vmas` takes it away). A VMA leaves its mm
 * before it leaves the anon_vma: munmap detaches the VMAs (`do_vmi_munmap`), then
 * `unmap_region` -> `free_pgtables` -> `unlink_anon_vmas` takes the anon_vma lock, and may
 * sleep on it; `exit_mmap` does the same for every VMA. So the VMAs counted are those of
 * the live mms and those still chained in an anon_vma tree, detached or not. An anon_vma
 * reached only from a VMA no mm lists any more is not checked until it is unlinked.
 */
function checkAnonVmas(ctx: RmapState, tally: Tally, bad: Problems): void {
  if (!checkAnonVmasSmall(ctx, tally, bad)) checkAnonVmasLarge(ctx, tally, bad);
}

/** Past this many VMAs or anon_vmas, `checkAnonVmas` counts with a set and a map. */
const SMALL_ANON_VMA_CHECK = 32;

/**
 * `checkAnonVmas` for a machine of a few VMAs and anon_vmas (every step check of a
 * scenario): the same tests in the same order, the VMAs and anon_vmas gathered in arrays
 * (no set or map to fill and empty on every check). False, having reported nothing, when
 * there are more than `SMALL_ANON_VMA_CHECK` of either: the caller counts with sets.
 */
function checkAnonVmasSmall(ctx: RmapState, tally: Tally, bad: Problems): boolean {
  // Empty (`Tally.reset`).
  const vmas = tally.vmaList;
  const seen = tally.anonVmaList;
  const small = gatherAnonVmasSmall(ctx, vmas, seen);
  if (small) {
    const avs = seen.items;
    const vs = vmas.items;
    for (let a = 0; a < seen.n; a++) {
      const av = avs[a]!;
      let n = 0;
      for (let v = 0; v < vmas.n; v++) if (vs[v]!.anonVma === av) n++;
      checkAnonVma(av, n, bad);
    }
  }
  // Not kept until the next check: they would keep this machine alive.
  vmas.clear();
  seen.clear();
  return small;
}

/**
 * The VMAs of the live mms and of the anon_vmas their chains lead to (`vmas`), and those
 * anon_vmas (`seen`), for `checkAnonVmasSmall`; false when either has more than
 * `SMALL_ANON_VMA_CHECK`.
 */
function gatherAnonVmasSmall(
  ctx: RmapState,
  vmas: SmallList<Vma>,
  seen: SmallList<AnonVma>,
): boolean {
  for (const mm of ctx.mms) {
    const list = mm.vmas;
    for (let v = 0; v < list.length; v++) {
      const vma = list[v]!;
      if (!vmas.addOnce(vma)) return false;
      const chain = vma.anonVmaChain;
      for (let c = 0; c < chain.length; c++) if (!seen.addOnce(chain[c]!.anonVma)) return false;
    }
  }
  const avs = seen.items;
  for (let a = 0; a < seen.n; a++) {
    for (const avc of avs[a]!.rbRoot) if (!vmas.addOnce(avc.vma)) return false;
  }
  return true;
}

/**
 * One chained anon_vma's verdict, for both ways of counting: `activeVmas` VMAs have it as
 * their `anon_vma`, which its `num_active_vmas` must say (mm/rmap.c, 6.3); its root is a
 * root; and a chained anon_vma holds a reference.
 */
function checkAnonVma(av: AnonVma, activeVmas: number, bad: Problems): void {
  if (av.numActiveVmas !== activeVmas)
    bad.add(`${av}: num_active_vmas ${av.numActiveVmas}, but ${activeVmas} VMAs use it`);
  if (av.root.root !== av.root) bad.add(`${av}: its root ${av.root} is not a root`);
  if (av.refcount < 1) bad.add(`${av}: chained with refcount ${av.refcount}`);
}

/** `checkAnonVmas` counting with a set of VMAs, a set of anon_vmas and a map. */
function checkAnonVmasLarge(ctx: RmapState, tally: Tally, bad: Problems): void {
  const vmas = tally.vmas;
  const seen = tally.anonVmas;
  for (const mm of ctx.mms) {
    for (const vma of mm.vmas) {
      vmas.add(vma);
      for (const avc of vma.anonVmaChain) seen.add(avc.anonVma);
    }
  }
  for (const av of seen) for (const avc of av.rbRoot) vmas.add(avc.vma);
  const active = tally.active;
  for (const vma of vmas) {
    if (vma.anonVma !== null) active.set(vma.anonVma, (active.get(vma.anonVma) ?? 0) + 1);
  }
  for (const av of seen) {
    checkAnonVma(av, active.get(av) ?? 0, bad);
  }
  // Not kept until the next check: they would keep this machine alive.
  vmas.clear();
  seen.clear();
  active.clear();
}

/**
 * The slots of one file's page cache (mm/filemap.c, 6.3: a folio of n pages is a
 * multi-index entry, every one of its n indices holding it). Each slot must hold a live
 * folio of this file whose range covers the slot's index; each folio must fill every slot
 * of its range (a slot missing or holding another folio is reported from both sides). A
 * hugetlbfs folio, indexed in huge pages, has one slot. Adds to `cached` the cache's
 * references of each folio: one per page (one for hugetlb), counted once per folio.
 */
function checkPageCache(
  mem: RmapState['mem'],
  as: AddressSpace,
  tally: Tally,
  bad: Problems,
): void {
  const walk = cacheWalk;
  walk.mem = mem;
  walk.as = as;
  walk.tally = tally;
  walk.bad = bad;
  try {
    as.pages.forEach(walk.slot);
  } finally {
    walk.mem = null;
    walk.as = null;
    walk.tally = null;
    walk.bad = null;
  }
}

/**
 * What `checkPageCache` tests of one slot, `index` caching `folio` (in the order of the
 * slots, so the problems come in the cache's order).
 */
function checkCacheSlot(
  mem: RmapState['mem'],
  as: AddressSpace,
  tally: Tally,
  bad: Problems,
  folio: Folio,
  index: number,
): void {
  const live = pfnValid(mem, folio) && pfnFolio(mem, folio) === folio;
  if (!live) {
    bad.add(`${as.name}: index ${index} caches ${hex(folio)}, which is not a live folio`);
    return;
  }
  const first = folioIndex(mem, folio);
  const hugetlb = folioTestHugetlb(mem, folio);
  const nr = hugetlb ? 1 : folioNrPages(mem, folio);
  // `folio_mapping` against `as` itself: `folioAddressSpace` is that object when it is an
  // address space, else null, and `as` is one (so no `instanceof` per slot; the same throw
  // for a swap-cache folio with no swap address space).
  if (folioMapping(mem, folio) !== as || index < first || index >= first + nr) {
    bad.add(`${as.name}: folio ${hex(folio)} at index ${index} has another mapping or index`);
    return;
  }
  if (index !== first) return;
  for (let i = 1; i < nr; i++) {
    const slot = as.pages.get(index + i);
    if (slot !== folio) {
      bad.add(
        `${as.name}: index ${index + i} is inside folio ${hex(folio)} (indices ${index}..${index + nr - 1}) but its slot holds ${slot === undefined ? 'nothing' : hex(slot)}`,
      );
    }
  }
  tally.hold(folio, nr);
}

/**
 * The page cache `checkPageCache` walks, for its `Map.prototype.forEach` callback `slot`
 * (bound once): a `for...of` over `AddressSpace.pages` made an entry array per slot and an
 * iterator per cache, some 1,100 bytes a migrate-under-writes check. `forEach` visits the
 * slots in the same order. Emptied after each walk, so that it keeps no machine alive.
 */
class CacheWalk {
  mem: RmapState['mem'] | null = null;
  as: AddressSpace | null = null;
  tally: Tally | null = null;
  bad: Problems | null = null;
  readonly slot = (folio: Folio, index: number): void =>
    checkCacheSlot(this.mem!, this.as!, this.tally!, this.bad!, folio, index);
}

/** The `CacheWalk` of every check in this thread. */
const cacheWalk = new CacheWalk();

/**
 * Consistency of the whole rmap model, for tests and the explorer (slow: it walks every
 * page table and every frame). Checks that every entry lies in a VMA and points at a live
 * folio the rmap can find again (anon_vma chain or i_mmap, matching index); that every
 * migration entry's folio is locked; that writable anonymous pages are PageAnonExclusive;
 * that rss counters, page-table counts, mapcounts (per page and entire) match the entries
 * exactly and refcounts cover them (plus page-cache references and pins); that VMAs, anon
 * vma chains, `num_active_vmas` and the page caches are consistent. With `quiescent`,
 * also that no TLB caches a translation the page tables no longer have and no task has a
 * deferred flush pending. Returns the problems found (empty when sound).
 *
 * The kernel rules behind them (mm/rmap.c, mm/memory.c, mm/migrate.c, 6.3): `rmap_walk`
 * must find every mapping (`anon_vma_chain` / `i_mmap`, at `folio->index`); a migration
 * entry exists only while its folio is locked; `_mapcount`, `MM_*PAGES` and the page
 * table's use count change with the entry under the PTE lock; a mapping holds a
 * reference. The legal states of concurrent operations it accepts are described at
 * `isReplacedMigrationSource` and `checkAnonVmas`; references beyond the mappings (GUP, a
 * zap's gathered pages, isolation) are allowed, only fewer are reported.
 *
 * Cost: one pass over the page tables and one over the frames, counting into the shared
 * per-pfn `Tally` (no map, set or closure per entry or frame). It returns exactly what
 * `checkRmapReference` (invariants/reference.ts, the first implementation) returns, in the
 * same order; the differential test packages/scenarios/test/rmap-check-differential.test.ts
 * compares the two at every step of explored schedules, on legal and corrupted states.
 *
 * `incremental`: each page table of 16 entries or more keeps a record of its slots, and
 * the machine per-pfn counts of what the recorded entries map (`IncrementalRmapState`). The
 * page-table walk compares (`replayEntry`) the recorded entries of a table not written
 * through `PageTable.set` since the machine's last sound incremental pass (or, in a written
 * table, the slots whose entry is unchanged): when the mm's VMAs and the folio's frame,
 * type, mapping, the flags `folio_mapping` and `mm_counter` read and `index` are what that
 * pass recorded, their tests would give what they gave then, and the entry stays counted
 * in the record; PageAnonExclusive is read again for a writable anonymous page. Frame,
 * mapping and index are compared only where a folio writer marked the frame
 * (`rmapWritten`). An entry that changed leaves the recorded counts, is checked in full
 * and recorded again. `checkFolios` then visits only the folios whose verdict can have
 * changed (`checkChangedFolios`): marked by the folio writers (a refcount lowered, a
 * mapcount, what the frame is, mapping, index), or whose recorded or fresh counts changed. The rest (VMAs,
 * migration entries, hugetlb and KSM entries, huge PMDs, the unmap window, anon_vmas, KSM,
 * page caches, pins, TLBs) runs in full; with KSM in use every folio is checked. A pass
 * that finds anything, or throws, keeps no records and gives the full check's answer, so
 * the verdict is the full one's for every state reached through the model's writers; a
 * write straight into `PageTable.ptes` of a recorded table or into the memmap's arrays is
 * seen only by a full check. A machine none of whose page tables has 16 entries yet gets
 * the full check (`hasRecordableTable`). The differential test compares the two after
 * every step too.
 */
export function checkRmap(ctx: RmapState, options: RmapCheckOptions = {}): string[] {
  if (options.incremental === true && (ctx.rmapCheck !== null || hasRecordableTable(ctx))) {
    // A pass that finds anything or throws leaves no records (see startIncrementalPass),
    // and the full check then gives the verdict (its problems, or its error).
    const inc = startIncrementalPass(ctx);
    let problems: string[] | null = null;
    try {
      problems = runCheck(ctx, options, inc);
    } catch {
      problems = null;
    }
    if (problems !== null && problems.length === 0) {
      const tally = shared!;
      passEndedSound(inc, tally.touched, stillCounted(tally));
      return problems;
    }
  }
  return runCheck(ctx, options, null);
}

/**
 * Whether some page table of the machine has `MIN_RECORDED_USED` entries or more. Until one
 * has, an incremental pass would record nothing and visit about as many frames as the full
 * check (a machine of a few mapped pages), so `checkRmap` runs the full check, and keeps no
 * state for the machine: a historic scenario's schedule (a few strided checks of a small
 * machine) paid about 5 % more CPU for the incremental pass's bookkeeping.
 */
function hasRecordableTable(ctx: RmapState): boolean {
  for (const mm of ctx.mms) {
    for (const table of mm.pageTables.values()) if (table.used >= MIN_RECORDED_USED) return true;
  }
  return false;
}

/**
 * Keeps in the tally's `touched` only the pfns a pass counted in its tally (not in the
 * records) that still hold a count there (a pfn whose count `recordEntry` moved to the
 * records holds none), and returns how many there are, first in `touched`.
 */
function stillCounted(tally: Tally): number {
  const { touched, ptes, pmds, refs, held } = tally;
  let kept = 0;
  for (let i = 0; i < tally.nTouched; i++) {
    const pfn = touched[i]!;
    if (ptes[pfn] !== 0 || pmds[pfn] !== 0 || refs[pfn] !== 0 || held[pfn] !== 0)
      touched[kept++] = pfn;
  }
  // The others are zero: `reset` need not visit them.
  tally.nTouched = kept;
  return kept;
}

/** `checkRmap`, in full (`inc` null) or as an incremental pass using and updating `inc`. */
function runCheck(
  ctx: RmapState,
  options: RmapCheckOptions,
  inc: IncrementalRmapState | null,
): string[] {
  const mem = ctx.mem;
  const bad = threadProblems.start();
  const tally = tallyFor(ctx);
  const walk = mmWalk;
  walk.sorted = false;
  walk.vma = null;
  if (inc !== null && !inc.fromScratch) gatherMarks(mem, tally, inc);
  for (const mm of ctx.mms) checkMm(ctx, mm, tally, walk, bad, inc);
  if (inc !== null) dropUnseenRecords(inc);
  checkAnonVmas(ctx, tally, bad);
  checkKsm(ctx, bad.addFn);
  for (const as of ctx.files) checkPageCache(mem, as, tally, bad);
  for (const mm of ctx.mms) {
    if (mm.pins.size === 0) continue;
    for (const [pfn, n] of mm.pins) {
      const folio = pfn === mem.zeroPfn ? pfn : pfnFolio(mem, pfn);
      tally.hold(folio, folioOrder(mem, folio) > 0 ? n : n * GUP_PIN_COUNTING_BIAS);
    }
  }
  if (inc === null) checkFolios(mem, tally, tally.zeros, tally.zeros, bad);
  else if (!inc.fromScratch && ctx.ksm === null) checkChangedFolios(mem, tally, inc, bad);
  else {
    // Every folio (KSM's are checked against its stable tree, which marks nothing); the
    // marks start again from here.
    checkFolios(mem, tally, inc.ptes ?? tally.zeros, inc.refs ?? tally.zeros, bad);
    frameView(mem).rmapWritten.fill(0);
  }
  if (options.quiescent === true) {
    for (const mm of ctx.mms) checkTlbs(mm, bad);
    // A batch the kernel's own code leaves pending (leaveTlbBatchPending) is legal; its
    // stale entries, if any, are what checkTlbs reports.
    for (const [task, batch] of ctx.batches) {
      if (batch.flushRequired && batch.leftPendingBy === null)
        bad.add(`${task} has a deferred TLB flush pending (try_to_unmap_flush)`);
    }
  }
  // Not kept until the next check: it would keep this machine alive.
  walk.vma = null;
  const out = bad.list;
  if (bad.dropped > 0) out.push(`... and ${bad.dropped} more problems`);
  return out;
}

/**
 * Every live folio against what the entries, page caches and pins counted: entire and
 * per-page mapcounts equal the mappings, the refcount covers them. The entries are those
 * of the pass's tally plus, for an incremental pass, the recorded ones (`recPtes` per pfn,
 * `recRefs` per folio; all zero for a full check). Reads the memmap arrays directly (the
 * accessors' checks hold for a head); a frame that is not a head is passed over, except a
 * tail naming itself as its head, which `pfnFolio` takes for a folio and the accessors
 * reject (a broken memmap: the accessor's error is thrown).
 */
function checkFolios(
  mem: RmapState['mem'],
  tally: Tally,
  recPtes: Int32Array,
  recRefs: Int32Array,
  bad: Problems,
): void {
  const m = frameView(mem);
  const { state, headOf } = m;
  const zeroPfn = mem.zeroPfn;
  // Node by node: the frames between one node's end and the next node's start are holes
  // (checked by folio's checkPhysicalMemory), so the walk jumps over them.
  // Free frames, holes and tails are passed over, 8 at a time where the 8 states share an
  // aligned word of the memmap's buffer, lie in the node and are all free, all holes, all
  // tails of a pooled hugetlb page, all tails none of which names itself as its head, or
  // free of heads and tails in any other mix (a free block's first frame and free frames). A
  // run of free, hole or pooled-tail words is passed over in an inner loop, word by word
  // (the outer loop's node and alignment tests once per run, not once per word).
  const { words, ints, heads, soff: off, hoff } = tally.frames(m);
  let nid = 0;
  let nodeEnd = nodeStartPfn(mem, 0) + nodeSpannedPages(mem, 0);
  tally.tailsFrom = -1;
  let wordsEnd = Math.min(nodeEnd, state.length) - 8;
  for (let pfn = 0; pfn < mem.maxPfn; pfn++) {
    if (pfn >= nodeEnd) {
      if (++nid >= mem.nrNodes) break;
      pfn = nodeStartPfn(mem, nid);
      nodeEnd = pfn + nodeSpannedPages(mem, nid);
      wordsEnd = Math.min(nodeEnd, state.length) - 8;
    }
    if (((off + pfn) & 7) === 0 && pfn <= wordsEnd) {
      const w = words[(off + pfn) >>> 3];
      if (w === EIGHT_FREE || w === 0 || w === EIGHT_POOL_TAIL) {
        // And the words after it that are such too, up to the node's last whole word.
        // Four words at a time where all four are free frames (most of a small machine's
        // memory: one chain of loads and compares for 32 frames), else word by word.
        let k = ((off + pfn) >>> 3) + 1;
        const last = (off + wordsEnd) >>> 3;
        while (k <= last) {
          if (
            k + 3 <= last &&
            words[k] === EIGHT_FREE &&
            words[k + 1] === EIGHT_FREE &&
            words[k + 2] === EIGHT_FREE &&
            words[k + 3] === EIGHT_FREE
          ) {
            k += 4;
            continue;
          }
          const x = words[k];
          if (x !== EIGHT_FREE && x !== 0 && x !== EIGHT_POOL_TAIL) break;
          k++;
        }
        pfn = (k << 3) - off - 1;
        continue;
      }
      // Passed over as one by one below, unless one names itself as its head.
      if (w === EIGHT_TAIL) {
        // The tails of the large folio just checked, told already (see `Tally.tailsFrom`).
        if (pfn === tally.tailsFrom && tally.tailsTo <= nodeEnd) {
          pfn = tally.tailsTo - 1;
          tally.tailsFrom = -1;
          continue;
        }
        if (tailsNameOthers(headOf, heads, hoff, pfn)) {
          pfn += 7;
          continue;
        }
      } else if (
        noHeadNorTail(ints[(off + pfn) >>> 2]!) &&
        noHeadNorTail(ints[((off + pfn) >>> 2) + 1]!)
      ) {
        // No head or tail among the eight (a free block's first frame and free frames):
        // nothing below would read them.
        pfn += 7;
        continue;
      }
    }
    const s = state[pfn];
    if (s !== FRAME_HEAD) {
      if (s === FRAME_TAIL && headOf[pfn] === pfn) folioEntireMapcount(mem, pfn);
      continue;
    }
    if (pfn === zeroPfn) continue;
    tally.tailsFrom = -1;
    checkFolio(mem, m, pfn, tally, recPtes, recRefs, bad);
    // A large folio `checkLargeFolio` did not read (no mapping counts it): its run of tails.
    if (tally.tailsFrom < 0 && m.order[pfn]! >= LARGE_FOLIO_ORDER) tailRun(m, pfn, tally);
  }
}

/**
 * For `checkFolios`, after the tests of a large folio at `pfn` that `checkLargeFolio` did
 * not read (unmapped: a page-cache or isolated THP, a folio being migrated): leaves in
 * `Tally.tailsFrom` / `tailsTo` the run of groups of eight tails naming `pfn` from its
 * first aligned group on (`isTailGroup`), as `checkLargeFolio` leaves it for a mapped one.
 * None of their frames names itself (each names `pfn`, before them), which is all the frame
 * walk tells of a word of tails (`tailsNameOthers`): it passes over the run at once instead
 * of telling its groups one by one. Nothing is left when `pfn` makes no `pairWord`, or when
 * the first group's frames and heads do not start aligned words together.
 */
function tailRun(m: FrameView, pfn: number, tally: Tally): void {
  if (pfn <= 0 || pfn >= PAIR_WORD_LIMIT) return;
  const { words, heads, soff, hoff } = tally.frames(m);
  // The first frame after the head that starts a word of states.
  const first = pfn + 8 - ((soff + pfn) & 7);
  if (((hoff + 4 * first) & 7) !== 0) return;
  const pair = tally.pairWord(pfn);
  const last = Math.min(pfn + (1 << m.order[pfn]!), m.state.length) - 8;
  let q = first;
  while (q <= last && isTailGroup(words, heads, soff, hoff, q, pair)) q += 8;
  if (q === first) return;
  tally.tailsFrom = first;
  tally.tailsTo = q;
}

/**
 * Whether the eight frames from `q` (aligned: `soff + q` and `hoff + 4 * q` multiples of 8)
 * are eight tails each naming the head whose `pairWord` is `pair` (a head above 0 and below
 * `PAIR_WORD_LIMIT`): their word of states is `EIGHT_TAIL` and their four words of heads
 * are `pair`.
 */
function isTailGroup(
  words: Float64Array,
  heads: Float64Array,
  soff: number,
  hoff: number,
  q: number,
  pair: number,
): boolean {
  if (words[(soff + q) >>> 3] !== EIGHT_TAIL) return false;
  const k = (hoff + 4 * q) >>> 3;
  return (
    heads[k] === pair && heads[k + 1] === pair && heads[k + 2] === pair && heads[k + 3] === pair
  );
}

/**
 * Whether none of the 8 frames from `pfn` (8 tails, by their states) names itself as its
 * head (`headOf[p] === p`, which `checkFolios` must not pass over). Eight tails naming one
 * head outside them are told from 4 aligned float64 words of `headOf` (`heads`, whose
 * buffer `headOf` starts `hoff` bytes into): the first two frames name that head, and the
 * four words are equal. (Equal words hold equal int32 pairs, but for +0 and -0: the pairs
 * (0, 0) and (0, -2^31), and neither names the frame it is at, since the first frame here,
 * naming 0, is past 0.) Otherwise frame by frame.
 */
function tailsNameOthers(headOf: Int32Array, heads: Float64Array, hoff: number, pfn: number) {
  const h = headOf[pfn]!;
  const at = hoff + 4 * pfn;
  if ((h < pfn || h > pfn + 7) && (at & 7) === 0 && headOf[pfn + 1] === h) {
    const k = at >>> 3;
    const x = heads[k]!;
    if (heads[k + 1] === x && heads[k + 2] === x && heads[k + 3] === x) return true;
  }
  let q = 0;
  while (q < 8 && headOf[pfn + q] !== pfn + q) q++;
  return q === 8;
}

/**
 * `checkFolios` for an incremental pass that follows a sound one: only the folios whose
 * verdict can have changed since. Those are the folios the memmap's writers marked
 * (`rmapWritten`: a refcount or mapcount written, or the frames made or unmade a folio),
 * those of the pfns whose recorded counts the pass changed (`changed`), and those the pass's
 * tally counts or the last sound pass's did (`touched`, `fresh`: page caches, pins, PMDs and
 * the entries checked in full). Every other folio has the counts, frames and mappings it had
 * when that pass found it sound. Clears the marks it read.
 */
function checkChangedFolios(
  mem: RmapState['mem'],
  tally: Tally,
  inc: IncrementalRmapState,
  bad: Problems,
): void {
  const m = frameView(mem);
  const recPtes = inc.ptes ?? tally.zeros;
  const recRefs = inc.refs ?? tally.zeros;
  // The frames marked when the pass started (`gatherMarks`; the check writes no mark).
  const marks = m.rmapWritten;
  const marked = inc.marked;
  for (let k = 0; k < marked.length; k++) {
    const pfn = marked[k]!;
    marks[pfn] = 0;
    visitFolio(mem, m, pfn, tally, recPtes, recRefs, bad);
  }
  const changed = inc.changed;
  for (let k = 0; k < changed.length; k++)
    visitFolio(mem, m, changed[k]!, tally, recPtes, recRefs, bad);
  const touched = tally.touched;
  for (let k = 0; k < tally.nTouched; k++)
    visitFolio(mem, m, touched[k]!, tally, recPtes, recRefs, bad);
  const fresh = inc.fresh;
  for (let k = 0; k < fresh.length; k++)
    visitFolio(mem, m, fresh[k]!, tally, recPtes, recRefs, bad);
}

/**
 * At the start of a pass that follows a sound one: the frames marked in `rmapWritten` since
 * (`inc.marked`, for `checkChangedFolios`, the marks left set for `replayEntry`), and for
 * each the recorded slot whose replay reads it, set in its record's `replayBits`: the
 * counted slot whose pfn or folio it is, when it is the only one (`slotRefs`, `slotAt`).
 * A marked frame of several counted slots, whose `slotAt` no longer names it, or the zero
 * page sets `replayAll`: every recorded slot of an unwritten range is replayed, as when no
 * slot is told. The marks are read 8 at a time where 8 of them fill an aligned word of
 * their buffer (which other per-frame arrays may share), 32 at a time where four such words
 * are all zero, one at a time at the ends.
 */
function gatherMarks(mem: RmapState['mem'], tally: Tally, inc: IncrementalRmapState): void {
  const marks = frameView(mem).rmapWritten;
  const marked = inc.marked;
  // The frames marked, 8 at a time through the aligned words of the marks' buffer.
  const words = tally.markWords(marks);
  const off = marks.byteOffset;
  const n = marks.length;
  let pfn = 0;
  for (; pfn < n && ((off + pfn) & 7) !== 0; pfn++) if (marks[pfn] !== 0) marked.push(pfn);
  const lastWord = (off + n) >>> 3;
  let w = (off + pfn) >>> 3;
  // Four words at a time (a loop of a quarter of the turns, its test a chain of four loads
  // and compares), then word by word as below: most passes find a few dozen marks among
  // thousands of frames.
  for (; w + 4 <= lastWord; w += 4) {
    if (words[w] === 0 && words[w + 1] === 0 && words[w + 2] === 0 && words[w + 3] === 0) continue;
    for (let x = w; x < w + 4; x++) if (words[x] !== 0) marksOfWord(marks, (x << 3) - off, marked);
  }
  for (; w < lastWord; w++) if (words[w] !== 0) marksOfWord(marks, (w << 3) - off, marked);
  for (pfn = Math.max(pfn, (lastWord << 3) - off); pfn < n; pfn++)
    if (marks[pfn] !== 0) marked.push(pfn);
  const slotRefs = inc.slotRefs;
  const slotAt = inc.slotAt;
  if (slotRefs === null || slotAt === null) {
    // No record made yet: nothing to replay.
    inc.replayAll = false;
    return;
  }
  const byId = inc.byId;
  const zeroPfn = mem.zeroPfn;
  for (let k = 0; k < marked.length; k++) {
    const p = marked[k]!;
    const c = slotRefs[p]!;
    if (p === zeroPfn || c > 1) return;
    if (c === 0) continue;
    const id = slotAt[p]!;
    const rec = byId[id >>> SLOT_ID_SHIFT]!;
    const i = id & (PTRS_PER_PTE - 1);
    const at = i * SLOT_FIELDS;
    const f = rec.slots;
    if (
      (f[at + F_META]! & SLOT_COUNTED) === 0 ||
      (f[at + F_FOLIO] !== p && ptePfn(f[at + F_RAW]! >>> 0) !== p)
    )
      return;
    rec.replayBits[i >>> PTE_RANGE_SHIFT]! |= 1 << (i & 31);
  }
  inc.replayAll = false;
}

/** Adds to `marked` the marked frames of the 8 from `first` (a word of marks not zero). */
function marksOfWord(marks: Uint8Array, first: number, marked: number[]): void {
  for (let p = first; p < first + 8; p++) if (marks[p] !== 0) marked.push(p);
}

/** The folio of frame `pfn`, checked once per pass (`checkChangedFolios`). */
function visitFolio(
  mem: RmapState['mem'],
  m: FrameView,
  pfn: number,
  tally: Tally,
  recPtes: Int32Array,
  recRefs: Int32Array,
  bad: Problems,
): void {
  if (pfn < 0 || pfn >= m.maxPfn) return;
  const s = m.state[pfn];
  let folio = pfn;
  if (s === FRAME_TAIL) {
    folio = m.headOf[pfn]!;
    // A tail naming itself as its head: the accessor's error, as `checkFolios` throws it.
    if (folio === pfn) folioEntireMapcount(mem, pfn);
    if (folio < 0 || folio >= m.maxPfn || m.state[folio] !== FRAME_HEAD) return;
  } else if (s !== FRAME_HEAD) return;
  if (folio === mem.zeroPfn || tally.visited[folio] !== 0) return;
  tally.visited[folio] = 1;
  tally.visitedList.push(folio);
  checkFolio(mem, m, folio, tally, recPtes, recRefs, bad);
}

/** The tests of `checkFolios` for one live folio (not the zero page). */
function checkFolio(
  mem: RmapState['mem'],
  m: FrameView,
  pfn: number,
  tally: Tally,
  recPtes: Int32Array,
  recRefs: Int32Array,
  bad: Problems,
): void {
  const ptes = tally.ptes;
  const entire = m.entireMapcount[pfn]!;
  const pmd = tally.pmds[pfn]!;
  if (entire !== pmd) {
    bad.add(`folio ${hex(pfn)}: entire mapcount ${entire}, PMDs mapping it ${pmd}`);
  }
  const total = entire + m.totalMapcount[pfn]!;
  const r = tally.refs[pfn]! + recRefs[pfn]!;
  if (total > 0 || r > 0) {
    const order = m.order[pfn]!;
    const end = pfn + (1 << order);
    if (order >= LARGE_FOLIO_ORDER) checkLargeFolio(mem, m, pfn, end, entire, tally, recPtes, bad);
    else for (let p = pfn; p < end; p++) checkPageMapping(mem, m, p, entire, ptes, recPtes, bad);
    if (r > 0 && m.mappingKind[pfn] === PAGE_MAPPING_KSM) {
      const problem = checkKsmFolio(mem, pfn);
      if (problem !== null) bad.add(problem);
    }
  }
  const needed = r + tally.held[pfn]!;
  const refcount = m.refcount[pfn]!;
  if (refcount < needed) {
    bad.add(
      `folio ${hex(pfn)}: refcount ${refcount} below the ${needed} its mappings, cache and pins hold`,
    );
  }
}

/**
 * Heads below this (and above 0) make a `pairWord` that is no NaN: its high half, `head`,
 * leaves the float64's exponent below all ones.
 */
const PAIR_WORD_LIMIT = 0x7ff00000;

/** From this order up, `checkFolio` reads a folio's pages through `checkLargeFolio`. */
const LARGE_FOLIO_ORDER = 4;

/**
 * The per-page mapcount test of `checkFolio` for a folio of `1 << order` pages: each page's
 * mapcount (`pageMapcount` less the entire mapcount) against the PTEs mapping it. Eight
 * pages at a time (from `pfn` to `end`) where they are eight tails of this folio (a word of their states, four
 * words of `headOf` each naming `pfn` twice) whose mapcounts and PTE counts are all 0 (the
 * OR of each eight): every such page passes the test, as page by page (a tail's
 * `pageMapcount` is its mapcount plus its head's entire mapcount). Page by page elsewhere
 * (the head, the pages of a mapped THP's PTEs, a tail out of place). Leaves in
 * `Tally.tailsFrom` / `tailsTo` the run of groups it found to be eight tails of this folio.
 */
function checkLargeFolio(
  mem: RmapState['mem'],
  m: FrameView,
  pfn: number,
  end: number,
  entire: number,
  tally: Tally,
  recPtes: Int32Array,
  bad: Problems,
): void {
  const { state, mapcount } = m;
  const ptes = tally.ptes;
  const { words, heads, soff, hoff } = tally.frames(m);
  const pair = tally.pairWord(pfn);
  // `pair` equals a word exactly when their bits are equal (see `pairWord`).
  const fast = pfn > 0 && pfn < PAIR_WORD_LIMIT;
  const noRec = recPtes === tally.zeros;
  // Eight at a time only within the arrays (an `order` past them reads past `state`).
  const last = Math.min(end, state.length) - 8;
  // The run of groups found to be eight tails naming `pfn`, from the first such group on.
  let tailsFrom = -1;
  let tailsTo = -1;
  for (let p = pfn; p < end; p++) {
    if (fast && p !== pfn && p <= last && ((soff + p) & 7) === 0 && ((hoff + 4 * p) & 7) === 0) {
      // Group after group (each keeps the alignment of the first) while the groups are
      // eight tails of this folio whose counts are all 0.
      let q = p;
      while (q <= last && isTailGroup(words, heads, soff, hoff, q, pair)) {
        // Eight tails of this folio, none naming itself: `checkFolios` may pass over them.
        if (tailsFrom < 0) {
          tailsFrom = q;
          tailsTo = q + 8;
        } else if (q === tailsTo) tailsTo = q + 8;
        if (
          (mapcount[q]! |
            mapcount[q + 1]! |
            mapcount[q + 2]! |
            mapcount[q + 3]! |
            mapcount[q + 4]! |
            mapcount[q + 5]! |
            mapcount[q + 6]! |
            mapcount[q + 7]!) !==
            0 ||
          (ptes[q]! |
            ptes[q + 1]! |
            ptes[q + 2]! |
            ptes[q + 3]! |
            ptes[q + 4]! |
            ptes[q + 5]! |
            ptes[q + 6]! |
            ptes[q + 7]!) !==
            0 ||
          (!noRec &&
            (recPtes[q]! |
              recPtes[q + 1]! |
              recPtes[q + 2]! |
              recPtes[q + 3]! |
              recPtes[q + 4]! |
              recPtes[q + 5]! |
              recPtes[q + 6]! |
              recPtes[q + 7]!) !==
              0)
        )
          break;
        q += 8;
      }
      if (q !== p) {
        // Those passed; the group that stopped the loop, if any, is taken again from `q`.
        p = q - 1;
        continue;
      }
    }
    checkPageMapping(mem, m, p, entire, ptes, recPtes, bad);
  }
  tally.tailsFrom = tailsFrom;
  tally.tailsTo = tailsTo;
}

/**
 * The per-page test of `checkFolio` (and `checkLargeFolio`) for page `p` of a folio whose
 * entire mapcount is `entire`: the page's own mapcount (`pageMapcount` less `entire`)
 * against the PTEs mapping it, those the pass counted (`ptes`) and those recorded
 * (`recPtes`).
 */
function checkPageMapping(
  mem: RmapState['mem'],
  m: FrameView,
  p: number,
  entire: number,
  ptes: Int32Array,
  recPtes: Int32Array,
  bad: Problems,
): void {
  const ps = m.state[p];
  // pageMapcount, which throws for a frame that is not a page of a live folio.
  const page =
    ps === FRAME_HEAD || ps === FRAME_TAIL
      ? m.mapcount[p]! + m.entireMapcount[m.headOf[p]!]!
      : pageMapcount(mem, p);
  const own = page - entire;
  const found = ptes[p]! + recPtes[p]!;
  if (own !== found) bad.add(`pfn ${hex(p)}: mapcount ${own}, PTEs mapping it ${found}`);
}

/** Runs `checkRmap` and throws INVARIANT_VIOLATED listing the problems, if any. */
export function assertRmap(ctx: RmapState, options: RmapCheckOptions = {}): void {
  const problems = checkRmap(ctx, options);
  if (problems.length > 0) {
    throw new MmsimError(
      'INVARIANT_VIOLATED',
      `rmap model is inconsistent:\n  ${problems.join('\n  ')}`,
    );
  }
}
