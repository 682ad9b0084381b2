// biome-ignore-all assist/source/organizeImports: this file is the package's table of contents, kept in reading order by section
/**
 * @mmsim/migrate: `migrate_pages()` of Linux 6.3 (the 2022–2023 batch TLB flushing series
 * and its 6.3-rc3 deadlock fixes) and its historical variants, as an executable model.
 *
 * This is the public surface: the engine, the kernel's constants, the statistics and
 * tracepoint types, the variants, and the interfaces drivers and filesystems implement.
 * The step functions and the engine's state classes are in `@mmsim/migrate/internal`,
 * which may change in any release.
 */

// The engine: build a MigrateCore from the machine's parts and call migratePages.
export { MigrateCore, type MigratePagesResult } from './migrate-core.js';
export type { MigrateDeps } from './migrate-env.js';
export type { FreeFolioFn, NewFolioFn } from './callbacks.js';
export { htlbAllowAllocFallback, type MigrationTargetControl } from './alloc-migration-target.js';
export {
  DriverCallbackError,
  DriverContractError,
  type DriverErrorRecord,
} from './errors.js';

// Variants: the historical kernels the engine can follow.
export {
  DEFAULT_VARIANT,
  type MigrateVariant,
  PROTOTYPE_KNOB_DEFAULTS,
  VARIANTS,
  type VariantName,
  variantBatchesMode,
  variantBatchModes,
  variantPasses,
} from './variants.js';
// Replacement steps: the engine steps a variant may replace, their types and the built-ins.
export {
  type FolioCopyStep,
  type MigrateFolioMoveStep,
  type MigratePagesBatchStep,
  VARIANT_STEP_NAMES,
  type VariantSteps,
} from './variant-steps.js';
export { BUILTIN_STEPS } from './builtin-steps.js';
export {
  checkVariantSetting,
  defineVariant,
  resolveVariant,
  sha256Hex,
  VARIANT_SETTING_KEYS,
  VARIANT_SETTINGS,
  type IntegerSettingRange,
  type VariantDefinition,
  type VariantSettingValues,
  type VariantSettings,
  variantContentHash,
  variantSettingsJson,
} from './define-variant.js';

// Kernel constants, migrate modes and migrate reasons.
export * from './constants.js';
export * from './modes.js';
export * from './reasons.js';

// Statistics and tracepoints: what a call reports and what it emits.
export type { MigratePagesStats } from './stats.js';
export {
  formatMigrateEvent,
  MM_MIGRATE_PAGES,
  MM_MIGRATE_PAGES_START,
  MMSIM_FOLIO_DONE,
  MMSIM_FOLIO_ISOLATED,
  MMSIM_FOLIO_MOVED,
  MMSIM_FOLIO_COPIED,
  type MmMigratePages,
  type MmMigratePagesStart,
  type MmsimFolioDoneEvent,
  type MmsimFolioEvent,
  type MmsimFolioMovedEvent,
  type MmsimFolioCopiedEvent,
} from './tracepoints.js';

// For drivers of non-LRU movable pages (balloon, zsmalloc...).
export {
  clearPageMovable,
  folioMovableOps,
  type MovableOperations,
  pageMovable,
  setPageMovable,
} from './movable.js';

// For filesystems: address-space operations, the built-in tables, and where they live.
export type {
  AddressSpaceOperations,
  MigrateFolioFn,
  PageCacheMapping,
  ReleaseFolioFn,
  WritebackControl,
  WritepageFn,
} from './address-space-operations.js';
export {
  BLOCKDEV_AOPS,
  BUFFER_AOPS,
  FILEMAP_AOPS,
  HUGETLBFS_AOPS,
  SHMEM_AOPS,
} from './builtin-aops.js';
export { mappingAops, setAddressSpaceOperations } from './mapping-aops.js';

// Batch copy (the series under review): copy providers and their registration.
export {
  CopyOffload,
  folioSetContentCopied,
  folioTestContentCopied,
  MIGRATE_OFFLOAD_REASONS_ALLOWED,
  type Migrator,
} from './copy-offload.js';
export {
  DmaCopyMigrator,
  type DmaCopyMigratorOptions,
  ThreadCopyMigrator,
  type ThreadCopyMigratorOptions,
} from './copy-providers.js';

// What driver and filesystem callbacks are handed.
export type { MigrateServices } from './migrate-services.js';
export { type ReasonCostRow, ReasonCosts } from './reason-costs.js';
