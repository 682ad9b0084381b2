import {
  type Folio,
  folioGetPrivate,
  folioRawMapping,
  folioSetMapping,
  folioSetPrivate,
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
 * docs/model-vs-kernel.md#dst-state). The model keeps the 6.3 layout: `folioMapping(mem, dst)`
 * returns the anon_vma during the window, as `folio_mapping()` would.
 */

/** `__migrate_folio_record(dst, page_was_mapped, anon_vma)`. */
export function migrateFolioRecord(
  env: MigrateEnv,
  dst: Folio,
  pageWasMapped: number,
  anonVma: AnonVmaView | null,
): void {
  folioSetMapping(env.mem, dst, 0, anonVma);
  folioSetPrivate(env.mem, dst, pageWasMapped);
}

/** The `page_was_mapped` that `__migrate_folio_extract` reads back from `dst->private`. */
export function recordedPageWasMapped(env: MigrateEnv, dst: Folio): number {
  return (folioGetPrivate(env.mem, dst) as number | null) ?? 0;
}

/** The `anon_vma` that `__migrate_folio_extract` reads back from `dst->mapping`. */
export function recordedAnonVma(env: MigrateEnv, dst: Folio): AnonVmaView | null {
  return folioRawMapping(env.mem, dst) as AnonVmaView | null;
}

/**
 * `__migrate_folio_extract(dst, &page_was_mapped, &anon_vma)`: the caller reads the two
 * values from dst first (`recordedPageWasMapped`, `recordedAnonVma`) into its own locals,
 * as the kernel's out-pointers point at the caller's locals; this clears dst's `mapping`
 * and `private`.
 */
export function migrateFolioExtract(env: MigrateEnv, dst: Folio): void {
  const mem = env.mem;
  folioSetMapping(mem, dst, 0, null);
  folioSetPrivate(mem, dst, null);
}
