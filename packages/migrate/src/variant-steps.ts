import type { Folio } from '@mmsim/folio';
import { folioCopyContents } from '@mmsim/folio';
import type { migrateFolioMove } from './migrate-folio-move.js';
import type { migratePagesBatch } from './migrate-pages-batch.js';
import type { MigrateServices } from './migrate-services.js';

/**
 * Replacement steps: the named steps of the engine a variant may replace with functions of
 * its own (`MigrateVariant.steps`), for the change a policy setting cannot express (another
 * batch loop, another copy). Each has the signature of the built-in step it replaces; the
 * built-in ones are `BUILTIN_STEPS`. The engine looks a replacement up once per call of the
 * step's caller, not once per folio.
 */

/**
 * The batch loop, `migrate_pages_batch()` (mm/migrate.c, 6.3): called by `migrate_pages()`
 * for each batch, by `migrate_pages_sync()` for its async batch and for each folio of its
 * one-folio phase, and for the best-effort pass over split pieces. Same arguments and
 * result as the built-in `migratePagesBatch`: the number of folios that failed, or -ENOMEM.
 */
export type MigratePagesBatchStep = typeof migratePagesBatch;

/**
 * The per-folio move step, `migrate_folio_move()` (mm/migrate.c, 6.3): called by the batch
 * loop for each unmapped folio in each move pass, with its dst. Same arguments and result
 * as the built-in `migrateFolioMove`.
 */
export type MigrateFolioMoveStep = typeof migrateFolioMove;

/**
 * The copy of a folio's contents, `folio_copy(dst, src)` (mm/util.c, 6.3), as called by
 * `folio_migrate_copy()` from the `migrate_folio` callbacks (the flags follow it). The
 * built-in one copies every page's contents; the copy's cost is charged by the caller.
 */
export type FolioCopyStep = (services: MigrateServices, dst: Folio, src: Folio) => void;

/** The steps a variant may replace, each optional: the engine's own step stands in. */
export interface VariantSteps {
  readonly migratePagesBatch?: MigratePagesBatchStep;
  readonly migrateFolioMove?: MigrateFolioMoveStep;
  readonly folioCopy?: FolioCopyStep;
}

/** The names of the replaceable steps, in the order the content hash lists them. */
export const VARIANT_STEP_NAMES: readonly (keyof VariantSteps)[] = Object.freeze([
  'migratePagesBatch',
  'migrateFolioMove',
  'folioCopy',
]);

/** The built-in `folio_copy`: every page's contents from src to dst (mm/util.c, 6.3). */
export function folioCopy(services: MigrateServices, dst: Folio, src: Folio): void {
  folioCopyContents(services.mem, dst, src);
}
