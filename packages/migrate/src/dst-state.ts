import {
  type Folio,
  folioGetPrivate,
  folioRawMapping,
  folioSetMapping,
  folioSetPrivate,
} from '@mmsim/folio';
import type { AnonVma } from '@mmsim/rmap';
import type { MigrateContext } from './context.js';

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
  ctx: MigrateContext,
  dst: Folio,
  pageWasMapped: number,
  anonVma: AnonVma | null,
): void {
  folioSetMapping(ctx.mem, dst, 0, anonVma);
  folioSetPrivate(ctx.mem, dst, pageWasMapped);
}

/**
 * `__migrate_folio_extract(dst, &page_was_mapped, &anon_vma)`: the two values land in
 * `ctx.extractedWasMapped` and `ctx.extractedAnonVma` (the out-parameters; read them
 * before the next yield), and dst's `mapping` and `private` are cleared.
 */
export function migrateFolioExtract(ctx: MigrateContext, dst: Folio): void {
  const mem = ctx.mem;
  ctx.extractedAnonVma = folioRawMapping(mem, dst) as AnonVma | null;
  ctx.extractedWasMapped = (folioGetPrivate(mem, dst) as number | null) ?? 0;
  folioSetMapping(mem, dst, 0, null);
  folioSetPrivate(mem, dst, null);
}
