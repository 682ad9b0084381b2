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

/** One page table's slots as the last sound pass saw them. */
export class TableRecord {
  /** The mm and PMD index the table was found at. */
  mm: Mm | null = null;
  idx = -1;
  /** The entry of each slot (0: none recorded). */
  readonly raw = new Uint32Array(PTRS_PER_PTE);
  /** The slots in use, in order: the first `nrUsed`. */
  readonly used = new Uint16Array(PTRS_PER_PTE);
  nrUsed = 0;
  /** SLOT_CHECK, SLOT_FOLIO or SLOT_ZERO. */
  readonly kind = new Uint8Array(PTRS_PER_PTE);
  /** The folio head the entry's pfn belonged to. */
  readonly folio = new Int32Array(PTRS_PER_PTE);
  /**
   * The folio's `mapping` tag bits and the flags its mapping and rss counter read
   * (`RECORDED_FLAGS`), as `mappingKind | flags & RECORDED_FLAGS`.
   */
  readonly bits = new Int32Array(PTRS_PER_PTE);
  /** The object `folio->mapping` points at (anon_vma or address space). */
  readonly mapping: (object | null)[] = new Array<object | null>(PTRS_PER_PTE).fill(null);
  /** The folio's `index`. */
  readonly index = new Float64Array(PTRS_PER_PTE);
  /** The rss counter the entry counts in (`mm_counter`). */
  readonly counter = new Uint8Array(PTRS_PER_PTE);
  /** 1 when the entry is writable and the folio anonymous (PageAnonExclusive is tested). */
  readonly exclusive = new Uint8Array(PTRS_PER_PTE);
}

/** The incremental check's memory of one machine. */
export class IncrementalRmapState {
  readonly tables = new WeakMap<PageTable, TableRecord>();
  /** Per mm, the VMA fields the records of its tables were made under (`vmasUnchanged`). */
  readonly vmas = new WeakMap<Mm, unknown[]>();
  /** The tables a pass recorded again, whose `dirty` mark it clears if it ends sound. */
  readonly recorded: PageTable[] = [];
}

/**
 * Per machine, the state a sound incremental pass left; a pass takes it out while it
 * runs and puts it back only when it found nothing (so a pass that fails or throws leaves
 * none, and the next pass checks every entry again).
 */
const states = new WeakMap<RmapState, IncrementalRmapState>();

/** Takes the machine's state out (a new one when there is none). */
export function takeIncrementalState(ctx: RmapState): IncrementalRmapState {
  const state = states.get(ctx);
  if (state === undefined) return new IncrementalRmapState();
  states.delete(ctx);
  return state;
}

/** Keeps the state of a sound pass for the next one. */
export function keepIncrementalState(ctx: RmapState, state: IncrementalRmapState): void {
  states.set(ctx, state);
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
