import { machineBuffer } from '@mmsim/folio';
import { NR_MM_COUNTERS, PTRS_PER_PTE } from '../constants.js';
import type { Mm } from '../mm.js';
import { type PageTable, PTE_RANGES } from '../page-table.js';
import type { RmapState } from '../rmap-state.js';

/**
 * What the incremental rmap check (`checkRmap(ctx, { incremental: true })`) remembers of
 * its last sound pass: per page table, each slot's entry as that pass saw it and what the
 * entry's check read of its folio; per mm, the VMA fields the entry checks read; per pfn,
 * what the recorded entries count (`IncrementalRmapState.ptes` and `refs`), kept across
 * passes and changed only where a recorded entry changed. A slot whose entry, VMAs and folio
 * fields are all unchanged gets the same verdict again and still counts as recorded, so the
 * pass only compares it (see `replayEntry` in invariants.ts). Nothing here is written by
 * the model's writers: every test is a comparison with the live state, made by the check.
 */

/**
 * A slot the pass checks again in full: empty, hugetlb, KSM, the swap cache, a migration
 * entry to a page-cache folio without a mapping, broken.
 */
export const SLOT_CHECK = 0;
/** A present entry of a live folio, with its folio's fields below, counted in the record. */
export const SLOT_FOLIO = 1;
/** A present entry of the shared zero page (its verdict depends on the entry alone). */
export const SLOT_ZERO = 2;
/**
 * A migration entry to a locked live folio, with its folio's fields as for SLOT_FOLIO: its
 * rss count is in the record (a migration entry counts in no mapcount or refcount).
 */
export const SLOT_MIGRATION = 3;
/** Bit of the kinds whose slots count in the record (SLOT_FOLIO, SLOT_MIGRATION). */
export const SLOT_COUNTED = 1;

/** Int32 fields per slot in `TableRecord.slots`. */
export const SLOT_FIELDS = 5;
/** The slot's entry (`raw | 0`; 0: none recorded). */
export const F_RAW = 0;
/** The folio head the entry's pfn belonged to. */
export const F_FOLIO = 1;
/**
 * The folio's `mapping` tag bits and the flags its mapping and rss counter read, as
 * `mappingKind | flags & RECORDED_FLAGS` (invariants.ts).
 */
export const F_BITS = 2;
/**
 * The slot's kind (SLOT_*: bit 0 set for the kinds counted in the record), the rss counter
 * `<< 2`, `F_EXCLUSIVE`, `F_LOCKED`.
 */
export const F_META = 3;
/** Where in `TableRecord.objs` the object `folio->mapping` pointed at is. */
export const F_MAP = 4;
/** In `F_META`: the entry is writable and the folio anonymous (PageAnonExclusive is read). */
export const F_EXCLUSIVE = 1 << 5;
/** In `F_META`: a migration entry, whose verdict reads PG_locked of its folio. */
export const F_LOCKED = 1 << 6;

/**
 * Bytes of a record's buffer: `index`, `rss`, `slots`, `usedBits`, `checkBits`, `replayBits`,
 * in that order.
 */
const RECORD_BYTES =
  8 * PTRS_PER_PTE + 8 * NR_MM_COUNTERS + 4 * SLOT_FIELDS * PTRS_PER_PTE + 12 * PTE_RANGES;

/** `log2(PTRS_PER_PTE)`: a slot's id (`IncrementalRmapState.slotAt`) is `rec.id << 9 | i`. */
export const SLOT_ID_SHIFT = 9;

/**
 * One page table's slots as the last sound pass saw them: per slot, five int32 fields side
 * by side (`F_*`) and the folio's `index`; the distinct `folio->mapping` objects of its
 * slots; what its SLOT_FOLIO slots add to the mm's rss counters. Its typed arrays are views
 * of one buffer from the machine's recycler (`machineBuffer`); a record whose table went
 * away is kept in its machine's pool and used again.
 */
export class TableRecord {
  /** The table, the mm and PMD index it was found at. */
  table: PageTable | null = null;
  mm: Mm | null = null;
  idx = -1;
  /** The pass that last walked the table through this record. */
  seen = -1;
  readonly index: Float64Array;
  /** Per rss counter, the SLOT_FOLIO slots counted in it. */
  readonly rss: Float64Array;
  readonly slots: Int32Array;
  /**
   * The slots in use, a word per range of the table's `dirty` mark: bit `i & 31` of word
   * `i >>> PTE_RANGE_SHIFT` for slot `i`. `nrUsed` of them.
   */
  readonly usedBits: Uint32Array;
  /**
   * The slots in use that are SLOT_CHECK (checked in full by every pass), in the layout of
   * `usedBits`: an unwritten range replays these even when no folio of it was marked.
   */
  readonly checkBits: Uint32Array;
  /**
   * The counted slots of an unwritten range whose pfn or folio a writer marked since the
   * last pass (`gatherMarks`), in the layout of `usedBits`: replayed by the pass, which
   * clears the word.
   */
  readonly replayBits: Uint32Array;
  nrUsed = 0;
  /** Where the record is in `IncrementalRmapState.byId` (kept in the pool). */
  readonly id: number;
  /** The objects `folio->mapping` pointed at, by `F_MAP`. */
  readonly objs: (object | null)[] = [];

  constructor(buffer: ArrayBuffer, id: number) {
    this.id = id;
    let at = 0;
    this.index = new Float64Array(buffer, at, PTRS_PER_PTE);
    at += 8 * PTRS_PER_PTE;
    this.rss = new Float64Array(buffer, at, NR_MM_COUNTERS);
    at += 8 * NR_MM_COUNTERS;
    this.slots = new Int32Array(buffer, at, SLOT_FIELDS * PTRS_PER_PTE);
    at += 4 * SLOT_FIELDS * PTRS_PER_PTE;
    this.usedBits = new Uint32Array(buffer, at, PTE_RANGES);
    at += 4 * PTE_RANGES;
    this.checkBits = new Uint32Array(buffer, at, PTE_RANGES);
    at += 4 * PTE_RANGES;
    this.replayBits = new Uint32Array(buffer, at, PTE_RANGES);
  }

  /** Empties the record (no slot recorded) for another table. */
  clear(): void {
    this.table = null;
    this.mm = null;
    this.idx = -1;
    this.seen = -1;
    this.slots.fill(0);
    this.rss.fill(0);
    this.usedBits.fill(0);
    this.checkBits.fill(0);
    this.replayBits.fill(0);
    this.nrUsed = 0;
    this.objs.length = 0;
  }
}

/** The incremental check's memory of one machine (`RmapState.rmapCheck`). */
export class IncrementalRmapState {
  /** The records that count in `ptes` and `refs`: one per recorded table. */
  readonly records: TableRecord[] = [];
  /** Records of tables gone, for other tables. */
  readonly pool: TableRecord[] = [];
  /** Every record made for the machine, by `TableRecord.id` (in `records` or `pool`). */
  readonly byId: TableRecord[] = [];
  /** Per mm (`vmaMms[i]`), the VMA fields its records were made under (`vmasUnchanged`). */
  readonly vmaMms: Mm[] = [];
  readonly vmaSigs: unknown[][] = [];
  /**
   * The tables whose written ranges a pass walked slot by slot, whose `dirty` mark it
   * clears if it ends sound.
   */
  readonly recorded: PageTable[] = [];
  /**
   * Per pfn, the SLOT_FOLIO slots of all records mapping it (PTEs per page, `ptes`) and per
   * folio head those mapping a page of it (`refs`); null until a record is made.
   */
  ptes: Int32Array | null = null;
  refs: Int32Array | null = null;
  /**
   * Per frame, the counted slots (SLOT_FOLIO, SLOT_MIGRATION) of all records whose pfn or
   * folio it is (a slot whose pfn is its folio counted once), and `slotAt` the id
   * (`rec.id << SLOT_ID_SHIFT | i`) of the last one recorded: a frame a writer marked
   * whose count is 1 and whose `slotAt` still names it leads `gatherMarks` to the only slot
   * whose replay reads it. Null until a record is made.
   */
  slotRefs: Int32Array | null = null;
  slotAt: Int32Array | null = null;
  /**
   * The frames marked in `rmapWritten` when the pass started (`gatherMarks`), for
   * `checkChangedFolios`, which clears their marks.
   */
  readonly marked: number[] = [];
  /**
   * A marked frame's slots could not be told (a frame counted by several slots, the zero
   * page, a stale `slotAt`): every unwritten range replays all its recorded slots.
   */
  replayAll = true;
  /**
   * Folios whose recorded counts a pass changed (a slot recorded, changed or forgotten):
   * `checkFolios` visits them, with those the memmap's writers marked (`rmapWritten`).
   */
  readonly changed: number[] = [];
  /**
   * The pfns the last sound pass counted outside the records (page caches, pins, PMDs,
   * entries checked in full): their counts may be gone now, so the next pass visits them.
   */
  readonly fresh: number[] = [];
  /** The last pass ended sound: its records and counts hold. */
  sound = false;
  /** This pass has nothing to go on (first pass, or the last one was not sound). */
  fromScratch = true;
  /** Passes started on this machine. */
  pass = 0;
}

/**
 * The machine's state for a pass that starts: its records when the last pass ended sound,
 * none otherwise (a pass that found something or threw leaves nothing to replay: its
 * records and counts are dropped here, and the pass starts from scratch). Marked unsound
 * until `passEndedSound`.
 */
export function startIncrementalPass(ctx: RmapState): IncrementalRmapState {
  let state = ctx.rmapCheck;
  if (state === null) {
    state = new IncrementalRmapState();
    ctx.rmapCheck = state;
  } else if (!state.sound) {
    const records = state.records;
    for (let i = 0; i < records.length; i++) releaseRecord(state, records[i]!);
    records.length = 0;
    state.ptes?.fill(0);
    state.refs?.fill(0);
    state.slotRefs?.fill(0);
    state.vmaMms.length = 0;
    state.vmaSigs.length = 0;
    state.fresh.length = 0;
    state.fromScratch = true;
  }
  state.sound = false;
  state.pass++;
  // A store to `length` is a call into the runtime even when it changes nothing.
  if (state.recorded.length !== 0) state.recorded.length = 0;
  if (state.changed.length !== 0) state.changed.length = 0;
  if (state.marked.length !== 0) state.marked.length = 0;
  state.replayAll = true;
  return state;
}

/**
 * Ends a sound pass: the tables it walked slot by slot are clean, its records hold, and
 * `fresh` becomes the pfns it counted outside them (the first `n` of `touched`).
 */
export function passEndedSound(
  state: IncrementalRmapState,
  touched: readonly number[],
  n: number,
): void {
  const recorded = state.recorded;
  for (let t = 0; t < recorded.length; t++) recorded[t]!.dirty = 0;
  if (recorded.length !== 0) recorded.length = 0;
  const fresh = state.fresh;
  if (fresh.length !== n) fresh.length = n;
  for (let i = 0; i < n; i++) fresh[i] = touched[i]!;
  state.sound = true;
  state.fromScratch = false;
}

/** A record for `table`: from the pool, or new, with the per-pfn counts made if need be. */
export function newRecord(ctx: RmapState, state: IncrementalRmapState, table: PageTable) {
  if (state.ptes === null) {
    const n = ctx.mem.maxPfn;
    const buffer = machineBuffer(ctx.mem, 16 * n);
    state.ptes = new Int32Array(buffer, 0, n);
    state.refs = new Int32Array(buffer, 4 * n, n);
    state.slotRefs = new Int32Array(buffer, 8 * n, n);
    state.slotAt = new Int32Array(buffer, 12 * n, n);
  }
  let rec = state.pool.pop();
  if (rec === undefined) {
    rec = new TableRecord(machineBuffer(ctx.mem, RECORD_BYTES), state.byId.length);
    state.byId.push(rec);
  }
  rec.table = table;
  table.checkRecord = rec;
  state.records.push(rec);
  return rec;
}

/** Detaches a record from its table and puts it in the pool (its counts already gone). */
export function releaseRecord(state: IncrementalRmapState, rec: TableRecord): void {
  if (rec.table !== null && rec.table.checkRecord === rec) rec.table.checkRecord = null;
  rec.clear();
  state.pool.push(rec);
}

/**
 * Whether the VMA fields an entry's check reads (which VMA covers an address, its flags,
 * `vm_pgoff`, file and anon_vma chain) are what they were when the mm's records were made;
 * records the new ones when not. Compares in place, allocating only on a change.
 */
export function vmasUnchanged(state: IncrementalRmapState, mm: Mm): boolean {
  const at = state.vmaMms.indexOf(mm);
  const old = at < 0 ? undefined : state.vmaSigs[at]!;
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
  if (at < 0) {
    state.vmaMms.push(mm);
    state.vmaSigs.push(sig);
  } else state.vmaSigs[at] = sig;
  return false;
}
