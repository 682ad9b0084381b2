import { migrateFolioMove } from './migrate-folio-move.js';
import { migratePagesBatch } from './migrate-pages-batch.js';
import { folioCopy, type VariantSteps } from './variant-steps.js';

/**
 * The engine's own replaceable steps (see `VariantSteps`): `migrate_pages_batch()`,
 * `migrate_folio_move()` and `folio_copy()` as the model follows them (6.3, with the
 * variant's settings). A replacement may call them, e.g. to wrap one.
 */
export const BUILTIN_STEPS: Readonly<Required<VariantSteps>> = Object.freeze({
  migratePagesBatch,
  migrateFolioMove,
  folioCopy,
});
