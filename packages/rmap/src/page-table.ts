import { type Runtime, Spinlock } from '@mmsim/runtime';
import { PAGE_SIZE, PMD_SIZE, PTRS_PER_PTE } from './constants.js';
import type { TableRecord } from './invariants/incremental.js';

/** Bytes of a page table's slots (`PTRS_PER_PTE` 32-bit entries). */
export const PAGE_TABLE_BYTES = 4 * PTRS_PER_PTE;
/** log2 of `PTE_RANGE_SLOTS`. */
export const PTE_RANGE_SHIFT = 5;
/** Slots of one range of a page table's `dirty` mark. */
export const PTE_RANGE_SLOTS = 1 << PTE_RANGE_SHIFT;
/** Ranges of a page table's `dirty` mark (`PTRS_PER_PTE / PTE_RANGE_SLOTS`). */
export const PTE_RANGES = PTRS_PER_PTE >>> PTE_RANGE_SHIFT;
/** A `dirty` mark with every range written. */
export const ALL_PTE_RANGES = (1 << PTE_RANGES) - 1;

/**
 * One last-level page table: the 512 PTEs that map one 2 MiB (PMD-sized) range, and its
 * page-table lock. With split PTE locks (USE_SPLIT_PTE_PTLOCKS, the x86-64 default) each
 * page-table page has its own `ptl` (`pte_lockptr`); the model gives each table a runtime
 * `Spinlock`. The PTEs are the encoded numbers of `pte.ts` in a `Uint32Array`: no object
 * per PTE.
 */
export class PageTable {
  /** PTEs indexed by `pte_index(address)` (bits 12..20 of the address). */
  readonly ptes: Uint32Array;
  /** The split PTE lock (`ptl`). */
  readonly ptl: Spinlock;
  /** Entries that are not `pte_none`, so empty tables are easy to spot. */
  used = 0;
  /** First virtual address this table maps. */
  readonly base: number;
  /**
   * Which of the table's `PTE_RANGES` slot ranges (`PTE_RANGE_SLOTS` slots each, bit
   * `i >>> PTE_RANGE_SHIFT` for slot `i`) `set` wrote since the incremental rmap check last
   * recorded them (see `checkRmap`'s `incremental`); all of them for a new table. A write
   * straight into `ptes` does not set it.
   */
  dirty = ALL_PTE_RANGES;
  /**
   * What the incremental rmap check recorded of this table (its slots as its last pass saw
   * them), or null: kept here rather than in a side table keyed by the table.
   */
  checkRecord: TableRecord | null = null;

  /**
   * `ptes`, when given, are the table's zeroed slots (PTRS_PER_PTE of them) on a buffer the
   * machine handed out (`Mm` takes them with `machineBuffer`: a page table is 2 KiB, and an
   * explorer builds a machine, and its tables, per schedule); a new array otherwise.
   */
  constructor(
    rt: Runtime,
    owner: string,
    pmdIndex: number,
    ptes: Uint32Array = new Uint32Array(PTRS_PER_PTE),
  ) {
    this.ptes = ptes;
    this.base = pmdIndex * PMD_SIZE;
    this.ptl = new Spinlock(rt, `ptl ${owner} 0x${pmdBaseHex(pmdIndex)}`);
  }

  /** Reads the PTE of virtual page `vpn` (which must fall in this table). */
  get(vpn: number): number {
    return this.ptes[pteIndexOfVpn(vpn)]!;
  }

  /** `set_pte_at`: writes the PTE of virtual page `vpn`, keeping `used` up to date. */
  set(vpn: number, pte: number): void {
    const i = pteIndexOfVpn(vpn);
    const old = this.ptes[i]!;
    if (old === 0 && pte !== 0) this.used++;
    else if (old !== 0 && pte === 0) this.used--;
    this.ptes[i] = pte;
    this.dirty |= 1 << (i >>> PTE_RANGE_SHIFT);
  }

  /**
   * Marks slot `i`'s range written, as `set` does: for a test that writes `ptes` directly
   * and wants the incremental rmap check to read the slot again.
   */
  markWritten(i: number): void {
    this.dirty |= 1 << (i >>> PTE_RANGE_SHIFT);
  }
}

/**
 * The last-level page tables of an mm by PMD index (`Mm.pageTables`): a `Map` that also
 * remembers the table it found last, for `lookup`. Migration walks folio after folio of
 * the same 2 MiB range, so the same table comes back again and again; `lookup` answers
 * those from the remembered entry without hashing. Every change of the map through `set`,
 * `delete` or `clear` forgets it, so `lookup` always gives what `get` gives.
 */
export class PageTableMap extends Map<number, PageTable> {
  #lastIdx = -1;
  #last: PageTable | undefined = undefined;

  /** `get(pmdIndex)`, from the remembered entry when it is the same index. */
  lookup(pmdIndex: number): PageTable | undefined {
    if (pmdIndex === this.#lastIdx) return this.#last;
    const table = super.get(pmdIndex);
    if (table !== undefined) {
      this.#lastIdx = pmdIndex;
      this.#last = table;
    }
    return table;
  }

  override set(pmdIndex: number, table: PageTable): this {
    this.#forget();
    return super.set(pmdIndex, table);
  }

  override delete(pmdIndex: number): boolean {
    this.#forget();
    return super.delete(pmdIndex);
  }

  override clear(): void {
    this.#forget();
    super.clear();
  }

  #forget(): void {
    this.#lastIdx = -1;
    this.#last = undefined;
  }
}

/**
 * The first address of PMD range `pmdIndex` (a non-negative integer) in hexadecimal, as
 * `(pmdIndex * PMD_SIZE).toString(16)` gives it: the name of a page table's lock. A user
 * table's base is above 2^32 (the mmap base is 0x7f00_0000_0000), where `toString(16)` of
 * that double costs about 0.35 us, most of building a table; `pmdIndex * 2` is a small
 * integer (below 2^27 under `TASK_SIZE`), and PMD_SIZE is 2 * 16^5, so the base's digits
 * are its digits followed by five zeros (for a non-zero index).
 */
export function pmdBaseHex(pmdIndex: number): string {
  return pmdIndex === 0 ? '0' : `${(pmdIndex * 2).toString(16)}00000`;
}

/**
 * `pte_index`: the slot of virtual page `vpn` (a non-negative integer) in its page table,
 * `vpn % PTRS_PER_PTE`. Taken as the low bits: a vpn is above 2^31 for most of the user
 * address space, and there a `%` of doubles is a call to fmod, while the bitwise AND
 * truncates modulo 2^32, which keeps the low 9 bits.
 */
export function pteIndexOfVpn(vpn: number): number {
  return vpn & (PTRS_PER_PTE - 1);
}

/** Virtual page number of an address (`addr >> PAGE_SHIFT`, safe above 2^32). */
export function vpnOf(addr: number): number {
  return Math.floor(addr / PAGE_SIZE);
}

/** `pmd_index`-like key of an address: which 2 MiB range (page table) it falls in. */
export function pmdIndexOf(addr: number): number {
  return Math.floor(addr / PMD_SIZE);
}

/** The PMD key of a virtual page number. */
export function pmdIndexOfVpn(vpn: number): number {
  return Math.floor(vpn / PTRS_PER_PTE);
}
