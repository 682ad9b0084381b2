import type { KernelGen } from '@mmsim/runtime';
import { PTRS_PER_PTE } from './constants.js';
import type { Mm } from './mm.js';
import { type PageTable, pmdIndexOfVpn } from './page-table.js';
import { ptePfn } from './pte.js';
import type { VmaPageRange } from './vma-address.js';

/** What a `pageVmaMappedWalk` looks for and does with each entry it finds. */
export interface PageVmaMappedVisitor {
  /** Whether an entry is of the kind sought (present, or a migration entry). */
  readonly matches: (entry: number) => boolean;
  /** With `page_table_lock` held, a PMD entry of the folio's head; false stops the walk. */
  readonly pmd: (pmdIndex: number) => boolean;
  /**
   * With `table.ptl` held, the PTE `entry` at `vpn` that maps page `ptePfn(entry)` of the
   * folio; false stops the walk (the walk then drops the lock).
   */
  readonly pte: (table: PageTable, vpn: number, entry: number) => boolean;
  /**
   * Optional: after `pte` returned true, the walk passes one scheduling point with
   * `table.ptl` still held, then calls this to finish the entry; false stops the walk.
   * The point is the window another CPU's lockless read (`ptep_get_lockless` in
   * `handle_pte_fault`) sees between two stores of the same critical section.
   */
  readonly afterPte?: (table: PageTable, vpn: number) => boolean;
}

/**
 * The `page_vma_mapped_walk` loop of `try_to_migrate_one` and `remove_migration_pte`
 * (mm/page_vma_mapped.c, 6.3): over `range` of `mm`, one PMD slot at a time. A PMD entry
 * that `matches` and names `pfn` is rechecked under `page_table_lock` and handed to
 * `pmd`; otherwise each page table is locked in turn and every PTE that `matches` and
 * maps one of the `nr` pages from `pfn` is handed to `pte`. Returns false when a visitor
 * stopped the walk, else true.
 */
export function* pageVmaMappedWalk(
  mm: Mm,
  range: VmaPageRange,
  pfn: number,
  nr: number,
  visit: PageVmaMappedVisitor,
): KernelGen<boolean> {
  let vpn = range.startVpn;
  while (vpn < range.endVpn) {
    const pmdIndex = pmdIndexOfVpn(vpn);
    const tableEnd = Math.min(range.endVpn, (pmdIndex + 1) * PTRS_PER_PTE);
    const pmdv = mm.pmds.get(pmdIndex);
    if (pmdv !== undefined) {
      if (visit.matches(pmdv) && ptePfn(pmdv) === pfn) {
        const ptl = mm.pageTableLock;
        if (!ptl.trylock()) yield* ptl.lockContended();
        const now = mm.pmds.get(pmdIndex);
        let ok = true;
        if (now !== undefined && visit.matches(now) && ptePfn(now) === pfn) {
          ok = visit.pmd(pmdIndex);
        }
        ptl.unlock();
        if (!ok) return false;
      }
      vpn = tableEnd;
      continue;
    }
    const table = mm.pageTables.get(pmdIndex);
    if (table === undefined) {
      vpn = tableEnd;
      continue;
    }
    const ptl = table.ptl;
    if (!ptl.trylock()) yield* ptl.lockContended();
    for (; vpn < tableEnd; vpn++) {
      const entry = table.get(vpn);
      if (!visit.matches(entry)) continue;
      const page = ptePfn(entry);
      if (page - pfn < 0 || page - pfn >= nr) continue;
      if (!visit.pte(table, vpn, entry)) {
        ptl.unlock();
        return false;
      }
      const after = visit.afterPte;
      if (after !== undefined) {
        yield;
        if (!after(table, vpn)) {
          ptl.unlock();
          return false;
        }
      }
    }
    ptl.unlock();
  }
  return true;
}

/**
 * For the uncontended fast paths of `try_to_migrate_one` and `remove_migration_pte`: what
 * a `pageVmaMappedWalk` over `range` would do, when `range` lies within one PMD slot and
 * the walk cannot have to wait. Returns the one page table whose PTEs the walk would
 * visit (its lock is free, so the walk's trylock succeeds); `null` when the walk would
 * lock nothing and find nothing (no page table, or a PMD entry that is not the folio's);
 * `undefined` when the walk must be run as it is: `range` spans several page tables, the
 * folio is PMD-mapped there, or the lock it would take is held. Changes nothing.
 */
export function uncontendedPteTable(
  mm: Mm,
  range: VmaPageRange,
  pfn: number,
  matches: (entry: number) => boolean,
): PageTable | null | undefined {
  if (range.startVpn >= range.endVpn) return null;
  const pmdIndex = pmdIndexOfVpn(range.startVpn);
  if (pmdIndexOfVpn(range.endVpn - 1) !== pmdIndex) return undefined;
  const pmds = mm.pmds;
  const pmdv = pmds.size === 0 ? undefined : pmds.get(pmdIndex);
  if (pmdv !== undefined) return matches(pmdv) && ptePfn(pmdv) === pfn ? undefined : null;
  const table = mm.pageTables.lookup(pmdIndex);
  if (table === undefined) return null;
  return table.ptl.owner === null ? table : undefined;
}
