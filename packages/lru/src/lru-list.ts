import {
  type Folio,
  folioFlags,
  PG_active,
  PG_swapbacked,
  PG_unevictable,
  type PhysicalMemory,
} from '@mmsim/folio';
import { MmsimError } from '@mmsim/runtime';

/**
 * The LRU lists of a lruvec: `enum lru_list` of include/linux/mmzone.h (Linux 6.3), same
 * names, same order. The list of an evictable folio is its base (anon or file) plus
 * LRU_ACTIVE when it is active.
 */
export const LRU_INACTIVE_ANON = 0;
export const LRU_ACTIVE_ANON = 1;
export const LRU_INACTIVE_FILE = 2;
export const LRU_ACTIVE_FILE = 3;
export const LRU_UNEVICTABLE = 4;
/** `NR_LRU_LISTS`. */
export const NR_LRU_LISTS = 5;

/** `LRU_BASE`: the first list. */
export const LRU_BASE = 0;
/** `LRU_ACTIVE`: added to an inactive list to get the active one. */
export const LRU_ACTIVE = 1;
/** `LRU_FILE`: added to an anon list to get the file one. */
export const LRU_FILE = 2;

/** The kernel names of the lists, by index (as `lru_list_name` would print them). */
export const LRU_LIST_NAMES: readonly string[] = Object.freeze([
  'inactive_anon',
  'active_anon',
  'inactive_file',
  'active_file',
  'unevictable',
]);

const UNEVICTABLE_BIT = 1 << PG_unevictable;
const SWAPBACKED_BIT = 1 << PG_swapbacked;
const ACTIVE_BIT = 1 << PG_active;

/**
 * `folio_lru_list` (include/linux/mm_inline.h, 6.3) on a flags word: LRU_UNEVICTABLE when
 * PG_unevictable is set; otherwise the file lists when PG_swapbacked is clear
 * (`folio_is_file_lru`), the anon lists when it is set (anon and shmem), plus LRU_ACTIVE
 * when PG_active is set.
 */
export function lruListOfFlags(flags: number): number {
  if ((flags & UNEVICTABLE_BIT) !== 0) return LRU_UNEVICTABLE;
  const base = (flags & SWAPBACKED_BIT) !== 0 ? LRU_INACTIVE_ANON : LRU_INACTIVE_FILE;
  return (flags & ACTIVE_BIT) !== 0 ? base + LRU_ACTIVE : base;
}

/**
 * `folio_lru_list` (include/linux/mm_inline.h, Linux 6.3): the list `folio` belongs on
 * according to its flags (PG_unevictable, PG_swapbacked, PG_active). It says nothing about
 * whether the folio is on a list now.
 */
export function folioLruList(mem: PhysicalMemory, folio: Folio): number {
  return lruListOfFlags(folioFlags(mem, folio));
}

/**
 * `folio_is_file_lru` (include/linux/mm_inline.h, Linux 6.3): 1 when PG_swapbacked is
 * clear (ordinary page cache), 0 when it is set (anon, shmem, anon in the swap cache).
 * The kernel returns an int so that it can be added to NR_ISOLATED_ANON or LRU_BASE; so
 * does the model.
 */
export function folioIsFileLru(mem: PhysicalMemory, folio: Folio): 0 | 1 {
  return (folioFlags(mem, folio) & SWAPBACKED_BIT) !== 0 ? 0 : 1;
}

/** The kernel name of LRU list `lru` (`'active_file'`); throws INVALID_ARGUMENT for a bad index. */
export function lruListName(lru: number): string {
  const name = LRU_LIST_NAMES[lru];
  if (name === undefined || !Number.isInteger(lru)) {
    throw badLru(lru);
  }
  return name;
}

/** The INVALID_ARGUMENT error for an LRU list index out of range. */
export function badLru(lru: number): MmsimError {
  return new MmsimError(
    'INVALID_ARGUMENT',
    `lru must be an LRU list index in [0, ${NR_LRU_LISTS - 1}] (LRU_INACTIVE_ANON .. LRU_UNEVICTABLE), got ${String(lru)}`,
  );
}
