import {
  type Folio,
  folioAttachPrivate,
  folioDetachPrivate,
  folioGetPrivate,
  folioRefCount,
  folioTestFlag,
  memmapReader,
  PG_private,
  PG_writeback,
  readerIsFolio,
} from '@mmsim/folio';
import { EAGAIN, type KernelGen } from '@mmsim/runtime';
import { MIGRATEPAGE_SUCCESS } from './constants.js';
import { kernelBug } from './errors.js';
import { folioCopy, folioMigrateCopy, folioMigrateFlags } from './folio-migrate-flags.js';
import { folioExpectedRefs, folioMigrateMapping } from './folio-migrate-mapping.js';
import type { MigrateServices } from './migrate-services.js';
import { MIGRATE_SYNC_NO_COPY, type MigrateMode } from './modes.js';

/**
 * `migrate_folio_extra(mapping, dst, src, mode, extra_count)` (mm/migrate.c, 6.3):
 * `BUG_ON(folio_test_writeback(src))`, then `folio_migrate_mapping`, then the copy and the
 * flags (`folio_migrate_copy`), or the flags only for MIGRATE_SYNC_NO_COPY.
 *
 * The BUG is reachable in 6.3: `fallback_migrate_folio` may start writeback through
 * `writeout()` in one move pass and, the folio staying locked on `unmap_folios`, the next
 * move pass calls this with the writeback still in flight (the crash reported against
 * OpenZFS, openzfs/zfs#15140 and #16723). The model throws INVARIANT_VIOLATED there.
 * A plain function: nothing here sleeps.
 */
export function migrateFolioExtra(
  services: MigrateServices,
  mapping: object | null,
  dst: Folio,
  src: Folio,
  mode: MigrateMode,
  extraCount: number,
): number {
  checkNotWriteback(services, src);
  const rc = folioMigrateMapping(services, mapping, dst, src, extraCount);
  if (rc !== MIGRATEPAGE_SUCCESS) return rc;
  if (mode !== MIGRATE_SYNC_NO_COPY) folioMigrateCopy(services, dst, src);
  else folioMigrateFlags(services, dst, src);
  return MIGRATEPAGE_SUCCESS;
}

/**
 * `migrate_folio(mapping, dst, src, mode)` (mm/migrate.c, 6.3): simple migration of a
 * folio without private data, `migrate_folio_extra(..., 0)`. The `migrate_folio` of
 * `shmem_aops` and of the swap cache, and what `move_to_new_folio` calls for anonymous
 * folios (with `mapping` null). A generator only to fit `MigrateFolioFn`; it does not sleep.
 */
export function* migrateFolio(
  services: MigrateServices,
  mapping: object | null,
  dst: Folio,
  src: Folio,
  mode: MigrateMode,
): KernelGen<number> {
  if (services.copyBeforeFreeze) {
    checkNotWriteback(services, src);
    return yield* migrateFolioCopyFirst(services, mapping, dst, src, mode, false);
  }
  return migrateFolioExtra(services, mapping, dst, src, mode, 0);
}

/**
 * `__migrate_folio(mapping, dst, src, src_private, mode)` (mm/migrate.c) as Kefeng Wang's
 * "mm: migrate: support poisoned recover from migrate folio" (6.12) left it, the variant's
 * `copyBeforeFreeze`: if src holds other references than expected, -EAGAIN before any
 * work; else copy it (`folio_mc_copy`, a scheduling point in the model: the copy takes
 * time while other CPUs run), then freeze the references and move the mapping
 * (`__folio_migrate_mapping`), which gives -EAGAIN when a reference appeared during the
 * copy; then the private data (`filemap_migrate_folio` only) and `folio_migrate_flags`.
 * The copy cannot fail: the model has no memory errors (no -EHWPOISON).
 */
function* migrateFolioCopyFirst(
  services: MigrateServices,
  mapping: object | null,
  dst: Folio,
  src: Folio,
  mode: MigrateMode,
  movePrivate: boolean,
): KernelGen<number> {
  const mem = services.mem;
  if (folioRefCount(mem, src) !== folioExpectedRefs(services, mapping, src)) return -EAGAIN;
  // A custom variant that also keeps MIGRATE_SYNC_NO_COPY: no copy, as the batch-copy
  // series' MIGRATE_NO_COPY does at this point.
  if (mode !== MIGRATE_SYNC_NO_COPY) {
    folioCopy(services, dst, src);
    yield; // folio_mc_copy runs while other CPUs take and drop references
  }
  const rc = folioMigrateMapping(services, mapping, dst, src, 0);
  if (rc !== MIGRATEPAGE_SUCCESS) return rc;
  if (movePrivate && folioGetPrivate(mem, src) !== null && folioTestFlag(mem, src, PG_private)) {
    folioAttachPrivate(mem, dst, folioDetachPrivate(mem, src));
  }
  folioMigrateFlags(services, dst, src);
  return MIGRATEPAGE_SUCCESS;
}

/** `BUG_ON(folio_test_writeback(src))` of `migrate_folio` / `migrate_folio_extra`. */
/** What `migrateFolioCopyFirstPlain` returns when the scheduling point after the copy needs a real `yield`. */
export const COPY_YIELDS = 0x7fff_ffef;

/**
 * `__migrate_folio` under `copyBeforeFreeze` (above, `migrateFolioCopyFirst`) of an anonymous
 * folio (`migrate_folio`: no mapping, no private data to move) as plain calls: the
 * scheduling point after the copy is a virtual step (`rt.virtualStep()`) when no other task
 * can run there. Returns the result, or `COPY_YIELDS` (the copy done) when the step needs a
 * real round: the caller must `yield` at once and then call `migrateFolioAfterCopy`.
 */
export function migrateFolioCopyFirstPlain(
  services: MigrateServices,
  dst: Folio,
  src: Folio,
  mode: MigrateMode,
): number {
  checkNotWriteback(services, src);
  if (folioRefCount(services.mem, src) !== folioExpectedRefs(services, null, src)) return -EAGAIN;
  if (mode === MIGRATE_SYNC_NO_COPY) return migrateFolioAfterCopy(services, dst, src);
  folioCopy(services, dst, src);
  // folio_mc_copy runs while other CPUs take and drop references.
  if (!services.rt.virtualStep()) return COPY_YIELDS;
  return migrateFolioAfterCopy(services, dst, src);
}

/** The rest of `migrateFolioCopyFirstPlain` after its scheduling point (anonymous folio). */
export function migrateFolioAfterCopy(services: MigrateServices, dst: Folio, src: Folio): number {
  const rc = folioMigrateMapping(services, null, dst, src, 0);
  if (rc !== MIGRATEPAGE_SUCCESS) return rc;
  folioMigrateFlags(services, dst, src);
  return MIGRATEPAGE_SUCCESS;
}

function checkNotWriteback(services: MigrateServices, src: Folio): void {
  const mem = services.mem;
  const r = memmapReader(mem);
  const writeback = readerIsFolio(r, src)
    ? (r.flags[src]! & (1 << PG_writeback)) !== 0
    : folioTestFlag(mem, src, PG_writeback);
  if (writeback) {
    throw kernelBug(
      'migrate_folio_extra (mm/migrate.c)',
      `BUG_ON(folio_test_writeback(src)): folio ${src} is under writeback ("Writeback must be complete")`,
    );
  }
}

/**
 * `filemap_migrate_folio(mapping, dst, src, mode)` (mm/migrate.c, 6.3): for filesystems
 * whose private data needs no special care: `folio_migrate_mapping`, then the private data
 * moves to dst (`folio_attach_private(dst, folio_detach_private(src))`, which moves its
 * reference too), then the copy and the flags (flags only for MIGRATE_SYNC_NO_COPY). Unlike
 * `migrate_folio` it does not check PG_writeback.
 */
export function* filemapMigrateFolio(
  services: MigrateServices,
  mapping: object,
  dst: Folio,
  src: Folio,
  mode: MigrateMode,
): KernelGen<number> {
  if (services.copyBeforeFreeze) {
    return yield* migrateFolioCopyFirst(services, mapping, dst, src, mode, true);
  }
  return filemapMigrateFolioPlain(services, mapping, dst, src, mode);
}

/**
 * `filemap_migrate_folio` (above) without the variant's `copyBeforeFreeze`, where nothing
 * in it sleeps: a plain function (what `move_to_new_folio`'s plain path calls).
 */
export function filemapMigrateFolioPlain(
  services: MigrateServices,
  mapping: object,
  dst: Folio,
  src: Folio,
  mode: MigrateMode,
): number {
  const mem = services.mem;
  const rc = folioMigrateMapping(services, mapping, dst, src, 0);
  if (rc !== MIGRATEPAGE_SUCCESS) return rc;
  if (folioGetPrivate(mem, src) !== null && folioTestFlag(mem, src, PG_private)) {
    folioAttachPrivate(mem, dst, folioDetachPrivate(mem, src));
  }
  if (mode !== MIGRATE_SYNC_NO_COPY) folioMigrateCopy(services, dst, src);
  else folioMigrateFlags(services, dst, src);
  return MIGRATEPAGE_SUCCESS;
}
