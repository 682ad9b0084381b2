import {
  type Folio,
  folioGetPrivate,
  folioRawMapping,
  folioSetMapping,
  folioSetPrivate,
  frameArrayU8,
  memmapReader,
  readerIsFolio,
  readerMapping,
} from '@mmsim/folio';
import type { AnonVmaView } from '@mmsim/rmap';
import type { MigrateEnv } from './migrate-env.js';

/**
 * The state `migrate_folio_unmap` hands to `migrate_folio_move` through the still unused
 * destination folio (mm/migrate.c, 6.3 to 6.7): `__migrate_folio_record` stores the
 * anon_vma in `dst->mapping` (through a union, with no PAGE_MAPPING_ANON tag) and
 * `page_was_mapped` in `dst->private`; `__migrate_folio_extract` reads both back and
 * clears them. Keeping it in dst costs no allocation per folio.
 *
 * Because the anon_vma sits untagged in `dst->mapping`, a pfn walker looking at dst in
 * that window (memory offline's dump_page) took it for a file mapping and crashed; the
 * fix of December 2023 moved it into `dst->private` with the state bits (see
 * docs/model-vs-kernel.md#dst-state). Variants before 6.7 keep the 6.3 layout:
 * `folioMapping(mem, dst)` returns the anon_vma during the window, as `folio_mapping()`
 * would; `v6.10` and `v6.11` (`dstStateInPrivate`) use the later one.
 */

/**
 * The `old_page_state` bits (mm/migrate.c, 6.7+): `PAGE_WAS_MAPPED` is 6.3's
 * `page_was_mapped = 1`; `PAGE_WAS_MLOCKED` is recorded at unmap time for an mlocked src
 * by the variants with `drainOnlyMlocked`. The undo paths take `state & PAGE_WAS_MAPPED`.
 */
export const PAGE_WAS_MAPPED = 1;
export const PAGE_WAS_MLOCKED = 2;

/**
 * With the variant's `dstStateInPrivate` (6.7+, "mm: migrate: fix getting incorrect page
 * mapping during page migration") the kernel packs the anon_vma pointer and the two state
 * bits into the one word `dst->private` and leaves `dst->mapping` alone. A JS value cannot
 * carry an object and bits at once, so the model keeps the anon_vma in `dst->private` and
 * the bits in a byte per pfn (no allocation per folio), taken on the core's first record
 * and kept on it (`MigrateEnv.dstStateBits`).
 *
 * The bytes are a per-frame array of the machine (`frameArrayU8`): an explorer's machine
 * takes them from its buffer recycler and hands them back with the machine (a buffer of
 * their own, found through a table keyed by memory, was a backing store outside the heap,
 * a table entry and their collection per schedule). They are the core's, not the memory's:
 * a dst is recorded and extracted by the one `migrate_pages_batch` call that holds it
 * (locked, off every list another core walks), and nothing else reads them.
 */
function stateBitsOf(env: MigrateEnv): Uint8Array {
  let bits = env.dstStateBits;
  if (bits === null) {
    bits = frameArrayU8(env.mem);
    env.dstStateBits = bits;
  }
  return bits;
}

/**
 * `__migrate_folio_record(dst, old_page_state, anon_vma)`: 6.3 layout (anon_vma in
 * `dst->mapping`, the state in `dst->private`), or with `dstStateInPrivate` the 6.7+ layout
 * (everything in `dst->private`, `dst->mapping` untouched).
 */
export function migrateFolioRecord(
  env: MigrateEnv,
  dst: Folio,
  pageWasMapped: number,
  anonVma: AnonVmaView | null,
): void {
  if (env.variant.dstStateInPrivate) {
    folioSetPrivate(env.mem, dst, anonVma);
    stateBitsOf(env)[dst] = pageWasMapped;
    return;
  }
  folioSetMapping(env.mem, dst, 0, anonVma);
  folioSetPrivate(env.mem, dst, pageWasMapped);
}

/** The `old_page_state` (6.3: `page_was_mapped`) that `__migrate_folio_extract` reads back. */
export function recordedPageWasMapped(env: MigrateEnv, dst: Folio): number {
  if (env.variant.dstStateInPrivate) return stateBitsOf(env)[dst] ?? 0;
  return (folioGetPrivate(env.mem, dst) as number | null) ?? 0;
}

/** The `anon_vma` that `__migrate_folio_extract` reads back (`dst->mapping`, 6.7+ `dst->private`). */
export function recordedAnonVma(env: MigrateEnv, dst: Folio): AnonVmaView | null {
  if (env.variant.dstStateInPrivate) {
    return (folioGetPrivate(env.mem, dst) as AnonVmaView | null) ?? null;
  }
  // (dst is locked and holds its allocation reference: a live head, read through the
  // memmap reader; the accessor throws its error if it is not.)
  const mem = env.mem;
  const r = memmapReader(mem);
  const mapping = readerIsFolio(r, dst) ? readerMapping(r, dst) : folioRawMapping(mem, dst);
  return mapping as AnonVmaView | null;
}

/**
 * `__migrate_folio_extract(dst, &old_page_state, &anon_vma)`: the caller reads the two
 * values from dst first (`recordedPageWasMapped`, `recordedAnonVma`) into its own locals,
 * as the kernel's out-pointers point at the caller's locals; this clears what the record
 * set (`dst->mapping` and `dst->private`, or with `dstStateInPrivate` `dst->private` only).
 */
export function migrateFolioExtract(env: MigrateEnv, dst: Folio): void {
  const mem = env.mem;
  if (env.variant.dstStateInPrivate) {
    folioSetPrivate(mem, dst, null);
    stateBitsOf(env)[dst] = 0;
    return;
  }
  folioSetMapping(mem, dst, 0, null);
  folioSetPrivate(mem, dst, null);
}
