import {
  FOLIO_TYPE_HUGETLB,
  type Folio,
  type FolioList,
  folioClearFlag,
  folioMappingKind,
  folioNrPages,
  folioPut,
  folioRawMapping,
  folioSetFlag,
  folioSetMapping,
  folioTestFlag,
  folioTestHugetlb,
  folioTestMovable,
  folioTryGet,
  memmapReader,
  PAGE_MAPPING_MOVABLE,
  PG_isolated,
  PG_lru,
  PG_slab,
  type PhysicalMemory,
  pfnFolio,
  pfnValid,
  readerIsFolio,
} from '@mmsim/folio';
import { type KernelGen, MmsimError } from '@mmsim/runtime';
import { DriverContractError, kernelBug } from './errors.js';
import { folioPutbackActiveHugetlb } from './hugetlb-state.js';
import { traceFolioDone } from './journey.js';
import { listDel } from './lists.js';
import type { MigrateEnv } from './migrate-env.js';
import type { MigrateServices } from './migrate-services.js';
import type { MigrateMode } from './modes.js';

/**
 * `struct movable_operations` (include/linux/migrate.h, 6.0 and later): how a driver's
 * non-LRU pages (balloon, zsmalloc, z3fold) are isolated, migrated and given back. The
 * model calls each member as an atomic step, handing it the core's `MigrateServices` last
 * (what a driver may use; drivers that need nothing ignore it); one that throws becomes a
 * `DriverCallbackError` naming `name` and the callback.
 */
export interface MovableOperations {
  /** The driver, for messages (`balloon`, `zsmalloc`...). */
  readonly name: string;
  /**
   * `isolate_page(page, mode)`: called with the page locked (it must not unlock it);
   * returns whether the page can be migrated now. After it the VM owns `page->lru`.
   */
  isolatePage(folio: Folio, mode: number, services: MigrateServices): boolean;
  /**
   * `migrate_page(dst, src, mode)`: both pages locked; copy the contents, set up dst
   * (`setPageMovable(mem, dst, ops)`), and on success `clearPageMovable(mem, src)` and
   * return MIGRATEPAGE_SUCCESS; -EAGAIN is retried, any other error is permanent. It must
   * not touch src's list links.
   */
  migratePage(dst: Folio, src: Folio, mode: MigrateMode, services: MigrateServices): number;
  /** `putback_page(page)`: migration failed; the page is the driver's again. */
  putbackPage(folio: Folio, services: MigrateServices): void;
  /**
   * End the run at the first callback of this driver that throws, once the core has undone
   * what it did for that folio (a model option; default false: the run goes on).
   */
  readonly stopOnDriverError?: boolean;
}

/** What `__ClearPageMovable` leaves in `page->mapping`: the movable tag, no operations. */
const NO_MOVABLE_OPS: object = Object.freeze({ name: '(no movable_operations)' });

function checkMops(mops: MovableOperations): void {
  if (
    typeof mops !== 'object' ||
    mops === null ||
    typeof mops.name !== 'string' ||
    typeof mops.isolatePage !== 'function' ||
    typeof mops.migratePage !== 'function' ||
    typeof mops.putbackPage !== 'function'
  ) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      'movable_operations must be { name, isolatePage, migratePage, putbackPage }',
    );
  }
}

/**
 * `__SetPageMovable(page, mops)` (mm/compaction.c, 6.3): `page->mapping = mops |
 * PAGE_MAPPING_MOVABLE`. The driver calls it with the page locked.
 */
export function setPageMovable(mem: PhysicalMemory, folio: Folio, mops: MovableOperations): void {
  checkMops(mops);
  folioSetMapping(mem, folio, PAGE_MAPPING_MOVABLE, mops);
}

/**
 * `__ClearPageMovable(page)` (mm/compaction.c, 6.3): `page->mapping = PAGE_MAPPING_MOVABLE`:
 * the page keeps the movable type (`__PageMovable` stays true) but has no operations, so
 * `PageMovable` is false. A driver calls it when it releases a page, or on success of its
 * `migrate_page` for src.
 */
export function clearPageMovable(mem: PhysicalMemory, folio: Folio): void {
  if (folioMappingKind(mem, folio) !== PAGE_MAPPING_MOVABLE) {
    throw new MmsimError(
      'CONTRACT_VIOLATION',
      `__ClearPageMovable on folio ${folio}, which is not a non-LRU movable page`,
    );
  }
  folioSetMapping(mem, folio, PAGE_MAPPING_MOVABLE, NO_MOVABLE_OPS);
}

/** `page_movable_ops(page)`: the driver's operations, or null after `__ClearPageMovable`. */
export function folioMovableOps(mem: PhysicalMemory, folio: Folio): MovableOperations | null {
  if (folioMappingKind(mem, folio) !== PAGE_MAPPING_MOVABLE) return null;
  const ops = folioRawMapping(mem, folio);
  return ops === NO_MOVABLE_OPS ? null : (ops as MovableOperations);
}

/** `PageMovable(page)` (the page lock held): `__PageMovable` and operations set. */
export function pageMovable(mem: PhysicalMemory, folio: Folio): boolean {
  return folioMovableOps(mem, folio) !== null;
}

/**
 * `isolate_movable_page(page, mode)` (mm/migrate.c, 6.3; `isolate_movable_ops_page` from
 * 6.17, the variant's `movableProtocol` `page-type-2025`, which checks the page type and
 * PG_movable_ops before the lock and warns when a locked movable page has no operations,
 * its isolation flag being PageMovableOpsIsolated, modelled by the same bit as
 * PG_isolated): take a non-LRU movable page for
 * migration. Returns true with a reference held and PG_isolated set; false (no reference
 * kept) for a page that is free or being freed (`get_page_unless_zero` fails, a tail page
 * included), a slab page, a page that is not `__PageMovable`, one whose lock is taken
 * (trylock: the lock serialises isolators and the driver's release), one that lost its
 * operations or is already isolated, or one the driver's `isolate_page` refuses. A driver
 * that sets PG_isolated itself triggers a WARN_ON_ONCE (recorded in `env.warnings`).
 * NR_ISOLATED is not touched: non-LRU pages are not counted. A plain function: it only
 * trylocks.
 */
export function isolateMovablePage(env: MigrateEnv, page: number, mode: number): boolean {
  const mem = env.mem;
  if (!pfnValid(mem, page) || pfnFolio(mem, page) !== page) return false;
  if (!folioTryGet(mem, page)) return false;
  const folio: Folio = page;
  if (folioTestFlag(mem, folio, PG_slab) || !folioTestMovable(mem, folio)) {
    folioPut(mem, folio);
    return false;
  }
  const locks = env.locks;
  if (!locks.folioTrylock(folio, 'isolate_movable_page')) {
    folioPut(mem, folio);
    return false;
  }
  const mops = folioMovableOps(mem, folio);
  if (mops === null && env.variant.movableProtocol === 'page-type-2025') {
    // 6.17 `isolate_movable_ops_page`: VM_WARN_ON_ONCE_PAGE(!page_has_movable_ops(page)).
    env.warnOnce(
      'isolate_movable_ops_page',
      `folio ${folio} has the movable type but no movable_ops: a driver cleared them (page-type-2025 has no __ClearPageMovable)`,
    );
  }
  let ok = mops !== null && !folioTestFlag(mem, folio, PG_isolated);
  if (ok && mops !== null) ok = callIsolatePage(env, mops, folio, mode);
  if (!ok) {
    locks.folioUnlock(folio);
    folioPut(mem, folio);
    return false;
  }
  if (folioTestFlag(mem, folio, PG_isolated)) {
    env.warnOnce(
      'isolate_movable_page',
      `driver ${mops?.name} set PG_isolated on folio ${folio} itself`,
    );
  }
  folioSetFlag(mem, folio, PG_isolated);
  locks.folioUnlock(folio);
  return true;
}

/**
 * The driver's `isolate_page`, checked: a throw, or a value other than a boolean, is a
 * driver error (recorded in `env.driverErrors`, see `MigrateEnv.driverError`) and counts as
 * a refusal, so `isolate_movable_page` undoes its trylock and reference as for any refusal.
 */
function callIsolatePage(
  env: MigrateEnv,
  mops: MovableOperations,
  folio: Folio,
  mode: number,
): boolean {
  let got: unknown;
  try {
    got = mops.isolatePage(folio, mode, env.services);
  } catch (error) {
    env.driverError(mops, 'isolate_page', folio, error);
    return false;
  }
  if (got === true || got === false) return got;
  env.driverError(
    mops,
    'isolate_page',
    folio,
    new DriverContractError(mops.name, 'isolate_page', got, 'a boolean (true: isolated)'),
  );
  return false;
}

/**
 * The driver's `putback_page`, checked: a throw is a driver error (recorded), and the
 * putback goes on (PG_isolated cleared, the page unlocked and the isolation reference
 * dropped), so the page is the driver's again whatever its callback did.
 */
function callPutbackPage(env: MigrateEnv, mops: MovableOperations, folio: Folio): void {
  try {
    mops.putbackPage(folio, env.services);
  } catch (error) {
    env.driverError(mops, 'putback_page', folio, error);
  }
}

/**
 * Model only (a kernel callback cannot throw): `migrate_page` of src's driver threw or
 * returned a value outside its contract. Hand the locked src back to its driver at once,
 * as `putback_movable_pages` would: `putback_page` (src still locked, as there) and
 * PG_isolated cleared. The caller then takes src off its list, unlocks it and drops the
 * isolation reference (`movableGiveBackAfterDriverError` does all of it), so the folio is
 * exactly as before its isolation.
 */
export function movableReturnAfterDriverError(env: MigrateEnv, src: Folio): void {
  const mem = env.mem;
  traceFolioDone(env, src, 'putback');
  const mops = folioMovableOps(mem, src);
  if (mops !== null) callPutbackPage(env, mops, src);
  folioClearFlag(mem, src, PG_isolated);
}

/** `movableReturnAfterDriverError`, then src off its list, unlocked, isolation reference dropped. */
export function movableGiveBackAfterDriverError(env: MigrateEnv, src: Folio): void {
  movableReturnAfterDriverError(env, src);
  listDel(env.mem, src);
  env.locks.folioUnlock(src);
  folioPut(env.mem, src);
}

/**
 * `putback_movable_pages(l)` (mm/migrate.c, 6.3; with `putback_movable_ops_page` for a
 * movable_ops page from 6.17, `page-type-2025`, where a page without operations is a
 * warning instead of a page its driver released): give every folio of an isolation list
 * back. Hugetlb folios go back to the active list (`folio_putback_active_hugetlb`).
 * Others leave the list; then a non-LRU movable page is locked (sleeping), handed to the
 * driver's `putback_page` if it still has operations, has PG_isolated cleared, is
 * unlocked and loses the isolation reference; an LRU folio leaves NR_ISOLATED and goes
 * back to the LRU (`folio_putback_lru`).
 */
export function* putbackMovablePages(env: MigrateEnv, list: FolioList): KernelGen {
  const mem = env.mem;
  const locks = env.locks;
  for (const folio of list) {
    traceFolioDone(env, folio, 'putback');
    if (folioTestHugetlb(mem, folio)) {
      folioPutbackActiveHugetlb(env.hstate, folio);
      continue;
    }
    list.del(folio);
    if (folioTestMovable(mem, folio)) {
      if (!folioTestFlag(mem, folio, PG_isolated)) {
        throw kernelBug(
          'putback_movable_pages',
          `VM_BUG_ON_FOLIO(!folio_test_isolated): folio ${folio}`,
        );
      }
      if (!locks.folioLockFast(folio, 'putback_movable_pages')) {
        yield* locks.folioLockContended(folio, 'putback_movable_pages');
      }
      const mops = folioMovableOps(mem, folio);
      if (mops !== null) callPutbackPage(env, mops, folio);
      else if (env.variant.movableProtocol === 'page-type-2025') {
        env.warnOnce(
          'putback_movable_ops_page',
          `folio ${folio} has no movable_ops while isolated: a driver cleared them (page-type-2025 has no __ClearPageMovable)`,
        );
      }
      folioClearFlag(mem, folio, PG_isolated);
      locks.folioUnlock(folio);
      folioPut(mem, folio);
    } else {
      env.lru.nodeStatModFolio(folio, env.lru.folioIsolatedItem(folio), -folioNrPages(mem, folio));
      yield* env.lru.folioPutbackLru(folio);
    }
  }
}

/**
 * Whether `folio` looks isolated for migration (used to check `migrate_pages` input, once
 * per folio of the list). Its fields are read through the memmap reader once it is known
 * to be a live head; any other frame goes to the checked accessor, for its error.
 */
export function folioLooksIsolated(env: MigrateEnv, folio: Folio): string | null {
  const mem = env.mem;
  const r = memmapReader(mem);
  if (!readerIsFolio(r, folio)) folioTestHugetlb(mem, folio); // throws: not a live head
  if (r.folioType[folio] === FOLIO_TYPE_HUGETLB) {
    return env.hstate.migratable[folio] === 1
      ? 'is a hugetlb folio still marked migratable: isolate it with isolateHugetlb'
      : null;
  }
  const flags = r.flags[folio]!;
  if (r.mappingKind[folio] === PAGE_MAPPING_MOVABLE /* __folio_test_movable */) {
    return (flags & (1 << PG_isolated)) !== 0
      ? null
      : 'is a non-LRU movable page without PG_isolated: isolate it with isolateMovablePage';
  }
  if ((flags & (1 << PG_lru)) !== 0) {
    return 'has PG_lru set: it is still on an LRU list; isolate it with folio_isolate_lru';
  }
  return null;
}
