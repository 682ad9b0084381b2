import { machineBuffer, type PhysicalMemory } from '@mmsim/folio';
import { type Runtime, RwSemaphore, Spinlock } from '@mmsim/runtime';
import { NR_MM_COUNTERS } from './constants.js';
import type { CpuTlb } from './cpu-tlb.js';
import { PAGE_TABLE_BYTES, PageTable, PageTableMap } from './page-table.js';
import type { MmView } from './readonly-views.js';
import type { Vma } from './vma.js';
/**
 * An address space (`struct mm_struct`, include/linux/mm_types.h, 6.3): the VMAs, the page
 * tables, `mmap_lock`, `page_table_lock`, `mm_cpumask`, the batched-flush generations
 * `tlb_flush_batched`, and the rss counters. One per process.
 *
 * Page tables: a `PageTable` (512 encoded PTEs and their split lock) per 2 MiB range,
 * created on first use, keyed by PMD index; PMD-level entries (a PMD-mapped THP, or its
 * migration entry) sit in `pmds`, keyed the same way. A key is in at most one of the two.
 * PMD entries are protected by `page_table_lock` (the model does not split PMD locks).
 *
 * TLBs: each CPU's cached translations of this mm live here, `tlb[cpu]` mapping a virtual
 * page number to `pfn << 2 | write << 1 | dirty`, so that flushing one mm on one CPU is
 * one operation. See `tlb.ts`.
 */
export class Mm implements MmView {
  readonly id: number;
  readonly name: string;
  /** The VMAs, sorted by start, never overlapping. */
  readonly vmas: Vma[] = [];
  /** Last-level page tables by PMD index. */
  readonly pageTables = new PageTableMap();
  /** PMD-level (huge) entries by PMD index: present THP mappings and PMD migration entries. */
  readonly pmds = new Map<number, number>();
  /** `mmap_lock`. */
  readonly mmapLock: RwSemaphore;
  /** `page_table_lock`: guards PMD entries and anon_vma_prepare's publication. */
  readonly pageTableLock: Spinlock;
  /**
   * `mm_cpumask`, as x86 keeps it (`switch_mm_irqs_off`, arch/x86/mm/tlb.c, 6.3): 1 for
   * each CPU that has this mm loaded, running a task of it or lazily under a kernel thread
   * that ran after one; a CPU leaves it when it switches to another mm.
   */
  readonly cpumask: Uint8Array;
  /** CPUs set in `cpumask`. */
  cpusInMask = 0;
  /** `context.tlb_gen`: bumped by every flush request of this mm (`inc_mm_tlb_gen`). */
  tlbGen = 0;
  /**
   * Per CPU, `tlb_gen` when the CPU last switched away from this mm: a CPU that comes
   * back to a newer generation flushes its entries of the mm (the `ctxs[asid].tlb_gen`
   * check of `switch_mm_irqs_off`).
   */
  readonly cpuTlbGen: Float64Array;
  /**
   * Per CPU, 1 when a flush of this mm skipped the CPU (it was lazy), so that its entries
   * of the mm may be stale: it flushes them when it next loads the mm for a task.
   */
  readonly tlbStale: Uint8Array;
  /** `tlb_flush_batched`: pending generation in bits 0-14, flushed in bits 16-30. */
  tlbFlushBatched = 0;
  /**
   * `tlb_flush_pending` (include/linux/mm_types.h, 6.3): the number of page-table changes
   * under way whose TLB flush has not been done yet (`inc_tlb_flush_pending` in
   * `tlb_gather_mmu`, `dec_tlb_flush_pending` in `tlb_finish_mmu`, after the flush). While
   * it is non-zero, a PROT_NONE entry may still be cached by some CPU as it was before,
   * and `pte_accessible` says so.
   */
  tlbFlushPending = 0;
  /** Per CPU: cached translations (virtual page -> `pfn << 2 | write << 1 | dirty`). */
  readonly tlb: Array<CpuTlb | undefined>;
  /** `rss_stat`: MM_FILEPAGES, MM_ANONPAGES, MM_SWAPENTS, MM_SHMEMPAGES. */
  readonly rss = new Float64Array(NR_MM_COUNTERS);
  /** FOLL_PIN pins taken through this mm and not yet released, by pfn. */
  readonly pins = new Map<number, number>();
  /** `MMF_HAS_PINNED`: this mm has pinned a page at some point (fork then checks pins). */
  hasPinned = false;
  /** False once exit_mmap has run. */
  alive = true;
  /** Where the next mapping without an address goes. */
  mmapBase: number;
  readonly #rt: Runtime;
  /** Where the page tables' slots come from (`machineBuffer`), or null: arrays of their own. */
  readonly #mem: PhysicalMemory | null;

  constructor(
    rt: Runtime,
    id: number,
    name: string,
    mmapBase: number,
    mem: PhysicalMemory | null = null,
  ) {
    this.#rt = rt;
    this.#mem = mem;
    this.id = id;
    this.name = name;
    this.mmapLock = new RwSemaphore(rt, `mmap_lock ${name}`);
    this.pageTableLock = new Spinlock(rt, `page_table_lock ${name}`);
    this.cpumask = new Uint8Array(rt.cpus.length);
    this.cpuTlbGen = new Float64Array(rt.cpus.length);
    this.tlbStale = new Uint8Array(rt.cpus.length);
    // Filled with undefined so the array starts in the elements kind a CpuTlb store leaves
    // it in: optimised code from an earlier machine then accepts this mm's array too.
    this.tlb = new Array<CpuTlb | undefined>(rt.cpus.length).fill(undefined);
    this.mmapBase = mmapBase;
  }

  /** The page table of a PMD index, created if absent (`pte_alloc`). */
  pageTable(pmdIndex: number): PageTable {
    let table = this.pageTables.get(pmdIndex);
    if (table === undefined) {
      const mem = this.#mem;
      table =
        mem === null
          ? new PageTable(this.#rt, this.name, pmdIndex)
          : new PageTable(
              this.#rt,
              this.name,
              pmdIndex,
              new Uint32Array(machineBuffer(mem, PAGE_TABLE_BYTES)),
            );
      this.pageTables.set(pmdIndex, table);
    }
    return table;
  }

  /** `cpumask_set_cpu(cpu, mm_cpumask(mm))`, as `switch_mm_irqs_off` does. */
  markCpu(cpu: number): void {
    if (this.cpumask[cpu] === 0) {
      this.cpumask[cpu] = 1;
      this.cpusInMask++;
    }
  }

  /** `cpumask_clear_cpu(cpu, mm_cpumask(mm))`, as `switch_mm_irqs_off` does for the previous mm. */
  clearCpu(cpu: number): void {
    if (this.cpumask[cpu] !== 0) {
      this.cpumask[cpu] = 0;
      this.cpusInMask--;
    }
  }

  /** `cpumask_any_but(mm_cpumask(mm), cpu) < nr_cpu_ids`: some other CPU is in the mask. */
  otherCpusInMask(cpu: number): boolean {
    return this.cpusInMask - (this.cpumask[cpu] ?? 0) > 0;
  }

  /**
   * `find_vma`: the first VMA that ends above `addr` (it may start above it too), or null.
   * Binary search over the sorted VMAs.
   */
  findVma(addr: number): Vma | null {
    const vmas = this.vmas;
    let lo = 0;
    let hi = vmas.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (vmas[mid]!.end <= addr) lo = mid + 1;
      else hi = mid;
    }
    return vmas[lo] ?? null;
  }

  /** `vma_lookup`: the VMA containing `addr`, or null. */
  vmaLookup(addr: number): Vma | null {
    const vma = this.findVma(addr);
    return vma !== null && vma.start <= addr ? vma : null;
  }

  /** Inserts a VMA keeping the array sorted (`vma_link`). Overlaps are checked by callers. */
  insertVma(vma: Vma): void {
    const vmas = this.vmas;
    let i = vmas.length;
    while (i > 0 && vmas[i - 1]!.start > vma.start) i--;
    vmas.splice(i, 0, vma);
  }

  /** Removes a VMA from the array. */
  removeVma(vma: Vma): void {
    const i = this.vmas.indexOf(vma);
    if (i >= 0) this.vmas.splice(i, 1);
  }

  toString(): string {
    return this.name;
  }
}
