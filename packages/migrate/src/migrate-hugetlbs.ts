import {
  FOLIO_TYPE_HUGETLB,
  type Folio,
  type FolioList,
  folioMapping,
  folioNrPages,
  folioRefCount,
  folioTestAnon,
  folioTestHugetlb,
  memmapReader,
  readerIsFolio,
} from '@mmsim/folio';
import type { AnonVmaView } from '@mmsim/rmap';
import { isAddressSpace, TTU_RMAP_LOCKED } from '@mmsim/rmap';
import {
  EAGAIN,
  EBUSY,
  ENOMEM,
  type KernelGen,
  type RwSemaphore,
  tracedFunction,
} from '@mmsim/runtime';
import { callGetNewFolio, callPutNewFolio, type MigrateCallbacks } from './callbacks.js';
import { MIGRATEPAGE_SUCCESS, NR_MAX_MIGRATE_PAGES_RETRY } from './constants.js';
import { folioPutbackActiveHugetlb, moveHugetlbState } from './hugetlb-state.js';
import { traceFolioDone } from './journey.js';
import { listMoveTail } from './lists.js';
import type { MigrateEnv } from './migrate-env.js';
import { MIGRATE_SYNC, MIGRATE_SYNC_NO_COPY, type MigrateMode } from './modes.js';
import { moveToNewFolio } from './move-to-new-folio.js';
import type { MigrateReason } from './reasons.js';
import type { MigrateStats } from './stats.js';

const CALLER = 'unmap_and_move_huge_page';

/**
 * `hugetlb_folio_subpool(folio)`: hugetlbfs subpools (mount size limits) are not
 * modelled; every folio reads as having none, so the "being freed" -EBUSY of
 * `unmap_and_move_huge_page` never fires.
 */
function hugetlbFolioSubpool(_env: MigrateEnv, _folio: Folio): object | null {
  return null;
}

/**
 * `hugetlb_page_mapping_lock_write(page)` (mm/hugetlb.c, 6.3): the mapping of a shared
 * hugetlb folio with its `i_mmap_rwsem` trylocked for write, or null. A mapping that is
 * not an `@mmsim/rmap` AddressSpace has no `i_mmap_rwsem` to lock: null.
 */
function hugetlbPageMappingLockWrite(env: MigrateEnv, folio: Folio): RwSemaphore | null {
  const mapping = folioMapping(env.mem, folio);
  if (!isAddressSpace(mapping)) return null;
  const sem = mapping.iMmapRwsem;
  return sem.downWriteTrylock() ? sem : null;
}

/**
 * `unmap_and_move_huge_page(get_new_page, put_new_page, private, hpage, force, mode,
 * reason, ret)` (mm/migrate.c, 6.3): migrate one hugetlb folio; never batched, never split.
 *
 * - refcount 1: freed under us; back to the active list (and freed), SUCCESS.
 * - No destination: -ENOMEM.
 * - The src lock is trylocked; it is slept on only when `force` (pass > 2) and the mode is
 *   MIGRATE_SYNC or SYNC_NO_COPY; otherwise -EAGAIN.
 * - A folio being freed (a subpool but no mapping): -EBUSY (never in the model).
 * - anon: pin the anon_vma. dst is trylocked or -EAGAIN.
 * - Mapped: a shared (file) folio takes `i_mmap_rwsem` for write (PMD unsharing) and
 *   passes TTU_RMAP_LOCKED; `try_to_migrate(src, ttu)`, never TTU_BATCH_FLUSH.
 * - Unmapped: `move_to_new_folio`. Then `remove_migration_ptes(src, success ? dst : src)`.
 * - Unlock dst, drop the anon_vma pin; on success `move_hugetlb_state` and the destination
 *   is not given back; unlock src.
 * - On success src goes back to the active list (its last reference: freed to the pool);
 *   on an error other than -EAGAIN src moves to `ret`; -EAGAIN leaves it on `from`.
 * - The destination: `put_new_page` if the caller passed one (and it was not used), else
 *   `folio_putback_active_hugetlb(dst)` (which drops the allocation reference).
 */
export const unmapAndMoveHugePage = tracedFunction(
  'unmap_and_move_huge_page',
  unmapAndMoveHugePageBody,
);
function* unmapAndMoveHugePageBody(
  env: MigrateEnv,
  cb: MigrateCallbacks,
  src: Folio,
  force: boolean,
  mode: MigrateMode,
  _reason: MigrateReason,
  ret: FolioList,
): KernelGen<number> {
  const mem = env.mem;
  const locks = env.locks;
  const rmap = env.rmap;
  let rc = -EAGAIN;
  let pageWasMapped = 0;
  let anonVma: AnonVmaView | null = null;

  if (folioRefCount(mem, src) === 1) {
    // Freed from under us: we are done.
    traceFolioDone(env, src, 'freed');
    folioPutbackActiveHugetlb(env.hstate, src);
    return MIGRATEPAGE_SUCCESS;
  }
  const dst = callGetNewFolio(env, cb, src);
  if (dst === null) return -ENOMEM;
  let putNew = cb.putNewFolio !== null;

  // biome-ignore lint/suspicious/noConfusingLabels: the block ends at the kernel's `out:` label
  out: {
    if (!locks.folioTrylock(src, CALLER)) {
      if (!force) break out;
      if (mode !== MIGRATE_SYNC && mode !== MIGRATE_SYNC_NO_COPY) break out;
      if (!locks.folioLockFast(src, CALLER)) yield* locks.folioLockContended(src, CALLER);
    }
    // biome-ignore lint/suspicious/noConfusingLabels: the block ends at the kernel's `out_unlock:` label
    outUnlock: {
      // Without a mapping the hugetlbfs move routine would not run and a subpool count
      // would leak: the folio is being freed.
      if (hugetlbFolioSubpool(env, src) !== null && folioMapping(mem, src) === null) {
        rc = -EBUSY;
        break outUnlock;
      }
      if (folioTestAnon(mem, src)) anonVma = rmap.folioGetAnonVma(src);
      // biome-ignore lint/suspicious/noConfusingLabels: the block ends at the kernel's `put_anon:` label
      putAnon: {
        if (env.trylockFault.fire() || !locks.folioTrylock(dst, CALLER)) break putAnon;
        // biome-ignore lint/suspicious/noConfusingLabels: the block ends at the kernel's `unlock_put_anon:` label
        unlockPutAnon: {
          if (rmap.folioMapped(src)) {
            let ttu = 0;
            let sem: RwSemaphore | null = null;
            if (!folioTestAnon(mem, src)) {
              // try_to_unmap may unshare PMDs of a shared mapping: i_mmap_rwsem for write.
              sem = hugetlbPageMappingLockWrite(env, src);
              if (sem === null) break unlockPutAnon;
              ttu = TTU_RMAP_LOCKED;
            }
            yield* rmap.tryToMigrate(src, ttu);
            pageWasMapped = 1;
            if (sem !== null) sem.upWrite();
          }
          if (!rmap.folioMapped(src)) rc = yield* moveToNewFolio(env, dst, src, mode);
          if (pageWasMapped !== 0) {
            yield* rmap.removeMigrationPtes(src, rc === MIGRATEPAGE_SUCCESS ? dst : src, false);
          }
        }
        locks.folioUnlock(dst);
      }
      if (anonVma !== null) rmap.putAnonVma(anonVma);
      if (rc === MIGRATEPAGE_SUCCESS) {
        moveHugetlbState(env.hstate, src, dst);
        putNew = false;
      }
    }
    locks.folioUnlock(src);
  }
  if (rc === MIGRATEPAGE_SUCCESS) {
    traceFolioDone(env, src, 'freed');
    folioPutbackActiveHugetlb(env.hstate, src);
  } else if (rc !== -EAGAIN) listMoveTail(mem, src, ret);
  // An unused destination goes back through the caller's callback; otherwise the
  // reference taken at allocation is dropped.
  if (putNew) callPutNewFolio(cb, dst);
  else folioPutbackActiveHugetlb(env.hstate, dst);
  return rc;
}

/**
 * `migrate_hugetlbs(from, get_new_page, put_new_page, private, mode, reason, stats,
 * ret_folios)` (mm/migrate.c, 6.3, e5bfff8b10e4): up to NR_MAX_MIGRATE_PAGES_RETRY passes
 * over the hugetlb folios of `from` (the others are skipped), one
 * `unmap_and_move_huge_page` each, with `force` from the fourth pass.
 *
 * - Hugetlb migration unsupported for the hstate: failed, moved to `ret_folios`.
 * - -ENOMEM: the folio's pages and the pending retries count as failed pages; return
 *   -ENOMEM at once.
 * - -EAGAIN: a retry (stays on `from`); MIGRATEPAGE_SUCCESS: its pages succeeded; other
 *   errors: failed (already on `ret_folios`).
 *
 * After the passes the retries count as failures. Returns the hugetlb folios not
 * migrated, or -ENOMEM.
 */
export const migrateHugetlbs = tracedFunction('migrate_hugetlbs', migrateHugetlbsBody);

/**
 * Whether `from` holds a hugetlb folio, the only ones `migrate_hugetlbs` (above) acts on:
 * without one its passes skip every folio and it returns 0 with nothing changed, no
 * scheduling point passed and nothing charged, so an untraced caller may leave the call
 * out. Reads the memmap; a folio on the list that is not a live head throws the
 * accessor's error, as the walk of `migrate_hugetlbs` would.
 */
export function listHasHugetlb(env: MigrateEnv, from: FolioList): boolean {
  const mem = env.mem;
  const r = memmapReader(mem);
  for (let folio = from.first(); folio >= 0; folio = from.next(folio)) {
    if (!readerIsFolio(r, folio)) folioTestHugetlb(mem, folio);
    if (r.folioType[folio] === FOLIO_TYPE_HUGETLB) return true;
  }
  return false;
}
function* migrateHugetlbsBody(
  env: MigrateEnv,
  from: FolioList,
  cb: MigrateCallbacks,
  mode: MigrateMode,
  reason: MigrateReason,
  stats: MigrateStats,
  retFolios: FolioList,
): KernelGen<number> {
  const mem = env.mem;
  let retry = 1;
  let nrFailed = 0;
  let nrRetryPages = 0;
  for (let pass = 0; pass < NR_MAX_MIGRATE_PAGES_RETRY && retry !== 0; pass++) {
    retry = 0;
    nrRetryPages = 0;
    for (const folio of from) {
      if (!folioTestHugetlb(mem, folio)) continue;
      const nrPages = folioNrPages(mem, folio);
      yield; // cond_resched()
      // Callers like soft offline and memory hotremove do not check this first.
      if (!env.hugepageMigrationSupported) {
        nrFailed++;
        stats.nrFailedPages += nrPages;
        listMoveTail(mem, folio, retFolios);
        continue;
      }
      const rc = yield* unmapAndMoveHugePage(env, cb, folio, pass > 2, mode, reason, retFolios);
      switch (rc) {
        case -ENOMEM:
          // Memory is low: do not try the other folios.
          stats.nrFailedPages += nrPages + nrRetryPages;
          return -ENOMEM;
        case -EAGAIN:
          retry++;
          nrRetryPages += nrPages;
          env.reasonCosts.retry(reason);
          break;
        case MIGRATEPAGE_SUCCESS:
          stats.nrSucceeded += nrPages;
          break;
        default:
          // Permanent failure: already on ret_folios, not retried.
          nrFailed++;
          stats.nrFailedPages += nrPages;
          break;
      }
    }
  }
  // After the passes, the folios still asking for a retry have failed.
  nrFailed += retry;
  stats.nrFailedPages += nrRetryPages;
  return nrFailed;
}
