/**
 * Page-table entries encoded in one unsigned 32-bit number: `pfn << 7 | flags`. A pfn is
 * below 2^25 (`MAX_TOTAL_PFNS` of @mmsim/folio), so every entry fits in a `Uint32Array`
 * slot and no entry is an object. The same encoding serves PTEs and PMD entries.
 *
 * - 0 is `pte_none`.
 * - A present entry (bit 0 set) has `_PAGE_RW`, `_PAGE_DIRTY`, `_PAGE_ACCESSED` (young),
 *   `_PAGE_SOFT_DIRTY` and `_PAGE_UFFD_WP` bits, as x86-64 does.
 * - A non-present, non-none entry is a swap-format entry (bit 1 set). The model only has
 *   migration entries (include/linux/swapops.h, 6.3): the type is SWP_MIGRATION_READ,
 *   SWP_MIGRATION_READ_EXCLUSIVE or SWP_MIGRATION_WRITE; the young and dirty bits live in
 *   the entry (`make_migration_entry_young/dirty`, the x86 `SWP_MIG_*_BIT`s) and soft-dirty
 *   in the swap PTE (`pte_swp_mksoft_dirty`). The swap PTE's uffd-wp bit
 *   (`_PAGE_SWP_UFFD_WP`) is bit 1 inverted: every flag bit of a swap entry is taken, and
 *   bit 1 (`SWP_ENTRY`) is redundant with a non-zero type, so an entry that carries uffd-wp
 *   has it clear and every other entry keeps its old value.
 */

export const PTE_NONE = 0;

/** `_PAGE_PRESENT`. */
export const PTE_PRESENT = 0x01;
/** `_PAGE_RW`. */
export const PTE_WRITE = 0x02;
/** `_PAGE_DIRTY`. */
export const PTE_DIRTY = 0x04;
/** `_PAGE_ACCESSED`. */
export const PTE_YOUNG = 0x08;
/** `_PAGE_SOFT_DIRTY`. */
export const PTE_SOFT_DIRTY = 0x10;
/**
 * `_PAGE_UFFD_WP` (x86 `_PAGE_SOFTW2`): userfaultfd write-protected. Such an entry is
 * read-only; a write faults to the monitor (`handle_userfault`, not modelled).
 */
export const PTE_UFFD_WP = 0x20;
/**
 * `_PAGE_PROTNONE` (x86 reuses `_PAGE_GLOBAL` for it): a PROT_NONE entry, which the kernel
 * counts as present (`pte_present`) but the CPU does not (the hardware present bit is
 * clear), so every access faults. The model keeps `PTE_PRESENT` set on such an entry (it
 * stands for `pte_present`) and lets this bit say the hardware may not use it. Only in
 * present entries: in a migration entry the same bit is SWP_MIG_DIRTY.
 */
export const PTE_PROTNONE = 0x40;

/**
 * Set in every swap-format (non-present) entry that does not carry uffd-wp; clear in one
 * that does (see the header).
 */
export const SWP_ENTRY = 0x02;
/** Mask of the migration type field. */
export const SWP_TYPE_MASK = 0x0c;
/** `SWP_MIGRATION_READ`: the page was mapped read-only and may be shared. */
export const SWP_MIGRATION_READ = 0x04;
/** `SWP_MIGRATION_READ_EXCLUSIVE`: read-only, but PageAnonExclusive. */
export const SWP_MIGRATION_READ_EXCLUSIVE = 0x08;
/** `SWP_MIGRATION_WRITE`: the PTE was writable. */
export const SWP_MIGRATION_WRITE = 0x0c;
/** `_PAGE_SWP_SOFT_DIRTY`. */
export const SWP_SOFT_DIRTY = 0x10;
/** `SWP_MIG_YOUNG_BIT`. */
export const SWP_MIG_YOUNG = 0x20;
/** `SWP_MIG_DIRTY_BIT`. */
export const SWP_MIG_DIRTY = 0x40;

const FLAG_BITS = 7;
const FLAG_MASK = (1 << FLAG_BITS) - 1;

/** `pfn_pte(pfn, prot)`: a present entry. */
export function mkPte(pfn: number, flags: number): number {
  return ((pfn << FLAG_BITS) | (flags & FLAG_MASK) | PTE_PRESENT) >>> 0;
}

/** `pte_pfn` / `swp_offset_pfn`: the pfn of a present or migration entry. */
export function ptePfn(pte: number): number {
  return pte >>> FLAG_BITS;
}

/** The flag bits of an entry. */
export function pteFlags(pte: number): number {
  return pte & FLAG_MASK;
}

/** `pte_present`. */
export function ptePresent(pte: number): boolean {
  return (pte & PTE_PRESENT) !== 0;
}

/** `is_swap_pte`: not none and not present. */
export function isSwapPte(pte: number): boolean {
  return pte !== PTE_NONE && (pte & PTE_PRESENT) === 0;
}

/** `is_migration_entry(pte_to_swp_entry(pte))` (the model has no other swap entries). */
export function isMigrationEntry(pte: number): boolean {
  return (pte & PTE_PRESENT) === 0 && (pte & SWP_TYPE_MASK) !== 0;
}

/**
 * `pte_protnone` (x86, 6.3): a PROT_NONE entry, as `change_prot_numa` leaves it for NUMA
 * hinting faults.
 */
export function pteProtnone(pte: number): boolean {
  return (pte & (PTE_PRESENT | PTE_PROTNONE)) === (PTE_PRESENT | PTE_PROTNONE);
}

/** The CPU may translate through the entry: present and not PROT_NONE. */
export function pteHwPresent(pte: number): boolean {
  return (pte & (PTE_PRESENT | PTE_PROTNONE)) === PTE_PRESENT;
}

/**
 * `pte_modify(pte, PAGE_NONE)` (x86, 6.3) as `change_pte_range` uses it under
 * MM_CP_PROT_NUMA: the entry becomes PROT_NONE and loses `_PAGE_RW`; the pfn and the
 * accessed, dirty and soft-dirty bits are kept (`_PAGE_CHG_MASK`).
 */
export function pteMkProtnone(pte: number): number {
  return ((pte & ~PTE_WRITE) | PTE_PROTNONE) >>> 0;
}

/**
 * `pte_modify(pte, vma->vm_page_prot)` of `do_numa_page` (mm/memory.c, 6.3), read-only: the
 * entry is usable by the CPU again, without `_PAGE_RW` (`doNumaPage` sets it back where
 * `can_change_pte_writable` allows).
 */
export function pteClearProtnone(pte: number): number {
  return (pte & ~(PTE_PROTNONE | PTE_WRITE)) >>> 0;
}

/** `pte_write`. */
export function pteWrite(pte: number): boolean {
  return (pte & (PTE_PRESENT | PTE_WRITE)) === (PTE_PRESENT | PTE_WRITE);
}

/** `pte_dirty`. */
export function pteDirty(pte: number): boolean {
  return (pte & (PTE_PRESENT | PTE_DIRTY)) === (PTE_PRESENT | PTE_DIRTY);
}

/** `pte_young`. */
export function pteYoung(pte: number): boolean {
  return (pte & (PTE_PRESENT | PTE_YOUNG)) === (PTE_PRESENT | PTE_YOUNG);
}

/** `pte_soft_dirty`. */
export function pteSoftDirty(pte: number): boolean {
  return (pte & (PTE_PRESENT | PTE_SOFT_DIRTY)) === (PTE_PRESENT | PTE_SOFT_DIRTY);
}

/**
 * `pte_mkdirty` / `pmd_mkdirty` (arch/x86/include/asm/pgtable.h, 6.3): software marks an
 * entry dirty with both `_PAGE_DIRTY` and `_PAGE_SOFT_DIRTY`. (The CPU's own dirtying of a
 * writable entry sets `_PAGE_DIRTY` only; see user-access.ts.)
 */
export function pteMkdirty(pte: number): number {
  return (pte | PTE_DIRTY | PTE_SOFT_DIRTY) >>> 0;
}

/** `pte_clear_soft_dirty` / `pmd_clear_soft_dirty` (x86, 6.3). */
export function pteClearSoftDirty(pte: number): number {
  return (pte & ~PTE_SOFT_DIRTY) >>> 0;
}

/** `pte_swp_clear_soft_dirty` / `pmd_swp_clear_soft_dirty` (x86, 6.3). */
export function pteSwpClearSoftDirty(pte: number): number {
  return (pte & ~SWP_SOFT_DIRTY) >>> 0;
}

/** `pte_wrprotect`. */
export function pteWrprotect(pte: number): number {
  return (pte & ~PTE_WRITE) >>> 0;
}

/** `pte_mkold`. */
export function pteMkold(pte: number): number {
  return (pte & ~PTE_YOUNG) >>> 0;
}

/** `pte_mkclean`. */
export function pteMkclean(pte: number): number {
  return (pte & ~PTE_DIRTY) >>> 0;
}

/**
 * `make_{writable,readable_exclusive,readable}_migration_entry(pfn)` with
 * `make_migration_entry_young/dirty` and `pte_swp_mksoft_dirty`.
 */
export function mkMigrationEntry(
  pfn: number,
  type: number,
  young: boolean,
  dirty: boolean,
  softDirty: boolean,
): number {
  let flags = SWP_ENTRY | type;
  if (young) flags |= SWP_MIG_YOUNG;
  if (dirty) flags |= SWP_MIG_DIRTY;
  if (softDirty) flags |= SWP_SOFT_DIRTY;
  return ((pfn << FLAG_BITS) | flags) >>> 0;
}

/** The SWP_MIGRATION_* type of a migration entry. */
export function migrationEntryType(pte: number): number {
  return pte & SWP_TYPE_MASK;
}

/** `is_writable_migration_entry`. */
export function isWritableMigrationEntry(pte: number): boolean {
  return isMigrationEntry(pte) && (pte & SWP_TYPE_MASK) === SWP_MIGRATION_WRITE;
}

/** `is_readable_migration_entry` (plain readable: neither writable nor exclusive). */
export function isReadableMigrationEntry(pte: number): boolean {
  return isMigrationEntry(pte) && (pte & SWP_TYPE_MASK) === SWP_MIGRATION_READ;
}

/** `is_readable_exclusive_migration_entry`. */
export function isReadableExclusiveMigrationEntry(pte: number): boolean {
  return isMigrationEntry(pte) && (pte & SWP_TYPE_MASK) === SWP_MIGRATION_READ_EXCLUSIVE;
}

/** `is_migration_entry_young`. */
export function isMigrationEntryYoung(pte: number): boolean {
  return (pte & SWP_MIG_YOUNG) !== 0;
}

/** `is_migration_entry_dirty`. */
export function isMigrationEntryDirty(pte: number): boolean {
  return (pte & SWP_MIG_DIRTY) !== 0;
}

/** `pte_swp_soft_dirty`. */
export function pteSwpSoftDirty(pte: number): boolean {
  return (pte & SWP_SOFT_DIRTY) !== 0;
}

/** `pte_uffd_wp` (x86, 6.3). */
export function pteUffdWp(pte: number): boolean {
  return (pte & (PTE_PRESENT | PTE_UFFD_WP)) === (PTE_PRESENT | PTE_UFFD_WP);
}

/**
 * `pte_mkuffd_wp` (x86): write-protect and mark. Write-protecting here came with Peter Xu's
 * "mm/uffd: always wr-protect pte in pte|pmd_mkuffd_wp()" (6.2-rc1,
 * 20221208194628.766316-1-peterx@redhat.com); 6.1's only set the bit (see
 * `pteFromMigrationEntry`).
 */
export function pteMkuffdWp(pte: number): number {
  return ((pte & ~PTE_WRITE) | PTE_UFFD_WP) >>> 0;
}

/** `pte_clear_uffd_wp` (x86, 6.3). */
export function pteClearUffdWp(pte: number): number {
  return (pte & ~PTE_UFFD_WP) >>> 0;
}

/** `pte_swp_uffd_wp` of a swap-format entry (x86 `_PAGE_SWP_UFFD_WP`). */
export function pteSwpUffdWp(pte: number): boolean {
  return isSwapPte(pte) && (pte & SWP_ENTRY) === 0;
}

/** `pte_swp_mkuffd_wp`. */
export function pteSwpMkuffdWp(pte: number): number {
  return (pte & ~SWP_ENTRY) >>> 0;
}

/** `pte_swp_clear_uffd_wp`. */
export function pteSwpClearUffdWp(pte: number): number {
  return (pte | SWP_ENTRY) >>> 0;
}

/**
 * `make_readable_migration_entry(swp_offset(entry))` as fork's copy_nonpresent_pte uses it:
 * the same entry with its type lowered to SWP_MIGRATION_READ, young, dirty and soft-dirty
 * kept.
 */
export function migrationEntryMkReadable(pte: number): number {
  return ((pte & ~SWP_TYPE_MASK) | SWP_MIGRATION_READ) >>> 0;
}

/** A readable description, for messages and views: `present pfn 0x12 write dirty young`. */
export function formatPte(pte: number): string {
  if (pte === PTE_NONE) return 'none';
  const pfn = `pfn 0x${ptePfn(pte).toString(16)}`;
  const parts: string[] = [];
  if (ptePresent(pte)) {
    parts.push('present', pfn);
    if (pte & PTE_WRITE) parts.push('write');
    if (pte & PTE_DIRTY) parts.push('dirty');
    if (pte & PTE_YOUNG) parts.push('young');
    if (pte & PTE_SOFT_DIRTY) parts.push('soft-dirty');
    if (pte & PTE_UFFD_WP) parts.push('uffd-wp');
    if (pte & PTE_PROTNONE) parts.push('protnone');
    return parts.join(' ');
  }
  const type = pte & SWP_TYPE_MASK;
  const name =
    type === SWP_MIGRATION_WRITE
      ? 'writable'
      : type === SWP_MIGRATION_READ_EXCLUSIVE
        ? 'readable-exclusive'
        : type === SWP_MIGRATION_READ
          ? 'readable'
          : `swap type ${type >> 2}`;
  parts.push(`migration ${name}`, pfn);
  if (pte & SWP_MIG_YOUNG) parts.push('young');
  if (pte & SWP_MIG_DIRTY) parts.push('dirty');
  if (pte & SWP_SOFT_DIRTY) parts.push('soft-dirty');
  if ((pte & SWP_ENTRY) === 0) parts.push('uffd-wp');
  return parts.join(' ');
}
