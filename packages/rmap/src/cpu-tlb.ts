import { machineBuffer, type PhysicalMemory } from '@mmsim/folio';
import { PTRS_PER_PTE } from './constants.js';
import { pteIndexOfVpn } from './page-table.js';

/** Slot of a chunk that counts its live entries (after the 512 entry slots). */
const COUNT = PTRS_PER_PTE;

/** Bytes of a chunk: 512 entry slots and the count. */
const CHUNK_BYTES = (PTRS_PER_PTE + 1) * 4;

/**
 * Emptied chunks a CPU's TLB keeps for the ranges it fills next (128 MiB of address
 * range): enough for every range of the scenarios' processes, few enough that a TLB that
 * once held many ranges does not pin them all.
 */
const MAX_SPARE = 64;

/**
 * The cached translations of one mm on one CPU: virtual page number -> TLB entry
 * (`pfn << 2 | write << 1 | dirty`, see `tlbEntry` in tlb.ts). The hardware's TLB is a
 * small cache; the model keeps every translation until a flush drops it, which is what
 * makes a missing flush visible, so a process that touches a million pages has a million
 * entries here.
 *
 * Storage: one `Uint32Array` of 512 slots per 2 MiB range that holds an entry (the same
 * split as the page tables), keyed by PMD index, plus a live-entry count in a 513th slot;
 * a slot holds `entry + 1` (0: no entry). An entry fits: a pfn is below 2^25, so an entry
 * is below 2^27. A chunk goes when its last entry does. This replaces a `Map` per CPU
 * (about 40 bytes an entry) by 4 bytes an entry, and offers the part of the `Map`
 * interface the model uses (`get`, `has`, `set`, `delete`, `clear`, `size`, iteration).
 * Iteration is by chunk in creation order, then by address within a chunk.
 */
export class CpuTlb {
  readonly #chunks = new Map<number, Uint32Array>();
  #size = 0;
  /** The chunk used last and its PMD index: accesses come in runs within one 2 MiB range. */
  #lastIdx = -1;
  #last: Uint32Array | undefined = undefined;
  /**
   * All-zero chunks kept from those dropped or cleared (up to `MAX_SPARE`), for the next
   * ranges that need one: a full flush (`clear`) empties every chunk and the CPU's next
   * accesses refill them, and a 2 KiB typed array is an off-heap allocation that costs
   * more than zeroing.
   */
  readonly #spare: Uint32Array[] = [];
  /**
   * The machine whose buffers new chunks take (`machineBuffer`: from its recycler when it
   * has one, so that an explorer's next schedule reuses them instead of allocating a
   * backing store per schedule); null: a buffer of their own.
   */
  readonly #mem: PhysicalMemory | null;

  constructor(mem: PhysicalMemory | null = null) {
    this.#mem = mem;
  }

  /** Entries cached. */
  get size(): number {
    return this.#size;
  }

  #chunk(idx: number): Uint32Array | undefined {
    if (idx === this.#lastIdx) return this.#last;
    const chunk = this.#chunks.get(idx);
    if (chunk !== undefined) {
      this.#lastIdx = idx;
      this.#last = chunk;
    }
    return chunk;
  }

  /** The entry of virtual page `vpn`, or undefined. */
  get(vpn: number): number | undefined {
    const chunk = this.#chunk(Math.floor(vpn / PTRS_PER_PTE));
    if (chunk === undefined) return undefined;
    const v = chunk[pteIndexOfVpn(vpn)]!;
    return v === 0 ? undefined : v - 1;
  }

  /** True when virtual page `vpn` has an entry. */
  has(vpn: number): boolean {
    return this.get(vpn) !== undefined;
  }

  /** Caches `entry` for virtual page `vpn`. */
  set(vpn: number, entry: number): this {
    const idx = Math.floor(vpn / PTRS_PER_PTE);
    let chunk = this.#chunk(idx);
    if (chunk === undefined) {
      chunk = this.#spare.pop() ?? this.#newChunk();
      this.#chunks.set(idx, chunk);
      this.#lastIdx = idx;
      this.#last = chunk;
    }
    const i = pteIndexOfVpn(vpn);
    if (chunk[i] === 0) {
      chunk[COUNT]!++;
      this.#size++;
    }
    chunk[i] = entry + 1;
    return this;
  }

  /** Drops the entry of `vpn`; true when there was one. */
  delete(vpn: number): boolean {
    const idx = Math.floor(vpn / PTRS_PER_PTE);
    const chunk = this.#chunk(idx);
    if (chunk === undefined) return false;
    const i = pteIndexOfVpn(vpn);
    if (chunk[i] === 0) return false;
    chunk[i] = 0;
    this.#size--;
    if (--chunk[COUNT]! === 0) this.#drop(idx);
    return true;
  }

  /**
   * Drops the entries of the virtual pages in [start, end). A range over fewer 2 MiB ranges
   * than there are chunks (a page, a huge page's 512, a flush of up to 33 strides) visits the
   * chunks of those ranges, slot by slot from the first to the last page; a wider one every
   * chunk. Either way, a chunk whose count reaches 0 is done with at once.
   */
  deleteRange(start: number, end: number): void {
    if (this.#size === 0 || end <= start) return;
    const first = Math.floor(start / PTRS_PER_PTE);
    const last = Math.floor((end - 1) / PTRS_PER_PTE);
    if (last - first < this.#chunks.size) {
      for (let idx = first; idx <= last; idx++) {
        const chunk = this.#chunk(idx);
        if (chunk === undefined) continue;
        const base = idx * PTRS_PER_PTE;
        this.#clearSlots(
          idx,
          chunk,
          idx === first ? start - base : 0,
          idx === last ? end - base : PTRS_PER_PTE,
        );
      }
      return;
    }
    for (const [idx, chunk] of this.#chunks) {
      const base = idx * PTRS_PER_PTE;
      if (base + PTRS_PER_PTE <= start || base >= end) continue;
      this.#clearSlots(
        idx,
        chunk,
        Math.max(start, base) - base,
        Math.min(end, base + PTRS_PER_PTE) - base,
      );
    }
  }

  /** Drops the entries of slots [from, to) of the chunk of `idx`, and the chunk if it empties. */
  #clearSlots(idx: number, chunk: Uint32Array, from: number, to: number): void {
    let count = chunk[COUNT]!;
    for (let i = from; i < to && count > 0; i++) {
      if (chunk[i] !== 0) {
        chunk[i] = 0;
        count--;
        this.#size--;
      }
    }
    chunk[COUNT] = count;
    if (count === 0) this.#drop(idx);
  }

  /** A zeroed chunk for a range no spare serves. */
  #newChunk(): Uint32Array {
    const mem = this.#mem;
    if (mem === null) return new Uint32Array(PTRS_PER_PTE + 1);
    return new Uint32Array(machineBuffer(mem, CHUNK_BYTES));
  }

  /** Drops the chunk of `idx`, whose entries and count are all zero. */
  #drop(idx: number): void {
    const chunk = this.#chunks.get(idx);
    if (chunk !== undefined && this.#spare.length < MAX_SPARE) this.#spare.push(chunk);
    this.#chunks.delete(idx);
    if (this.#lastIdx === idx) {
      this.#lastIdx = -1;
      this.#last = undefined;
    }
  }

  /** Drops every entry. */
  clear(): void {
    const spare = this.#spare;
    for (const chunk of this.#chunks.values()) {
      if (spare.length >= MAX_SPARE) break;
      spare.push(chunk.fill(0));
    }
    this.#chunks.clear();
    this.#size = 0;
    this.#lastIdx = -1;
    this.#last = undefined;
  }

  /** The cached virtual pages. */
  *keys(): IterableIterator<number> {
    for (const [vpn] of this) yield vpn;
  }

  /** `[vpn, entry]` pairs. */
  *[Symbol.iterator](): IterableIterator<[number, number]> {
    for (const [idx, chunk] of this.#chunks) {
      const base = idx * PTRS_PER_PTE;
      for (let i = 0; i < PTRS_PER_PTE; i++) {
        const v = chunk[i]!;
        if (v !== 0) yield [base + i, v - 1];
      }
    }
  }

  /** Bytes of entry storage (for the memory figures of the bench). */
  get bytes(): number {
    return this.#chunks.size * (PTRS_PER_PTE + 1) * 4;
  }
}
