import {
  type Folio,
  folioTestAnon,
  folioTestFlag,
  PG_swapbacked,
  type PhysicalMemory,
} from '@mmsim/folio';
import { MM_ANONPAGES, MM_FILEPAGES, MM_SHMEMPAGES } from './constants.js';
import type { PageTable } from './page-table.js';
import type { Vma } from './vma.js';

/** `struct vm_fault` (include/linux/mm.h, 6.3): what a PTE-level fault handler works on. */
export interface VmFault {
  readonly vma: Vma;
  /** The faulting address. */
  readonly address: number;
  /** Its virtual page number. */
  readonly vpn: number;
  /** FAULT_FLAG_*. */
  readonly flags: number;
  /** The page table of the address (allocated by the caller). */
  readonly table: PageTable;
  /** `orig_pte`: the PTE as read before taking the page-table lock. */
  readonly orig: number;
  /**
   * `pmd_none(*vmf->pmd)` when the fault began: no page table covered the address yet (the
   * model allocates `table` at once; `do_set_pmd` may still map a PMD there while the
   * table it made is empty). Absent means false.
   */
  readonly pmdNone?: boolean;
}

/** `mm_counter_file(page)`: MM_SHMEMPAGES for swap-backed (shmem) folios, else MM_FILEPAGES. */
export function mmCounterFile(mem: PhysicalMemory, folio: Folio): number {
  return folioTestFlag(mem, folio, PG_swapbacked) ? MM_SHMEMPAGES : MM_FILEPAGES;
}

/** `mm_counter(page)`: MM_ANONPAGES for anonymous folios, else `mm_counter_file`. */
export function mmCounter(mem: PhysicalMemory, folio: Folio): number {
  return folioTestAnon(mem, folio) ? MM_ANONPAGES : mmCounterFile(mem, folio);
}
