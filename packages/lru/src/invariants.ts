import {
  byteWords,
  type Folio,
  type FolioList,
  FRAME_FREE,
  FRAME_HEAD,
  FRAME_TAIL,
  type FrameView,
  folioFlags,
  folioNid,
  folioNrPages,
  folioOnList,
  folioRefCount,
  frameView,
  LRU_MARK_SHIFT,
  machineBuffer,
  PG_active,
  PG_lru,
  PG_mlocked,
  PG_unevictable,
  pfnFolio,
  pfnValid,
} from '@mmsim/folio';
import { MmsimError, NodeStat } from '@mmsim/runtime';
import { type FolioBatch, PAGEVEC_SIZE } from './folio-batch.js';
import { LRU_LIST_NAMES, LRU_UNEVICTABLE, lruListOfFlags, NR_LRU_LISTS } from './lru-list.js';
import {
  type LruState,
  WHERE_BATCH,
  WHERE_ISOLATING,
  WHERE_NONE,
  WHERE_RELEASING,
} from './lru-state.js';
import type { Lruvec } from './lruvec.js';
import { mlockPending } from './mlock.js';

const LRU = 1 << PG_lru;
const ACTIVE = 1 << PG_active;
const UNEVICTABLE = 1 << PG_unevictable;
const MLOCKED = 1 << PG_mlocked;

/**
 * 8 frames' states of FRAME_FREE read as one float64 word (bytes 0x01: a normal number,
 * equal only to that bit pattern); 8 FRAME_HOLE frames read as 0.
 */
const ALL_FREE = new Float64Array(new Uint8Array(8).fill(FRAME_FREE).buffer)[0] as number;

export interface CheckOptions {
  /**
   * Also walk every pfn of the memory: PG_lru set on a folio that is on no LRU list, or
   * LRU bookkeeping left on a pfn that is on no list and in no batch. Default true; turn
   * it off for large memories or frequent checks (the rest costs time in the number of
   * folios on the LRU and in the batches).
   */
  readonly scanMemory?: boolean;
  /**
   * After a pass that found the LRU sound, test again only the folios the model's writers
   * marked since (their list, flags, refcount going to or from 0, LRU marks: see
   * `lruLooksSound`): for every state reached through the model's functions the answer is
   * the whole check's. A write straight into the memmap's or the LRU's arrays is seen only
   * by a whole pass. Ignored with `scanMemory` (the pass is whole). Default false.
   */
  readonly incremental?: boolean;
}

/** Reads a folio's flags, or null (with a problem noted) when it is not a live folio. */
function liveFlags(s: LruState, folio: Folio, where: string, problems: string[]): number | null {
  try {
    return folioFlags(s.mem, folio);
  } catch (e) {
    problems.push(`${where}: folio ${folio} is not a live folio (${(e as Error).message})`);
    return null;
  }
}

/**
 * Checks the LRU layer against its invariants and returns one message per problem (empty
 * when sound). It may run at any scheduling point, between steps of a run:
 * - every folio is on at most one LRU list or batch;
 * - PG_lru is set exactly when the folio is on an LRU list, except in the window of an
 *   isolation in progress (PG_lru already clear, not yet unlinked);
 * - a folio on a list of node n lives on node n, has the flags of that list, and holds a
 *   reference (or is being released by its last one);
 * - a folio in a batch has PG_lru clear, is on no list and holds the batch's reference;
 * - each list's size equals the base pages of its folios and the node's vmstat item
 *   (nr_inactive_anon + lru); lru_disable_count is not negative;
 * - an mlocked folio on an LRU list is on the unevictable one, unless it waits in a CPU's
 *   mlock_fbatch for `__mlock_folio` to move it there (6.3's `mlock_folio` sets PG_mlocked
 *   first and moves the folio when the batch drains) or an isolator has cleared its PG_lru
 *   (`__mlock_folio` leaves such a folio alone; its putback files it as unevictable); every
 *   mlock_fbatch entry holds a reference on a live folio;
 * - with `scanMemory`, each node's `nr_mlock` is the pages of its PG_mlocked folios.
 *
 * The kernel rules behind them (mm/swap.c, mm/vmscan.c, include/linux/mm_inline.h, 6.3):
 * `lruvec_add_folio` / `lruvec_del_folio` change a list and `update_lru_size` together
 * under `lru_lock`; `folio_isolate_lru` clears PG_lru first (`folio_test_clear_lru`) and
 * unlinks under the lock afterwards (the isolation window accepted here); the last put
 * unlinks a folio at refcount 0 (`__page_cache_release`, the releasing window); a folio
 * in an `lru_add` folio batch holds a reference and has PG_lru clear until
 * `lru_add_fn` sets it under the lock; the list's flags (PG_active, PG_unevictable) only
 * change while the folio is off the lists or under the lock.
 */
export function checkLru(s: LruState, options: CheckOptions = {}): string[] {
  if (lruLooksSound(s, options.scanMemory ?? true, options.incremental ?? false)) return [];
  return reportLru(s, options);
}

/**
 * The reporting form of `checkLru`: walks the lists, batches (and memory) and returns one
 * message per problem. `checkLru` runs `lruLooksSound` first and this only when that finds
 * something, so both say the same thing.
 */
export function reportLru(s: LruState, options: CheckOptions = {}): string[] {
  const problems: string[] = [];
  const mem = s.mem;
  const seen = new Map<Folio, string>();
  const note = (folio: Folio, place: string): void => {
    const before = seen.get(folio);
    if (before !== undefined) problems.push(`folio ${folio} is both on ${before} and on ${place}`);
    else seen.set(folio, place);
  };

  for (const lv of s.lruvecs) {
    for (let lru = 0; lru < NR_LRU_LISTS; lru++) {
      const place = `node ${lv.nid} ${LRU_LIST_NAMES[lru]}`;
      let pages = 0;
      for (const folio of (lv.lists[lru] as FolioList).toArray()) {
        note(folio, place);
        const flags = liveFlags(s, folio, place, problems);
        if (flags === null) continue;
        const w = s.where[folio];
        pages += folioNrPages(mem, folio);
        if (folioNid(mem, folio) !== lv.nid) {
          problems.push(`${place}: folio ${folio} belongs to node ${folioNid(mem, folio)}`);
        }
        const want = lruListOfFlags(flags);
        if (want !== lru) {
          problems.push(
            `${place}: folio ${folio} has the flags of ${LRU_LIST_NAMES[want]} (a flag changed while it was on the LRU)`,
          );
        }
        if ((flags & (ACTIVE | UNEVICTABLE)) === (ACTIVE | UNEVICTABLE)) {
          problems.push(`${place}: folio ${folio} has both PG_active and PG_unevictable`);
        }
        if (mlockedAndStranded(s, folio, flags, lru)) {
          problems.push(
            `${place}: folio ${folio} is mlocked but not on the unevictable list, and no mlock_fbatch holds it`,
          );
        }
        if ((flags & LRU) === 0) {
          if (w !== WHERE_ISOLATING) {
            problems.push(`${place}: folio ${folio} is on the list with PG_lru clear`);
          }
        } else if (w === WHERE_ISOLATING) {
          problems.push(`${place}: folio ${folio} is being isolated but still has PG_lru`);
        }
        if (w === WHERE_BATCH) problems.push(`${place}: folio ${folio} is also marked as queued`);
        if (folioRefCount(mem, folio) === 0 && w !== WHERE_RELEASING) {
          problems.push(`${place}: folio ${folio} has refcount 0`);
        }
      }
      const size = lv.sizes[lru] as number;
      if (pages !== size) {
        problems.push(`${place}: its folios have ${pages} pages but its size says ${size}`);
      }
      const stat = s.vmstat.nodePageState(lv.nid, NodeStat.NR_INACTIVE_ANON + lru);
      if (stat !== size) {
        problems.push(`${place}: size ${size} but vmstat nr_${LRU_LIST_NAMES[lru]} is ${stat}`);
      }
    }
  }

  for (const b of s.batches) {
    const place = `the lru_add batch of cpu ${b.cpu}`;
    if (b.nr < 0 || b.nr > PAGEVEC_SIZE) problems.push(`${place} holds ${b.nr} folios`);
    for (const folio of b.pending()) {
      note(folio, place);
      const flags = liveFlags(s, folio, place, problems);
      if (flags === null) continue;
      if ((flags & LRU) !== 0) problems.push(`${place}: folio ${folio} has PG_lru set`);
      if (folioOnList(mem, folio) !== null) problems.push(`${place}: folio ${folio} is on a list`);
      if (s.where[folio] !== WHERE_BATCH) {
        problems.push(`${place}: folio ${folio} is not marked as queued`);
      }
      if (folioRefCount(mem, folio) < 1) {
        problems.push(`${place}: folio ${folio} has lost the batch's reference`);
      }
    }
  }

  for (const b of s.mlockBatches) {
    const place = `the mlock_fbatch of cpu ${b.cpu}`;
    for (const list of [b.entries, ...b.inFlight]) {
      for (const e of list) {
        const folio = Math.floor(e / 4);
        if (liveFlags(s, folio, place, problems) === null) continue;
        if (folioRefCount(mem, folio) < 1) {
          problems.push(`${place}: folio ${folio} has lost the batch's reference`);
        }
      }
    }
  }

  if (options.scanMemory ?? true) {
    const mlocked = new Float64Array(mem.nrNodes);
    const where = s.where;
    for (let pfn = 0; pfn < where.length; pfn++) {
      if (where[pfn] !== WHERE_NONE && !seen.has(pfn)) {
        problems.push(`pfn ${pfn} is marked ${where[pfn]} but is on no LRU list and in no batch`);
      }
    }
    for (let pfn = 0; pfn < mem.maxPfn; ) {
      if (!pfnValid(mem, pfn) || pfnFolio(mem, pfn) !== pfn) {
        pfn++;
        continue;
      }
      const flags = folioFlags(mem, pfn);
      if ((flags & LRU) !== 0 && !seen.has(pfn)) {
        problems.push(`folio ${pfn} has PG_lru set but is on no LRU list`);
      }
      if ((flags & MLOCKED) !== 0) {
        const nid = folioNid(mem, pfn);
        mlocked[nid] = (mlocked[nid] as number) + folioNrPages(mem, pfn);
      }
      pfn += folioNrPages(mem, pfn);
    }
    for (let nid = 0; nid < mem.nrNodes; nid++) {
      const stat = s.vmstat.nodePageState(nid, NodeStat.NR_MLOCK);
      if (stat !== mlocked[nid]) {
        problems.push(
          `node ${nid}: nr_mlock is ${stat} but its mlocked folios have ${mlocked[nid]} pages`,
        );
      }
    }
  }
  if (s.disableCount < 0) problems.push(`lru_disable_count is ${s.disableCount}`);
  return problems;
}

/** Throws INVARIANT_VIOLATED listing every problem `checkLru` finds. */
export function assertLru(s: LruState, options: CheckOptions = {}): void {
  const problems = checkLru(s, options);
  if (problems.length > 0) {
    throw new MmsimError(
      'INVARIANT_VIOLATED',
      `LRU invariants violated:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
  }
}

/**
 * The LRU check's state on one machine (`LruState.lruCheck`, made by its first pass), all
 * in one buffer from the machine's recycler (`machineBuffer`: zeroed, given back with the
 * machine), so nothing outlives the machine and no table is keyed by it.
 */
export interface LruCheckState {
  /** Per pfn, the pass's stamp on every folio met on a list or in a batch (`stamp`). */
  readonly seen: Int32Array;
  /** The last stamp given (never 0, which a zeroed array holds). */
  stamp: number;
  /**
   * Per pfn, what the last sound pass found of a folio on an LRU list: `(order << 8) |
   * (list + 1)`, list = `nid * NR_LRU_LISTS + lru`; 0 for a folio on none.
   */
  readonly recorded: Uint16Array;
  /** Per list (`nid * NR_LRU_LISTS + lru`), its size in base pages at the last sound pass. */
  readonly sizes: Float64Array;
  /** Per list, the pages an incremental pass found gone from it or come onto it (0 between passes). */
  readonly delta: Float64Array;
  /** Whether the last pass found the LRU sound (false before the first): the next may be incremental. */
  sound: boolean;
  /**
   * Frames of memory per listed folio above which a pass walks the lists whole and
   * records nothing (`FRAMES_PER_LISTED_FOLIO`; a test sets Infinity to make every step
   * pass incremental).
   */
  framesPerListedFolio: number;
  /** The LRU lists, by `nid * NR_LRU_LISTS + lru`. */
  readonly lists: readonly FolioList[];
  /** The memmap's `lruWritten` read 8 groups' marks at a time (made by the first incremental pass). */
  markWords: Float64Array | null;
}

/** The lists `LruCheckState.recorded` can name (a byte); more nodes than that are checked in full. */
const MAX_RECORDED_LISTS = 255;

function checkState(s: LruState, maxPfn: number): LruCheckState {
  const c = s.lruCheck;
  if (c !== null && c.seen.length === maxPfn) return c;
  const lists = s.lruvecs.length * NR_LRU_LISTS;
  const buf = machineBuffer(s.mem, 16 * lists + 6 * maxPfn);
  const state: LruCheckState = {
    sizes: new Float64Array(buf, 0, lists),
    delta: new Float64Array(buf, 8 * lists, lists),
    seen: new Int32Array(buf, 16 * lists, maxPfn),
    recorded: new Uint16Array(buf, 16 * lists + 4 * maxPfn, maxPfn),
    lists: listsOf(s),
    framesPerListedFolio: FRAMES_PER_LISTED_FOLIO,
    stamp: 0,
    sound: false,
    markWords: null,
  };
  s.lruCheck = state;
  return state;
}

/** Every node's LRU lists, by `nid * NR_LRU_LISTS + lru` (a loop: `flatMap` is slow on V8). */
function listsOf(s: LruState): FolioList[] {
  const lists: FolioList[] = [];
  for (const lv of s.lruvecs) {
    for (let lru = 0; lru < NR_LRU_LISTS; lru++) lists.push(lv.lists[lru] as FolioList);
  }
  return lists;
}

/**
 * The fast form of `checkLru`: whether the lists, the lru_add batches and the
 * mlock_fbatches (and with `scanMemory` the memory: PG_lru and WHERE_* marks on unlisted
 * folios, nr_mlock) pass every check of `reportLru`, with no message, no allocation (a
 * per-pfn stamp array, reused, marks the folios met) and a stop at the first doubt. It
 * never answers true where the report lists a problem (the same rules, see `checkLru`
 * for the kernel's): a false answer only sends the caller to the report.
 *
 * `incremental` (ignored with `scanMemory`): after a sound pass on the same machine, test
 * again only the folios a writer marked in the memmap's `lruWritten` since (see
 * `incrementalLooksSound`); the first pass on a machine and any pass after one that was
 * not sound walk every list. Every pass, whole or incremental, clears the marks and
 * records what it found of the listed folios for the next one. Lists holding few folios
 * for the size of the memory (`FRAMES_PER_LISTED_FOLIO`) are walked whole, recording
 * nothing: there reading the marks costs more than the walk.
 */
export function lruLooksSound(s: LruState, scanMemory = false, incremental = false): boolean {
  const m = frameView(s.mem);
  const c = checkState(s, m.maxPfn);
  if (c.stamp === 0x7fffffff) {
    c.stamp = 0;
    c.seen.fill(0);
  }
  const mark = ++c.stamp;
  const record =
    incremental &&
    !scanMemory &&
    s.lruvecs.length * NR_LRU_LISTS <= MAX_RECORDED_LISTS &&
    worthRecording(c, m.maxPfn);
  const inc = record && c.sound;
  // Until this pass ends sound (and records), the next one walks everything.
  c.sound = false;
  if (inc) {
    if (!incrementalLooksSound(s, m, c)) return false;
  } else {
    if (record) {
      // A whole pass that records: what it records replaces everything, every mark is read.
      c.recorded.fill(0);
      c.delta.fill(0);
      m.lruWritten.fill(0);
    }
    const lruvecs = s.lruvecs;
    for (let i = 0; i < lruvecs.length; i++) {
      if (!lruvecLooksSound(s, m, lruvecs[i]!, c, mark, record)) return false;
    }
  }
  // Indexed loops, and an empty batch passed over in the loop (a pass meets one per CPU,
  // and nearly all are empty): it has nothing to test, its nr (0) is in range.
  const batches = s.batches;
  for (let i = 0; i < batches.length; i++) {
    const b = batches[i]!;
    if (b.nr === 0 && b.draining === null) continue;
    if (!batchLooksSound(s, m, b, c.seen, mark)) return false;
  }
  const mlockBatches = s.mlockBatches;
  for (let i = 0; i < mlockBatches.length; i++) {
    const b = mlockBatches[i]!;
    if (!entriesHoldRefs(m, b.entries)) return false;
    const inFlight = b.inFlight;
    for (let j = 0; j < inFlight.length; j++) if (!entriesHoldRefs(m, inFlight[j]!)) return false;
  }
  if (scanMemory && !memoryLooksSound(s, m, c.seen, mark)) return false;
  if (s.disableCount < 0) return false;
  c.sound = record;
  return true;
}

/**
 * Frames of memory per folio on the LRU lists above which an incremental pass costs more
 * than the walk: it reads a word of marks for every 8 frames (and looks at every marked
 * frame), the walk a dozen fields of every listed folio. Measured on the shared 2-core
 * machine, passes replayed in place: pmbench-migrate (2,048 frames, about 108 listed
 * folios) 5.4 µs incremental against 7.5 µs whole; migrate-under-writes (3,136 frames,
 * about 12) 23 against 7.4; rfc-lock-order (1,088 frames, under one) 6.7 against 3.3.
 */
const FRAMES_PER_LISTED_FOLIO = 64;

/** Whether the lists hold enough folios for the incremental pass to pay (see above). */
function worthRecording(c: LruCheckState, maxPfn: number): boolean {
  let listed = 0;
  const lists = c.lists;
  for (let i = 0; i < lists.length; i++) listed += lists[i]!.size;
  return listed * c.framesPerListedFolio >= maxPfn;
}

/**
 * The incremental pass over the LRU lists (`lruLooksSound`'s `incremental`), after a sound
 * pass. The last sound pass found every listed folio sound and recorded its list and order
 * (`LruCheckState.recorded`), and each list's size. Every test of a listed folio reads what
 * the writers mark in `lruWritten` (one store each, see `Memmap.lruWritten`): its list
 * (the folio lists mark a folio they link or unlink, `markWritten`), what the frame is, its
 * order and node (`markWritten`), the five LRU flags (the flag setters), its refcount going
 * to or from 0, its `where` mark, and whether an mlock_fbatch holds it (marked when a
 * drain lets go of it; a new entry can only turn a failing test into a passing one). So an
 * unmarked folio is where and what the last sound pass saw, and this pass visits only the
 * marked frames: each leaves its recorded list's page count and, if it is on an LRU list
 * now, gets the whole walk's tests and joins that list's count. A list's pages are then its
 * recorded size plus what came and went, compared with its size as the walk compares their
 * sum; the sizes against vmstat, the batches, the mlock_fbatches and `lru_disable_count`
 * are checked in full by the caller as on every pass. A write straight into the memmap or
 * LRU arrays marks nothing and is left to a whole pass (the end check is one).
 */
function incrementalLooksSound(s: LruState, m: FrameView, c: LruCheckState): boolean {
  const marks = m.lruWritten;
  // 8 groups' marks at a time (a word is 0 exactly when its 8 bytes are: they hold 0 or 1).
  let words = c.markWords;
  if (words === null || words.buffer !== marks.buffer) {
    words = new Float64Array(marks.buffer, marks.byteOffset, marks.length >>> 3);
    c.markWords = words;
  }
  const n = m.maxPfn;
  // Four words (32 groups) at a time: a sum of such words is 0 exactly when each is (their
  // bytes of 0 and 1 make small non-negative finite numbers, never NaN, -0 or infinite).
  const nWords = words.length;
  const quads = nWords & ~3;
  for (let i = 0; i < nWords; i++) {
    if (i < quads && (i & 3) === 0) {
      if ((words[i] as number) + words[i + 1]! + words[i + 2]! + words[i + 3]! === 0) {
        i += 3;
        continue;
      }
    }
    if (words[i] === 0) continue;
    for (let g = 8 * i; g < 8 * i + 8; g++) {
      if (marks[g] === 0) continue;
      marks[g] = 0;
      const last = Math.min(n, (g + 1) << LRU_MARK_SHIFT);
      for (let pfn = g << LRU_MARK_SHIFT; pfn < last; pfn++) {
        if (!recheckFrame(s, m, c, pfn)) return false;
      }
    }
  }
  const delta = c.delta;
  for (const lv of s.lruvecs) {
    const at = lv.nid * NR_LRU_LISTS;
    for (let lru = 0; lru < NR_LRU_LISTS; lru++) {
      const size = lv.sizes[lru] as number;
      if ((c.sizes[at + lru] as number) + (delta[at + lru] as number) !== size) return false;
      if (s.vmstat.nodePageState(lv.nid, NodeStat.NR_INACTIVE_ANON + lru) !== size) return false;
      c.sizes[at + lru] = size;
      delta[at + lru] = 0;
    }
  }
  return true;
}

/**
 * One frame of a marked group in an incremental pass: its recorded pages taken off the list
 * it was on, and, if it is on an LRU list now, the walk's tests of a listed folio and its
 * pages added to that list's count. (An unchanged frame of the group comes back as it was.)
 */
function recheckFrame(s: LruState, m: FrameView, c: LruCheckState, pfn: number): boolean {
  const rec = c.recorded;
  const old = rec[pfn]!;
  if (old !== 0) {
    const at = (old & 0xff) - 1;
    c.delta[at] = (c.delta[at] as number) - (1 << (old >>> 8));
    rec[pfn] = 0;
  }
  const id = m.listId[pfn]!;
  if (id === 0) return true;
  const list = m.lists[id] ?? null;
  if (list === null) return true;
  const lists = c.lists;
  for (let at = 0; at < lists.length; at++) {
    if (lists[at] !== list) continue;
    // The walk meets it on the list: a frame that is not a folio fails there.
    if (m.state[pfn] !== FRAME_HEAD) return false;
    const nid = (at / NR_LRU_LISTS) | 0;
    if (!listedFolioLooksSound(s, m, nid, at - nid * NR_LRU_LISTS, pfn)) return false;
    const order = m.order[pfn]!;
    rec[pfn] = (order << 8) | (at + 1);
    c.delta[at] = (c.delta[at] as number) + (1 << order);
    return true;
  }
  return true;
}

/**
 * An mlocked folio on evictable list `lru` that nothing will move to the unevictable one: no
 * CPU's mlock_fbatch holds it, and it has PG_lru. Without PG_lru an isolator owns it
 * (`folio_isolate_lru` cleared the flag and waits for `lru_lock`): `__mlock_folio`
 * (mm/mlock.c, 6.3) leaves such a folio where it is, and its putback (`lru_add_fn`) puts it
 * on the unevictable list.
 */
function mlockedAndStranded(s: LruState, folio: Folio, flags: number, lru: number): boolean {
  return (
    (flags & (MLOCKED | LRU)) === (MLOCKED | LRU) &&
    lru !== LRU_UNEVICTABLE &&
    !mlockPending(s, folio)
  );
}

/** The walk's tests of a live folio on list `lru` of node `nid` (see `reportLru`). */
function listedFolioLooksSound(
  s: LruState,
  m: FrameView,
  nid: number,
  lru: number,
  folio: number,
): boolean {
  const flags = m.flags[folio]!;
  const w = s.where[folio];
  if (m.nid[folio] !== nid || lruListOfFlags(flags) !== lru) return false;
  if ((flags & (ACTIVE | UNEVICTABLE)) === (ACTIVE | UNEVICTABLE)) return false;
  if (mlockedAndStranded(s, folio, flags, lru)) return false;
  if ((flags & LRU) === 0 ? w !== WHERE_ISOLATING : w === WHERE_ISOLATING) return false;
  if (w === WHERE_BATCH) return false;
  return m.refcount[folio] !== 0 || w === WHERE_RELEASING;
}

/**
 * `reportLru`'s memory scan: no WHERE_* mark and no PG_lru outside the lists and batches,
 * and each node's nr_mlock equal to the pages of its PG_mlocked folios (a folio is a
 * FRAME_HEAD; the walk jumps past it and steps over every other frame, holes included).
 */
function memoryLooksSound(s: LruState, m: FrameView, seen: Int32Array, mark: number): boolean {
  const where = s.where;
  // 32 frames' marks at a time where the view lines up: eight 4-byte words OR-ed, 0
  // exactly when all 32 bytes are, whatever they hold.
  const w32 = byteWords(where).words;
  const runs = w32 === null ? 0 : w32.length >>> 3;
  if (w32 !== null) {
    for (let r = 0; r < runs; r++) {
      const i = r << 3;
      if (
        (w32[i]! |
          w32[i + 1]! |
          w32[i + 2]! |
          w32[i + 3]! |
          w32[i + 4]! |
          w32[i + 5]! |
          w32[i + 6]! |
          w32[i + 7]!) ===
        0
      ) {
        continue;
      }
      for (let pfn = 32 * r; pfn < 32 * r + 32; pfn++) {
        if (where[pfn] !== WHERE_NONE && seen[pfn] !== mark) return false;
      }
    }
  }
  for (let pfn = 32 * runs; pfn < where.length; pfn++) {
    if (where[pfn] !== WHERE_NONE && seen[pfn] !== mark) return false;
  }
  const state = m.state;
  const flags = m.flags;
  const nrNodes = m.nrNodes;
  // Runs of free (or absent) frames are stepped over 8 at a time, where the frames' states
  // line up in words.
  const s64 = byteWords(state).wide;
  let mlocked0 = 0;
  let mlocked1 = 0;
  let mlockedOther = false;
  const maxPfn = m.maxPfn;
  // The words wholly below maxPfn.
  const fullWords = s64 === null ? 0 : Math.min(s64.length, maxPfn >>> 3);
  for (let pfn = 0; pfn < maxPfn; ) {
    if ((pfn & 7) === 0 && s64 !== null) {
      // Every word of such a run in one tight loop (most of a machine's memory is free).
      const from = pfn >>> 3;
      let i = from;
      for (; i < fullWords; i++) {
        const w = s64[i];
        if (w !== ALL_FREE && w !== 0) break;
      }
      if (i !== from) {
        pfn = i << 3;
        continue;
      }
    }
    const st = state[pfn];
    if (st !== FRAME_HEAD) {
      // A tail that names itself as its head makes the report's walk throw: let it.
      if (st === FRAME_TAIL && m.headOf[pfn] === pfn) return false;
      pfn++;
      continue;
    }
    const f = flags[pfn]!;
    if ((f & LRU) !== 0 && seen[pfn] !== mark) return false;
    const nr = 1 << m.order[pfn]!;
    if ((f & MLOCKED) !== 0) {
      const nid = m.nid[pfn];
      if (nid === 0) mlocked0 += nr;
      else if (nid === 1) mlocked1 += nr;
      else mlockedOther = true;
    }
    pfn += nr;
  }
  // Beyond two nodes, or a node id out of range, the report counts (rare: mlock is).
  if (mlockedOther) return false;
  for (let nid = 0; nid < nrNodes; nid++) {
    const want = nid === 0 ? mlocked0 : nid === 1 ? mlocked1 : 0;
    if (s.vmstat.nodePageState(nid, NodeStat.NR_MLOCK) !== want) return false;
  }
  return true;
}

function lruvecLooksSound(
  s: LruState,
  m: FrameView,
  lv: Lruvec,
  c: LruCheckState,
  mark: number,
  record: boolean,
): boolean {
  const state = m.state;
  const next = m.next;
  const order = m.order;
  const seen = c.seen;
  const rec = c.recorded;
  const nid = lv.nid;
  for (let lru = 0; lru < NR_LRU_LISTS; lru++) {
    let pages = 0;
    const list = lv.lists[lru] as FolioList;
    const code = nid * NR_LRU_LISTS + lru + 1;
    for (let folio = list.first(); folio >= 0; folio = next[folio]!) {
      if (folio >= seen.length || seen[folio] === mark || state[folio] !== FRAME_HEAD) {
        return false;
      }
      seen[folio] = mark;
      const o = order[folio]!;
      pages += 1 << o;
      if (!listedFolioLooksSound(s, m, nid, lru, folio)) return false;
      if (record) rec[folio] = (o << 8) | code;
    }
    const size = lv.sizes[lru] as number;
    if (pages !== size) return false;
    if (s.vmstat.nodePageState(nid, NodeStat.NR_INACTIVE_ANON + lru) !== size) return false;
    c.sizes[code - 1] = size;
  }
  return true;
}

function batchLooksSound(
  s: LruState,
  m: FrameView,
  b: FolioBatch,
  seen: Int32Array,
  mark: number,
): boolean {
  if (b.nr < 0 || b.nr > PAGEVEC_SIZE) return false;
  for (let i = 0; i < b.nr; i++) {
    if (!queuedLooksSound(s, m, b.folios[i]!, seen, mark)) return false;
  }
  const d = b.draining;
  if (d !== null) {
    for (let i = b.drainPos; i < b.drainNr; i++) {
      if (!queuedLooksSound(s, m, d[i]!, seen, mark)) return false;
    }
  }
  return true;
}

/** A folio of an lru_add batch: met once, live, PG_lru clear, on no list, queued, referenced. */
function queuedLooksSound(
  s: LruState,
  m: FrameView,
  folio: number,
  seen: Int32Array,
  mark: number,
): boolean {
  if (folio < 0 || folio >= seen.length || seen[folio] === mark) return false;
  seen[folio] = mark;
  if (m.state[folio] !== FRAME_HEAD || (m.flags[folio]! & LRU) !== 0) return false;
  const id = m.listId[folio]!;
  if (id !== 0 && (m.lists[id] ?? null) !== null) return false;
  return s.where[folio] === WHERE_BATCH && m.refcount[folio]! >= 1;
}

/** Every mlock_fbatch entry names a live folio that holds a reference. */
function entriesHoldRefs(m: FrameView, entries: readonly number[]): boolean {
  for (let i = 0; i < entries.length; i++) {
    const folio = Math.floor(entries[i]! / 4);
    if (m.state[folio] !== FRAME_HEAD || m.refcount[folio]! < 1) return false;
  }
  return true;
}
