import { type KernelGen, MmsimError, mightSleep } from '@mmsim/runtime';
import type { FolioBatch } from './folio-batch.js';
import { batchDrainUncontended, drainBatch, drainBatchUncontended } from './lru-add.js';
import { type LruState, requireTask } from './lru-state.js';
import { mlockFolioBatch, needMlockDrain } from './mlock.js';
import type { MlockBatch } from './mlock-batch.js';
import { lruUncontended } from './uncontended.js';

/**
 * `lru_add_drain` (mm/swap.c, Linux 6.3): move this CPU's lru_add batch to the LRU
 * (`lru_add_drain_cpu` under the local lock). Other CPUs' batches are left alone. If a
 * remote drainer is moving this batch right now, it waits for that move to finish, so on
 * return every folio this CPU queued before the call is on an LRU list (or was isolated
 * or freed since). Then `mlock_drain_local`: this CPU's mlock_fbatch moves too.
 */
export function* lruAddDrain(s: LruState): KernelGen {
  const cpu = requireTask(s).cpu.id;
  const b = s.batches[cpu] as FolioBatch;
  if (b.nr !== 0 || b.lock.owner !== null) yield* drainBatch(s, b);
  // ... then mlock_drain_local() (6.3's lru_add_drain).
  if (needMlockDrain(s, cpu)) yield* mlockFolioBatch(s, s.mlockBatches[cpu] as MlockBatch);
}

/**
 * `lru_add_drain` (above) as plain calls when nothing in it can spin or sleep: the batch's
 * move is uncontended (`batchDrainUncontended`) and this CPU's mlock batch is empty.
 * Returns true when done; false, having changed nothing, otherwise (then call
 * `lruAddDrain`).
 */
export function lruAddDrainUncontended(s: LruState): boolean {
  const cpu = requireTask(s).cpu.id;
  const b = s.batches[cpu] as FolioBatch;
  if (!lruUncontended.enabled || needMlockDrain(s, cpu) || !batchDrainUncontended(s, b, -1)) {
    return false;
  }
  lruUncontended.drains++;
  if (b.nr !== 0) drainBatchUncontended(s, b);
  return true;
}

/**
 * `__lru_add_drain_all(force_all_cpus)` (mm/swap.c, Linux 6.3). The kernel takes a static
 * mutex, queues `lru_add_drain_per_cpu` on every CPU whose batches are not empty and waits
 * for all of them (`flush_work`). The model drains each such CPU's batch from the calling
 * task, one CPU after the other, under the right `lru_lock`s, and waits for a move of that
 * batch already in flight (the kernel counts a batch being moved as non-empty). The drain
 * generation is kept too: a caller that had to wait for the mutex while another drain
 * started returns at once, because that drain covered its folios, unless `force` (as
 * `lru_cache_disable` passes).
 */
export function* lruAddDrainAllForce(s: LruState, force: boolean): KernelGen {
  mightSleep(requireTask(s), force ? 'lru_cache_disable' : 'lru_add_drain_all');
  const thisGen = s.drainGen;
  yield* s.drainAllLock.lock('lru_add_drain_all');
  if (thisGen !== s.drainGen && !force) {
    s.drainAllLock.unlock();
    return;
  }
  s.drainGen++;
  for (const b of s.batches) {
    if (b.nr > 0 || b.lock.owner !== null) yield* drainBatch(s, b);
    // lru_add_drain_per_cpu ends with mlock_drain_local (need_mlock_drain).
    if (needMlockDrain(s, b.cpu)) yield* mlockFolioBatch(s, s.mlockBatches[b.cpu] as MlockBatch);
  }
  s.drainAllLock.unlock();
}

/**
 * `__lru_add_drain_all(force_all_cpus)` (above) as plain calls when nothing in it waits or
 * spins: the drain mutex is free (`mutex_lock` takes it at once), no CPU's mlock batch needs
 * a drain, and every CPU's lru_add batch is empty with no move of it in flight, or its move
 * is uncontended (`batchDrainUncontended`: every lock free, no batch reference the last).
 * Then it does what `lruAddDrainAllForce` does, in the same order with the same lock records
 * and charges (each batch's move as `drainBatchUncontended`, as `lru_add_drain`'s plain path
 * does) and returns true. Otherwise false, having changed nothing: run `lruAddDrainAllForce`.
 * Each batch is checked before any moves: the moves touch disjoint folios and leave every
 * lock free, so one move cannot make another contended.
 */
export function lruAddDrainAllUncontended(s: LruState, force: boolean): boolean {
  if (!lruUncontended.enabled || s.drainAllLock.owner !== null) return false;
  for (const b of s.batches) {
    if (needMlockDrain(s, b.cpu)) return false;
    if (b.nr === 0 && b.lock.owner === null) continue;
    if (!batchDrainUncontended(s, b, -1)) return false;
  }
  mightSleep(requireTask(s), force ? 'lru_cache_disable' : 'lru_add_drain_all');
  s.drainAllLock.trylock(); // free: mutex_lock's fast path
  s.drainGen++;
  for (const b of s.batches) {
    if (b.nr === 0) continue;
    lruUncontended.drains++;
    drainBatchUncontended(s, b);
  }
  s.drainAllLock.unlock();
  return true;
}

/** `lru_add_drain_all` (mm/swap.c, Linux 6.3): drain every CPU's lru_add batch; may sleep. */
export function lruAddDrainAll(s: LruState): KernelGen {
  return lruAddDrainAllForce(s, false);
}

/**
 * `lru_cache_disable` (mm/swap.c, Linux 6.3): increment `lru_disable_count`, then drain
 * every CPU (forced). From then until the matching `lru_cache_enable`, `folio_add_lru`
 * moves each folio to the LRU at once, so `folio_isolate_lru` does not fail on a folio
 * parked in a batch. The kernel's `synchronize_rcu_expedited` between the two waits for
 * adders that read the old count; in the model queueing a folio and reading the count are
 * one atomic step, so there is nothing to wait for. May sleep.
 */
export function* lruCacheDisable(s: LruState): KernelGen {
  mightSleep(requireTask(s), 'lru_cache_disable');
  s.disableCount++;
  if (!lruAddDrainAllUncontended(s, true)) yield* lruAddDrainAllForce(s, true);
}

/**
 * `lru_cache_enable` (include/linux/swap.h, Linux 6.3): `atomic_dec(&lru_disable_count)`.
 * Enabling more often than disabling is a CONTRACT_VIOLATION (the count stays at 0).
 */
export function lruCacheEnable(s: LruState): void {
  if (s.disableCount === 0) {
    throw new MmsimError(
      'CONTRACT_VIOLATION',
      'lruCacheEnable without a matching lruCacheDisable: lru_disable_count is already 0',
    );
  }
  s.disableCount--;
}

/** `lru_cache_disabled` (include/linux/swap.h, Linux 6.3): `lru_disable_count` is not 0. */
export function lruCacheDisabled(s: LruState): boolean {
  return s.disableCount > 0;
}
