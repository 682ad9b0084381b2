import {
  type Folio,
  folioClearFlag,
  folioMapping,
  folioMappingKind,
  folioSetMapping,
  folioTestFlag,
  type MemmapReader,
  memmapReader,
  PAGE_MAPPING_MOVABLE,
  PG_isolated,
  PG_locked,
  type PhysicalMemory,
  readerIsFolio,
} from '@mmsim/folio';
import { EBUSY, type KernelGen, tracedFunction } from '@mmsim/runtime';
import { BUILTIN_AOPS, FILEMAP_AOPS, SHMEM_AOPS } from './builtin-aops.js';
import { MIGRATEPAGE_SUCCESS } from './constants.js';
import { callDriverGen, DriverContractError, kernelBug } from './errors.js';
import { fallbackMigrateFolio } from './fallback-migrate-folio.js';
import { mappingAops } from './mapping-aops.js';
import type { MigrateEnv } from './migrate-env.js';
import {
  filemapMigrateFolioPlain,
  migrateFolio,
  migrateFolioAfterCopy,
  migrateFolioCopyFirstPlain,
  migrateFolioExtra,
} from './migrate-folio.js';
import type { MigrateMode } from './modes.js';
import { folioMovableOps, type MovableOperations } from './movable.js';

/**
 * What `move_to_new_folio` does once the callback succeeded (mm/migrate.c, 6.3): a
 * non-LRU movable src loses PG_isolated (under its lock, so no compactor picks it up); a
 * page-cache src loses its `mapping` (anon and movable keep the type bits, which
 * `free_pages_prepare` clears, so that statistics still see PageAnon). `flush_dcache_folio`
 * is a no-op on x86. A timeline sees the folio's journey step from src to dst here
 * (`mmsim_folio_moved`, a model event), whichever engine moved it.
 */
function moveToNewFolioSucceeded(env: MigrateEnv, src: Folio, dst: Folio): void {
  const mem = env.mem;
  const r = memmapReader(mem);
  const moved = env.tp.folioMoved;
  if (moved.enabled) moved.emit({ src, dst });
  // (src is locked and isolated: a live head; the accessor throws if it is not.)
  const kind = readerIsFolio(r, src) ? r.mappingKind[src]! : folioMappingKind(mem, src);
  if (kind === PAGE_MAPPING_MOVABLE) {
    if (!folioTestFlag(mem, src, PG_isolated)) {
      throw kernelBug(
        'move_to_new_folio',
        `VM_BUG_ON_FOLIO(!folio_test_isolated(src)): folio ${src}`,
      );
    }
    folioClearFlag(mem, src, PG_isolated);
  }
  if (kind === 0) folioSetMapping(mem, src, 0, null);
}

/**
 * `folio_test_locked(folio)` through the memmap reader when `folio` is a live head, else
 * the accessor (which throws its error).
 */
function lockedHead(r: MemmapReader, mem: PhysicalMemory, folio: Folio): boolean {
  return readerIsFolio(r, folio)
    ? (r.flags[folio]! & (1 << PG_locked)) !== 0
    : folioTestFlag(mem, folio, PG_locked);
}

/**
 * The atomic cases of `move_to_new_folio`: an anonymous LRU folio (no mapping:
 * `migrate_folio`), a page-cache folio whose mapping's `migrate_folio` is the built-in
 * `migrate_folio` (`shmem_aops`) or `filemap_migrate_folio` (neither sleeps without the
 * variant's `copyBeforeFreeze`), and a non-LRU movable page (`migrate_page` of its driver,
 * or success at once if the driver released the page after isolation: PG_isolated is
 * cleared and the final put frees it). Returns the result, or `NEEDS_ADDRESS_SPACE` for
 * another page-cache folio, which goes through its address-space operations and may
 * sleep, or `COPY_YIELDS` when the
 * scheduling point after a `copyBeforeFreeze` copy needs a real `yield` (then
 * `moveToNewFolioAfterCopy`). This is the uncontended
 * fast path of `moveToNewFolio`, creating no generator.
 */
export function moveToNewFolioAtomic(
  env: MigrateEnv,
  dst: Folio,
  src: Folio,
  mode: MigrateMode,
): number {
  // A traced call goes through `moveToNewFolio`, so that its slice shows in every case.
  if (env.rt.functions.enabled) return NEEDS_ADDRESS_SPACE;
  const rc = moveToNewFolioNoSleep(env, dst, src, mode);
  // An anonymous folio under `copyBeforeFreeze` (6.12+ `__migrate_folio`): plain calls too,
  // with the scheduling point after the copy as a virtual step when nothing else can run.
  if (rc !== NEEDS_ADDRESS_SPACE || !env.copyBeforeFreeze || folioMapping(env.mem, src) !== null) {
    return rc;
  }
  const r = migrateFolioCopyFirstPlain(env.services, dst, src, mode);
  if (r === MIGRATEPAGE_SUCCESS) moveToNewFolioSucceeded(env, src, dst);
  return r;
}

/**
 * The rest of `moveToNewFolioAtomic` after it returned `COPY_YIELDS` and the caller took the
 * real scheduling point after the copy: `__migrate_folio`'s freeze, mapping and flags.
 */
export function moveToNewFolioAfterCopy(env: MigrateEnv, dst: Folio, src: Folio): number {
  const rc = migrateFolioAfterCopy(env.services, dst, src);
  if (rc === MIGRATEPAGE_SUCCESS) moveToNewFolioSucceeded(env, src, dst);
  return rc;
}

/** The cases of `move_to_new_folio` that cannot sleep; `NEEDS_ADDRESS_SPACE` for the rest. */
function moveToNewFolioNoSleep(env: MigrateEnv, dst: Folio, src: Folio, mode: MigrateMode): number {
  const mem = env.mem;
  const r = memmapReader(mem);
  if (!lockedHead(r, mem, src) || !lockedHead(r, mem, dst)) {
    throw kernelBug(
      'move_to_new_folio',
      `VM_BUG_ON_FOLIO(!folio_test_locked): src ${src}, dst ${dst}`,
    );
  }
  let rc: number;
  // (src is a live head: `lockedHead` checked it.)
  if (r.mappingKind[src] !== PAGE_MAPPING_MOVABLE) {
    // 6.12's __migrate_folio copies before the freeze, a scheduling point: not atomic.
    if (env.copyBeforeFreeze) return NEEDS_ADDRESS_SPACE;
    const mapping = folioMapping(mem, src);
    if (mapping === null) {
      rc = migrateFolioExtra(env.services, null, dst, src, mode, 0);
    } else {
      // A page-cache folio: `mapping->a_ops->migrate_folio`, as `moveToNewFolioBody` picks
      // it. The built-in shmem and filemap ones are plain calls here; any other (buffer
      // heads, fallback, hugetlbfs, a driver's table) may sleep.
      const aops = mappingAops(mem, mapping, src);
      if (aops === FILEMAP_AOPS) {
        rc = filemapMigrateFolioPlain(env.services, mapping, dst, src, mode);
      } else if (aops === SHMEM_AOPS) {
        rc = migrateFolioExtra(env.services, mapping, dst, src, mode, 0);
      } else {
        return NEEDS_ADDRESS_SPACE;
      }
    }
  } else {
    // A non-LRU page may have been released by its driver after isolation: then there is
    // nothing to migrate.
    if (!folioTestFlag(mem, src, PG_isolated)) {
      throw kernelBug(
        'move_to_new_folio',
        `VM_BUG_ON_FOLIO(!folio_test_isolated(src)): folio ${src}`,
      );
    }
    const mops = folioMovableOps(mem, src);
    const pageType = env.variant.movableProtocol === 'page-type-2025';
    if (mops === null) {
      if (pageType) {
        // 6.17 `migrate_movable_ops_page`: the operations are sticky until the page is
        // freed, so there is no "released by its driver" case; a page without them is
        // VM_WARN_ON_ONCE_PAGE(!page_has_movable_ops(src)) and, in the model, a failure.
        env.warnOnce(
          'migrate_movable_ops_page',
          `folio ${src} has no movable_ops while isolated: a driver cleared them (page-type-2025 has no __ClearPageMovable)`,
        );
        return -EBUSY;
      }
      folioClearFlag(mem, src, PG_isolated);
      return MIGRATEPAGE_SUCCESS;
    }
    rc = callMigratePage(env, mops, dst, src, mode);
    if (pageType && rc === MIGRATEPAGE_SUCCESS && folioMovableOps(mem, src) === null) {
      env.warnOnce(
        'migrate_movable_ops_page',
        `${mops.name}.migrate_page cleared the movable_ops of src folio ${src}: in page-type-2025 a page keeps them until it is freed`,
      );
    }
    if (rc === MIGRATEPAGE_SUCCESS && !folioTestFlag(mem, src, PG_isolated)) {
      env.warnOnce(
        'move_to_new_folio',
        `${mops.name}.migrate_page succeeded but folio ${src} lost PG_isolated`,
      );
    }
  }
  if (rc === MIGRATEPAGE_SUCCESS) moveToNewFolioSucceeded(env, src, dst);
  return rc;
}

/** `moveToNewFolioAtomic`'s answer for a page-cache folio. */
export const NEEDS_ADDRESS_SPACE = 0x7fff_ffff;

/**
 * What `move_to_new_folio` returns when the driver's `migrate_page` threw or returned a
 * value outside its contract (model only; counted as a permanent failure). The caller
 * gives dst back and src to its driver at once (`movableGiveBackAfterDriverError`).
 */
export const DRIVER_FAILED = -0x7fff_fffe;

/**
 * The driver's `migrate_page`, checked: MIGRATEPAGE_SUCCESS, or a negative errno (-EAGAIN
 * is retried, the others are permanent). A throw, or any other value (undefined, a
 * positive number, a non-integer, a non-number), is a driver error recorded in
 * `env.driverErrors` and answered with `DRIVER_FAILED`.
 */
function callMigratePage(
  env: MigrateEnv,
  mops: MovableOperations,
  dst: Folio,
  src: Folio,
  mode: MigrateMode,
): number {
  let rc: unknown;
  try {
    rc = mops.migratePage(dst, src, mode, env.services);
  } catch (error) {
    env.driverError(mops, 'migrate_page', src, error);
    return DRIVER_FAILED;
  }
  if (typeof rc === 'number' && Number.isInteger(rc) && rc <= 0 && rc !== DRIVER_FAILED) {
    return rc;
  }
  env.driverError(
    mops,
    'migrate_page',
    src,
    new DriverContractError(
      mops.name,
      'migrate_page',
      rc,
      'MIGRATEPAGE_SUCCESS (0), -EAGAIN or another negative errno',
    ),
  );
  return DRIVER_FAILED;
}

/**
 * `move_to_new_folio(dst, src, mode)` (mm/migrate.c, 6.3): move the contents and the
 * state of the locked, unmapped src to the locked dst.
 *
 * - An LRU folio (`!__PageMovable`): with no mapping (anonymous, not in the swap cache),
 *   `migrate_folio`; else its mapping's `->migrate_folio`, or `fallback_migrate_folio` when
 *   there is none. (6.8 added a `mapping_unmovable` check, not in 6.3.)
 * - A non-LRU movable page: PG_isolated must be set; if the driver released the page
 *   (`!PageMovable`), clear PG_isolated and report success; else `migrate_page`. With the
 *   variant's `movableProtocol` `page-type-2025` (6.17 `migrate_movable_ops_page`) the
 *   operations cannot go away before the page is freed: `migrate_page` is always called,
 *   and a page without operations is a warning and -EBUSY.
 * - On success, see `moveToNewFolioSucceeded`.
 *
 * Returns MIGRATEPAGE_SUCCESS or a negative errno (-EAGAIN: try again in the next pass).
 */
export const moveToNewFolio = tracedFunction('move_to_new_folio', moveToNewFolioBody);

/** How many `move_to_new_folio` generators ran (tests: the atomic cases need none). */
export const moveToNewFolioStats = { generators: 0 };

function* moveToNewFolioBody(
  env: MigrateEnv,
  dst: Folio,
  src: Folio,
  mode: MigrateMode,
): KernelGen<number> {
  moveToNewFolioStats.generators++;
  const mem = env.mem;
  const fast = moveToNewFolioNoSleep(env, dst, src, mode);
  if (fast !== NEEDS_ADDRESS_SPACE) return fast;
  if (folioMapping(mem, src) === null) {
    // An anonymous folio under `copyBeforeFreeze`: `migrate_folio` -> `__migrate_folio`.
    const rc = yield* migrateFolio(env.services, null, dst, src, mode);
    if (rc === MIGRATEPAGE_SUCCESS) moveToNewFolioSucceeded(env, src, dst);
    return rc;
  }
  const mapping = folioMapping(mem, src) as object;
  const aops = mappingAops(mem, mapping, src);
  const migrate = aops.migrateFolio;
  let rc: number;
  if (migrate === null || migrate === undefined) {
    rc = yield* fallbackMigrateFolio(env, mapping, dst, src, mode);
  } else if (BUILTIN_AOPS.has(aops)) {
    rc = yield* migrate(env.services, mapping, dst, src, mode);
  } else {
    rc = yield* callDriverGen(aops.name, 'migrate_folio', () =>
      migrate(env.services, mapping, dst, src, mode),
    );
  }
  if (typeof rc !== 'number' || !Number.isInteger(rc)) {
    throw kernelBug(
      'move_to_new_folio',
      `${aops.name}.migrate_folio returned ${String(rc)}, not MIGRATEPAGE_SUCCESS or a negative errno`,
    );
  }
  if (rc === MIGRATEPAGE_SUCCESS) moveToNewFolioSucceeded(env, src, dst);
  return rc;
}
