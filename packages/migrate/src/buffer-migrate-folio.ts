import {
  type Folio,
  folioAttachPrivate,
  folioDetachPrivate,
  folioRefCount,
  folioTestFlag,
  memoryAttachment,
  PG_writeback,
  setMemoryAttachment,
} from '@mmsim/folio';
import { BH_Dirty, BH_Lock, type BufferHead } from '@mmsim/page-lock';
import { EAGAIN, type KernelGen, Spinlock } from '@mmsim/runtime';
import { MIGRATEPAGE_SUCCESS } from './constants.js';
import { folioMigrateCopy, folioMigrateFlags } from './folio-migrate-flags.js';
import { folioExpectedRefs, folioMigrateMapping } from './folio-migrate-mapping.js';
import { migrateFolioExtra } from './migrate-folio.js';
import type { MigrateServices } from './migrate-services.js';
import {
  MIGRATE_ASYNC,
  MIGRATE_SYNC_LIGHT,
  MIGRATE_SYNC_NO_COPY,
  type MigrateMode,
} from './modes.js';

const CALLER = 'buffer_migrate_lock_buffers';

/** Calls `fn` on each buffer of a folio's ring (`head`, then `b_this_page` onwards). */
function forEachBuffer(head: BufferHead, fn: (bh: BufferHead) => void): void {
  let bh = head;
  do {
    fn(bh);
    bh = bh.thisPage;
  } while (bh !== head);
}

/** Whether some buffer of a folio's ring satisfies `test`. */
function someBuffer(head: BufferHead, test: (bh: BufferHead) => boolean): boolean {
  let bh = head;
  do {
    if (test(bh)) return true;
    bh = bh.thisPage;
  } while (bh !== head);
  return false;
}

/**
 * `buffer_migrate_lock_buffers(head, mode)` (mm/migrate.c, 6.3 and 6.5): lock every
 * buffer of the folio. A contended buffer: MIGRATE_ASYNC gives up; otherwise
 * `lock_buffer` sleeps. Giving up unlocks the buffers locked so far and returns false.
 * 6.3 sleeps in every mode but ASYNC (it even skips the trylock there, which the model's
 * trylock-then-sleep cannot tell apart); from 6.5 (`services.syncLightNeedsUptodate`,
 * 4bb6dc79d987, the same commit as the src-lock rule) MIGRATE_SYNC_LIGHT also gives up
 * on a buffer that is not uptodate (it is locked for I/O).
 *
 * Sleeping here while other folios are locked is the deadlock Hugh Dickins hit with
 * 6.3-rc1 (ext4 on a loop device on tmpfs): the model lets a variant that batches sync
 * modes do it, and the page-lock dependency checker sees it.
 */
export function* bufferMigrateLockBuffers(
  services: MigrateServices,
  head: BufferHead,
  mode: MigrateMode,
): KernelGen<boolean> {
  const got = trylockBuffersFrom(services, head, head, mode);
  if (typeof got === 'boolean') return got;
  return yield* lockBuffersFinish(services, head, got, mode);
}

/**
 * The trylocks of `buffer_migrate_lock_buffers` (above) from buffer `from` to the end of
 * the ring, as plain calls: true when every buffer is locked; false when it gave up (the
 * buffers locked so far unlocked again); or the buffer whose trylock failed in a mode that
 * sleeps on it, for `lockBuffersFinish` to run at once.
 */
function trylockBuffersFrom(
  services: MigrateServices,
  head: BufferHead,
  from: BufferHead,
  mode: MigrateMode,
): BufferHead | boolean {
  const locks = services.locks;
  let bh: BufferHead = from;
  do {
    if (!locks.trylockBuffer(bh, CALLER)) {
      if (
        mode === MIGRATE_ASYNC ||
        (services.syncLightNeedsUptodate &&
          mode === MIGRATE_SYNC_LIGHT &&
          !locks.bufferUptodate(bh))
      ) {
        // We failed to lock the buffer and cannot stall: unlock what we hold.
        const failed = bh;
        for (let b: BufferHead = head; b !== failed; b = b.thisPage) locks.unlockBuffer(b);
        return false;
      }
      return bh;
    }
    bh = bh.thisPage;
  } while (bh !== head);
  return true;
}

/**
 * The rest of `buffer_migrate_lock_buffers` from `busy`, whose trylock failed: `lock_buffer`
 * (it may sleep), then the trylocks of the buffers after it; returns whether all are locked.
 */
function* lockBuffersFinish(
  services: MigrateServices,
  head: BufferHead,
  busy: BufferHead,
  mode: MigrateMode,
): KernelGen<boolean> {
  const locks = services.locks;
  let bh = busy;
  for (;;) {
    if (!locks.lockBufferFast(bh, CALLER)) yield* locks.lockBufferContended(bh, CALLER);
    if (bh.thisPage === head) return true;
    const got = trylockBuffersFrom(services, head, bh.thisPage, mode);
    if (typeof got === 'boolean') return got;
    bh = got;
  }
}

/**
 * `mapping->private_lock` (`i_private_lock` since 6.8), one per mapping, made on first use.
 * It never spans a `yield` here; it exists for what it forbids (sleeping while it is held).
 */
const PRIVATE_LOCKS = { table: 'private_lock by mapping' };
function privateLockOf(services: MigrateServices, mapping: object): Spinlock {
  // Kept with the machine (`memoryAttachment`), not in a module-level WeakMap.
  let locks = memoryAttachment<Map<object, Spinlock>>(services.mem, PRIVATE_LOCKS);
  if (locks === undefined) {
    locks = new Map();
    setMemoryAttachment(services.mem, PRIVATE_LOCKS, locks);
  }
  let lock = locks.get(mapping);
  if (lock === undefined) {
    const name = (mapping as { name?: unknown }).name;
    lock = new Spinlock(services.rt, `private_lock ${typeof name === 'string' ? name : ''}`);
    locks.set(mapping, lock);
  }
  return lock;
}

/**
 * `__buffer_migrate_folio(mapping, dst, src, mode, check_refs)` (mm/migrate.c, 6.3).
 *
 * - No buffers: `migrate_folio`.
 * - An early check: a refcount other than `folio_expected_refs` gives -EAGAIN before any
 *   buffer is locked.
 * - Lock the buffers (`buffer_migrate_lock_buffers`), or -EAGAIN.
 * - `check_refs` (the `_norefs` form, for block devices): under `mapping->private_lock`
 *   every buffer must have b_count 0; if one is busy, drop the lock, `invalidate_bh_lrus()`
 *   once and look again; still busy is -EAGAIN. The lock is held to the end (through the
 *   copy, ebdf4de5642f, 5.0) unless the variant's `norefsLockCoversCopy` is off
 *   (2d900efff915, 6.15-rc4: released after the check; BH_Migrate, which makes
 *   `__find_get_block_slow` back off meanwhile, has no reader in the model).
 * - `folio_migrate_mapping`; the buffers move to dst with the private data and each is
 *   pointed at dst (`folio_set_bh`); copy and flags (flags only for SYNC_NO_COPY).
 * - Unlock every buffer.
 */
export function* bufferMigrateFolioCommon(
  services: MigrateServices,
  mapping: object,
  dst: Folio,
  src: Folio,
  mode: MigrateMode,
  checkRefs: boolean,
): KernelGen<number> {
  const mem = services.mem;
  const locks = services.locks;
  const head = locks.folioBuffers(src);
  if (head === null) return migrateFolioExtra(services, mapping, dst, src, mode, 0);
  // Check whether the folio has extra references before doing more work.
  if (folioRefCount(mem, src) !== folioExpectedRefs(services, mapping, src)) return -EAGAIN;
  // The trylocks as plain calls; a generator only for a buffer it must sleep on.
  const got = trylockBuffersFrom(services, head, head, mode);
  if (got === false) return -EAGAIN;
  if (got !== true && !(yield* lockBuffersFinish(services, head, got, mode))) return -EAGAIN;
  let rc: number = MIGRATEPAGE_SUCCESS;
  const privateLock = checkRefs ? privateLockOf(services, mapping) : null;
  if (privateLock !== null) {
    if (!privateLock.trylock()) yield* privateLock.lockContended();
    if (someBuffer(head, bufferReferenced)) {
      // The per-CPU bh LRUs may hold the reference: drop them once and look again.
      privateLock.unlock();
      services.invalidateBhLrus();
      if (!privateLock.trylock()) yield* privateLock.lockContended();
      if (someBuffer(head, bufferReferenced)) rc = -EAGAIN;
    }
    // 6.15-rc4: the lock covers the count check only.
    if (services.norefsLockCoversCopy === false) privateLock.unlock();
  }
  if (rc === MIGRATEPAGE_SUCCESS) {
    rc = folioMigrateMapping(services, mapping, dst, src, 0);
    if (rc === MIGRATEPAGE_SUCCESS) {
      folioAttachPrivate(mem, dst, folioDetachPrivate(mem, src));
      forEachBuffer(head, (bh) => locks.setBhPage(bh, dst));
      if (mode !== MIGRATE_SYNC_NO_COPY) folioMigrateCopy(services, dst, src);
      else folioMigrateFlags(services, dst, src);
    }
  }
  if (privateLock !== null && services.norefsLockCoversCopy !== false) privateLock.unlock();
  forEachBuffer(head, (bh) => locks.unlockBuffer(bh));
  return rc;
}

/** A buffer someone holds a reference to (`atomic_read(&bh->b_count)`). */
function bufferReferenced(bh: BufferHead): boolean {
  return bh.count !== 0;
}

/**
 * `buffer_migrate_folio(mapping, dst, src, mode)` (mm/migrate.c, 6.3): for filesystems
 * that guarantee no other references to the buffers (they are only touched under the
 * folio lock), such as ext4's data mappings.
 */
export function bufferMigrateFolio(
  services: MigrateServices,
  mapping: object,
  dst: Folio,
  src: Folio,
  mode: MigrateMode,
): KernelGen<number> {
  // The common generator itself, not one more level around it.
  return bufferMigrateFolioCommon(services, mapping, dst, src, mode, false);
}

/**
 * `buffer_migrate_folio_norefs(mapping, dst, src, mode)` (mm/migrate.c, 6.3): like
 * `buffer_migrate_folio`, but also refuses buffers that someone holds a reference to
 * (`b_count`), for mappings whose buffers are looked up directly (block devices).
 */
export function bufferMigrateFolioNorefs(
  services: MigrateServices,
  mapping: object,
  dst: Folio,
  src: Folio,
  mode: MigrateMode,
): KernelGen<number> {
  // The common generator itself, not one more level around it.
  return bufferMigrateFolioCommon(services, mapping, dst, src, mode, true);
}

/** `buffer_busy(bh)` (fs/buffer.c): referenced, dirty or locked. */
function bufferBusy(bh: BufferHead): boolean {
  return bh.count !== 0 || (bh.state & ((1 << BH_Dirty) | (1 << BH_Lock))) !== 0;
}

/**
 * `try_to_free_buffers(folio)` (fs/buffer.c, 6.3) for a locked folio: false under
 * writeback or when a buffer is busy (`drop_buffers`); otherwise the buffers are detached
 * (PG_private and its reference go) and freed. (With a mapping the kernel also cancels a
 * dirty folio's dirty state; migration only calls it on clean folios or on orphaned
 * ones without a mapping, so the model leaves that out.)
 */
export function tryToFreeBuffers(services: MigrateServices, folio: Folio): boolean {
  const mem = services.mem;
  if (folioTestFlag(mem, folio, PG_writeback)) return false;
  const head = services.locks.folioBuffers(folio);
  if (head === null) return true;
  if (someBuffer(head, bufferBusy)) return false;
  folioDetachPrivate(mem, folio);
  return true;
}
