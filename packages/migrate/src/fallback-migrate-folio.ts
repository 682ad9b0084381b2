import {
  type Folio,
  folioNid,
  folioNrPages,
  folioTestClearFlag,
  folioTestFlag,
  PG_dirty,
  PG_private,
  PG_writeback,
} from '@mmsim/folio';
import { EAGAIN, EBUSY, EINVAL, EIO, type KernelGen, NodeStat } from '@mmsim/runtime';
import type { WritebackControl } from './address-space-operations.js';
import { tryToFreeBuffers } from './buffer-migrate-folio.js';
import { BUILTIN_AOPS } from './builtin-aops.js';
import { AOP_WRITEPAGE_ACTIVATE } from './constants.js';
import { callDriver, callDriverGen } from './errors.js';
import { mappingAops } from './mapping-aops.js';
import { mappingCanWriteback } from './mapping-can-writeback.js';
import type { MigrateEnv } from './migrate-env.js';
import { migrateFolioExtra } from './migrate-folio.js';
import { MIGRATE_SYNC, MIGRATE_SYNC_NO_COPY, type MigrateMode } from './modes.js';

/**
 * `folio_clear_dirty_for_io(folio)` (mm/page-writeback.c, 6.3) for a locked folio:
 * test-and-clear PG_dirty; for a mapping that can write back, the folio leaves the node's
 * nr_dirty (NR_FILE_DIRTY). (`folio_mkclean` has nothing to write-protect here: the folio
 * is unmapped, its PTEs are migration entries.) Returns whether it was dirty.
 */
export function folioClearDirtyForIo(env: MigrateEnv, mapping: object, folio: Folio): boolean {
  const mem = env.mem;
  if (!folioTestClearFlag(mem, folio, PG_dirty)) return false;
  if (mappingCanWriteback(mapping)) {
    env.vmstat.modNodePageState(folioNid(mem, folio), NodeStat.NR_DIRTY, -folioNrPages(mem, folio));
  }
  return true;
}

/** The `writeback_control` of `writeout()` (mm/migrate.c, 6.3). */
const WRITEOUT_WBC: WritebackControl = Object.freeze({
  syncMode: 'WB_SYNC_NONE',
  nrToWrite: 1,
  rangeStart: 0,
  rangeEnd: Number.MAX_SAFE_INTEGER,
  forReclaim: true,
});

/**
 * `writeout(mapping, folio)` (mm/migrate.c, 6.3): write a dirty folio back so that a
 * later attempt can migrate it; this attempt cannot succeed any more.
 *
 * - No `->writepage`: -EINVAL.
 * - `folio_clear_dirty_for_io` finds it clean (someone else started the write): -EAGAIN.
 * - `remove_migration_ptes(folio, folio, false)`: the mappings come back, since the
 *   folio is about to be unlocked.
 * - `->writepage` (which unlocks the folio); relock it with `folio_lock` (a sleeping lock)
 *   unless it returned AOP_WRITEPAGE_ACTIVATE.
 * - -EIO if writepage failed, else -EAGAIN.
 *
 * In 6.3 the folio then stays on `unmap_folios` for the next move pass, though its PTEs
 * are back; that pass finds its mappings' references (or, if the I/O is still in flight,
 * hits the BUG_ON of `migrate_folio_extra`).
 */
export function* writeout(env: MigrateEnv, mapping: object, folio: Folio): KernelGen<number> {
  const aops = mappingAops(env.mem, mapping, folio);
  const writepage = aops.writepage;
  if (typeof writepage !== 'function') return -EINVAL;
  if (!folioClearDirtyForIo(env, mapping, folio)) return -EAGAIN;
  yield* env.rmap.removeMigrationPtes(folio, folio, false);
  const rc = BUILTIN_AOPS.has(aops)
    ? yield* writepage(env.services, folio, WRITEOUT_WBC)
    : yield* callDriverGen(aops.name, 'writepage', () =>
        writepage(env.services, folio, WRITEOUT_WBC),
      );
  if (rc !== AOP_WRITEPAGE_ACTIVATE) {
    // Unlocked by writepage: relock.
    const locks = env.locks;
    if (!locks.folioLockFast(folio, 'writeout')) yield* locks.folioLockContended(folio, 'writeout');
  }
  return rc < 0 ? -EIO : -EAGAIN;
}

/**
 * `filemap_release_folio(folio, gfp)` (mm/filemap.c, 6.3) for a locked folio: false under
 * writeback; the mapping's `->release_folio` if it has one, else `try_to_free_buffers`.
 */
export function filemapReleaseFolio(
  env: MigrateEnv,
  mapping: object | null,
  folio: Folio,
): boolean {
  if (folioTestFlag(env.mem, folio, PG_writeback)) return false;
  if (mapping !== null) {
    const aops = mappingAops(env.mem, mapping, folio);
    const release = aops.releaseFolio;
    if (typeof release === 'function') {
      return callDriver(aops.name, 'release_folio', () => release(env.services, folio)) === true;
    }
  }
  return tryToFreeBuffers(env.services, folio);
}

/**
 * `fallback_migrate_folio(mapping, dst, src, mode)` (mm/migrate.c, 6.3): the default for
 * a mapping without `->migrate_folio`.
 *
 * - A dirty folio can only be written out, and only in MIGRATE_SYNC or
 *   MIGRATE_SYNC_NO_COPY (`writeout`); any other mode gets -EBUSY.
 * - A folio with private data must lose it (`filemap_release_folio`); if that fails:
 *   -EAGAIN for MIGRATE_SYNC, -EBUSY otherwise.
 * - Then `migrate_folio`.
 */
export function* fallbackMigrateFolio(
  env: MigrateEnv,
  mapping: object,
  dst: Folio,
  src: Folio,
  mode: MigrateMode,
): KernelGen<number> {
  const mem = env.mem;
  if (folioTestFlag(mem, src, PG_dirty)) {
    // Only write back folios in full synchronous migration.
    if (mode !== MIGRATE_SYNC && mode !== MIGRATE_SYNC_NO_COPY) return -EBUSY;
    return yield* writeout(env, mapping, src);
  }
  // Buffers may be managed in a filesystem-specific way: they must go first.
  if (folioTestFlag(mem, src, PG_private) && !filemapReleaseFolio(env, mapping, src)) {
    return mode === MIGRATE_SYNC ? -EAGAIN : -EBUSY;
  }
  return migrateFolioExtra(env.services, mapping, dst, src, mode, 0);
}
