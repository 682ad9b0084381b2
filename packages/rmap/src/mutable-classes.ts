import type { AddressSpace } from './address-space.js';
import type { AnonVma } from './anon-vma.js';
import type { Mm } from './mm.js';
import type { PageTable } from './page-table.js';
import type {
  AddressSpaceView,
  AnonVmaView,
  MmView,
  PageTableView,
  VmaView,
} from './readonly-views.js';
import type { Vma } from './vma.js';

/**
 * The class behind a read-only view, for prototypes and tests that change rmap's state
 * directly (set a VMA's flags as exec would, look into a CPU's TLB of an mm). Exported
 * from `./internal` only: the cast is the visible mark of code that writes rmap state.
 * The objects rmap hands out are always these classes, so the cast holds.
 */

export function mutableMm(mm: MmView): Mm {
  return mm as Mm;
}

export function mutableVma(vma: VmaView): Vma {
  return vma as Vma;
}

export function mutableAddressSpace(file: AddressSpaceView): AddressSpace {
  return file as AddressSpace;
}

export function mutablePageTable(table: PageTableView): PageTable {
  return table as PageTable;
}

export function mutableAnonVma(anonVma: AnonVmaView): AnonVma {
  return anonVma as AnonVma;
}
