import { PTRS_PER_PTE } from '../constants.js';
import type { Mm } from '../mm.js';
import type { PageTable } from '../page-table.js';
import type { RmapState } from '../rmap-state.js';

/**
 * What the incremental rmap check (`checkRmap(ctx, { incremental: true })`) remembers of
 * its last sound pass: per page table, each slot's entry as that pass saw it and what the
 * entry's check read of its folio; per mm, the VMA fields the entry checks read. A slot
 * whose entry, VMAs and folio fields are all unchanged gets the same verdict again, so the
 * pass only counts it (see `replayEntry` in invariants.ts). Nothing here is written by
 * the model's writers: every test is a comparison with the live state, made by the check.
 */

/** A slot the pass checks again in full: empty, a migration entry, hugetlb, KSM, broken. */
export const SLOT_CHECK = 0;
/** A present entry of a live folio, with its folio's fields below. */
export const SLOT_FOLIO = 1;
/** A present entry of the shared zero page (its verdict depends on the entry alone). */
export const SLOT_ZERO = 2;

/** Int32 fields per slot in `TableRecord.slots`. */
export const SLOT_FIELDS = 4;
/** The slot's entry (`raw | 0`; 0: none recorded). */
export const F_RAW = 0;
/** The folio head the entry's pfn belonged to. */
export const F_FOLIO = 1;
/**
 * The folio's `mapping` tag bits and the flags its mapping and rss counter read, as
 * `mappingKind | flags & RECORDED_FLAGS` (invariants.ts).
 */
export const F_BITS = 2;
/** SLOT_CHECK / SLOT_FOLIO / SLOT_ZERO, the rss counter `<< 2`, `F_EXCLUSIVE`. */
export const F_META = 3;
/** In `F_META`: the entry is writable and the folio anonymous (PageAnonExclusive is read). */
export const F_EXCLUSIVE = 1 << 5;

/**
 * One page table's slots as the last sound pass saw them: per slot, four int32 fields
 * side by side (`F_*`), the folio's `index` and the object `folio->mapping` points at.
 */
export class TableRecord {
  /** The mm and PMD index the table was found at. */
  mm: Mm | null = null;
  idx = -1;
  /**
   * The pass that last read the table through this record: only a record the pass just
   * before kept up to date is replayed (a table checked in full for a while, or gone from
   * its mm, is recorded again).
   */
  seen = -1;
  readonly slots = new Int32Array(PTRS_PER_PTE * SLOT_FIELDS);
  readonly index = new Float64Array(PTRS_PER_PTE);
  readonly mapping: (object | null)[] = new Array<object | null>(PTRS_PER_PTE).fill(null);
  /** The slots in use, in order: the first `nrUsed`. */
  readonly used = new Uint16Array(PTRS_PER_PTE);
  nrUsed = 0;
}

/** The incremental check's memory of one machine. */
export class IncrementalRmapState {
  tables = new WeakMap<PageTable, TableRecord>();
  /** Per mm, the VMA fields the records of its tables were made under (`vmasUnchanged`). */
  vmas = new WeakMap<Mm, unknown[]>();
  /** The tables a pass recorded again, whose `dirty` mark it clears if it ends sound. */
  readonly recorded: PageTable[] = [];
  /** The last pass ended sound: its records hold. */
  sound = false;
  /** Passes started on this machine. */
  pass = 0;
}

/** Per machine, the incremental check's state. */
const states = new WeakMap<RmapState, IncrementalRmapState>();

/**
 * The machine's state for a pass that starts: its records when the last pass ended
 * sound, none otherwise (a pass that found something or threw leaves nothing to replay).
 * Marked unsound until `passEndedSound`.
 */
export function startIncrementalPass(ctx: RmapState): IncrementalRmapState {
  let state = states.get(ctx);
  if (state === undefined) {
    state = new IncrementalRmapState();
    states.set(ctx, state);
  } else if (!state.sound) {
    state.tables = new WeakMap();
    state.vmas = new WeakMap();
  }
  state.sound = false;
  state.pass++;
  state.recorded.length = 0;
  return state;
}

/** Ends a sound pass: the tables it recorded are clean, its records hold. */
export function passEndedSound(state: IncrementalRmapState): void {
  const recorded = state.recorded;
  for (let t = 0; t < recorded.length; t++) recorded[t]!.dirty = false;
  recorded.length = 0;
  state.sound = true;
}

/**
 * Whether the VMA fields an entry's check reads (which VMA covers an address, its flags,
 * `vm_pgoff`, file and anon_vma chain) are what they were when the mm's records were made;
 * records the new ones when not. Compares in place, allocating only on a change.
 */
export function vmasUnchanged(state: IncrementalRmapState, mm: Mm): boolean {
  const old = state.vmas.get(mm);
  const vmas = mm.vmas;
  if (old !== undefined) {
    let k = 0;
    let same = true;
    for (let v = 0; v < vmas.length && same; v++) {
      const vma = vmas[v]!;
      const chain = vma.anonVmaChain;
      if (
        old[k] !== vma ||
        old[k + 1] !== vma.start ||
        old[k + 2] !== vma.end ||
        old[k + 3] !== vma.flags ||
        old[k + 4] !== vma.pgoff ||
        old[k + 5] !== vma.file ||
        old[k + 6] !== chain.length
      ) {
        same = false;
        break;
      }
      k += 7;
      for (let c = 0; c < chain.length; c++) {
        if (old[k++] !== chain[c]!.anonVma) {
          same = false;
          break;
        }
      }
    }
    if (same && k === old.length) return true;
  }
  const sig: unknown[] = [];
  for (const vma of vmas) {
    sig.push(vma, vma.start, vma.end, vma.flags, vma.pgoff, vma.file, vma.anonVmaChain.length);
    for (const avc of vma.anonVmaChain) sig.push(avc.anonVma);
  }
  state.vmas.set(mm, sig);
  return false;
}
