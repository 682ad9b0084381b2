/**
 * Page flag bit numbers, in the order of `enum pageflags` in include/linux/page-flags.h of
 * Linux 6.3 (checked against that header and include/trace/events/mmflags.h).
 *
 * Several entries of the enum depend on the configuration. The model is an x86-64 kernel
 * with CONFIG_MMU (PG_mlocked), CONFIG_X86_PAT (selects ARCH_USES_PG_UNCACHED, so
 * PG_uncached exists), CONFIG_MEMORY_FAILURE (PG_hwpoison) and CONFIG_PAGE_IDLE_FLAG on
 * 64-bit (PG_young, PG_idle). x86 does not select ARCH_USES_PG_ARCH_X, so there is no
 * PG_arch_2 / PG_arch_3, and KASAN_HW_TAGS (PG_skip_kasan_poison) is arm64 only. With these
 * choices NR_PAGEFLAGS is 26, and the bit numbers below are the ones that kernel uses.
 */
export const PG_locked = 0;
export const PG_referenced = 1;
export const PG_uptodate = 2;
export const PG_dirty = 3;
export const PG_lru = 4;
export const PG_active = 5;
export const PG_workingset = 6;
/** Bit 7 so that unlock can clear PG_locked and test PG_waiters in one byte operation. */
export const PG_waiters = 7;
export const PG_error = 8;
export const PG_slab = 9;
export const PG_owner_priv_1 = 10;
export const PG_arch_1 = 11;
export const PG_reserved = 12;
export const PG_private = 13;
export const PG_private_2 = 14;
export const PG_writeback = 15;
export const PG_head = 16;
export const PG_mappedtodisk = 17;
export const PG_reclaim = 18;
export const PG_swapbacked = 19;
export const PG_unevictable = 20;
export const PG_mlocked = 21;
export const PG_uncached = 22;
export const PG_hwpoison = 23;
export const PG_young = 24;
export const PG_idle = 25;
/** `__NR_PAGEFLAGS` for the modelled configuration. */
export const NR_PAGEFLAGS = 26;

/* Aliases: one bit, several meanings, told apart by the kind of folio (as in 6.3). */

/** Readahead marker on page-cache folios being read; PG_reclaim on folios being written. */
export const PG_readahead = PG_reclaim;
/** Per-page on anonymous memory (mapped exclusively by one process); PG_mappedtodisk on files. */
export const PG_anon_exclusive = PG_mappedtodisk;
/** Used by some filesystems. */
export const PG_checked = PG_owner_priv_1;
/** Swap-cache folio (swp_entry_t in private). Only meaningful together with PG_swapbacked. */
export const PG_swapcache = PG_owner_priv_1;
/** FS-Cache marks pages of locally cached netfs inodes. */
export const PG_fscache = PG_private_2;
/** On the second page of a THP: some subpage is hwpoisoned. */
export const PG_has_hwpoisoned = PG_error;
/** A non-LRU movable page isolated for migration (only valid while PG_lru is clear). */
export const PG_isolated = PG_reclaim;
/** Free-page reporting, buddy pages only. */
export const PG_reported = PG_uptodate;

/** Bit mask of one flag. */
export function pageFlagMask(flag: number): number {
  return (1 << flag) >>> 0;
}

/**
 * Flags that must be clear when a page is freed: `PAGE_FLAGS_CHECK_AT_FREE` (6.3, without
 * the LRU_GEN bits the model does not have). Freeing a folio with one of them set is a
 * "bad page state".
 */
export const PAGE_FLAGS_CHECK_AT_FREE =
  (1 << PG_lru) |
  (1 << PG_locked) |
  (1 << PG_private) |
  (1 << PG_private_2) |
  (1 << PG_writeback) |
  (1 << PG_reserved) |
  (1 << PG_slab) |
  (1 << PG_active) |
  (1 << PG_unevictable) |
  (1 << PG_mlocked);

/** Every defined page-flag bit (`PAGEFLAGS_MASK`). */
export const PAGEFLAGS_MASK = (1 << NR_PAGEFLAGS) - 1;

/**
 * Names in the order of `__def_pageflag_names` (include/trace/events/mmflags.h, 6.3), which
 * is the order `%pGp` and the page-flag tracepoints print them in. It is the enum order
 * except that `waiters` comes second and `young` / `idle` keep the enum order.
 */
const FLAG_NAMES: ReadonlyArray<readonly [number, string]> = [
  [PG_locked, 'locked'],
  [PG_waiters, 'waiters'],
  [PG_error, 'error'],
  [PG_referenced, 'referenced'],
  [PG_uptodate, 'uptodate'],
  [PG_dirty, 'dirty'],
  [PG_lru, 'lru'],
  [PG_active, 'active'],
  [PG_workingset, 'workingset'],
  [PG_slab, 'slab'],
  [PG_owner_priv_1, 'owner_priv_1'],
  [PG_arch_1, 'arch_1'],
  [PG_reserved, 'reserved'],
  [PG_private, 'private'],
  [PG_private_2, 'private_2'],
  [PG_writeback, 'writeback'],
  [PG_head, 'head'],
  [PG_mappedtodisk, 'mappedtodisk'],
  [PG_reclaim, 'reclaim'],
  [PG_swapbacked, 'swapbacked'],
  [PG_unevictable, 'unevictable'],
  [PG_mlocked, 'mlocked'],
  [PG_uncached, 'uncached'],
  [PG_hwpoison, 'hwpoison'],
  [PG_young, 'young'],
  [PG_idle, 'idle'],
];

/** Kernel name of a flag bit (`'locked'` for PG_locked); aliases print as their base bit. */
export function pageFlagName(flag: number): string {
  for (const [bit, name] of FLAG_NAMES) if (bit === flag) return name;
  return `bit${String(flag)}`;
}

/**
 * Formats a flags word as the kernel's `%pGp` names part does: the names of the set bits in
 * `__def_pageflag_names` order, joined by `|` (`'locked|uptodate|lru'`). Bits outside the
 * table print as a trailing hex number; an empty word prints as `''`.
 */
export function formatFlags(flags: number): string {
  const parts: string[] = [];
  let rest = flags >>> 0;
  for (const [bit, name] of FLAG_NAMES) {
    const mask = (1 << bit) >>> 0;
    if ((rest & mask) !== 0) {
      parts.push(name);
      rest = (rest & ~mask) >>> 0;
    }
  }
  if (rest !== 0) parts.push(`0x${rest.toString(16)}`);
  return parts.join('|');
}
