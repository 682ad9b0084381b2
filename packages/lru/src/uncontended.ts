import type { Runtime, Spinlock } from '@mmsim/runtime';

/**
 * @internal The uncontended fast paths of `folio_add_lru` and `lru_add_drain` (plain calls
 * when nothing can spin), their fusion (`folioAddLruDrainUncontended`) and the plain-call
 * start of `folio_isolate_lru` (`LruIsolation.folioIsolateLruStart`): switches and counts,
 * for the tests that compare them with the general path. Nothing in the model reads the
 * counts; `enabled` false makes every call take the general path, `addDrain` false makes
 * the fused call decline (the caller then makes the two calls), `lockAsCost` false makes
 * `uncontendedLock` really take the lock even without footprints.
 */
export const lruUncontended = {
  enabled: true,
  addDrain: true,
  lockAsCost: true,
  adds: 0,
  drains: 0,
  addDrains: 0,
  isolations: 0,
};

/**
 * `spin_lock(lock)` of a lock the caller saw free (`lock.owner === null`), in a plain call
 * that also drops it before returning, with no scheduling point in between: no other task
 * can see the hold. Unless the runtime records step footprints (the explorer's, which note
 * every touch of the lock), the round trip is taken as what it costs,
 * `costs.lockRoundTrip` (what `trylock` charges), without the lock's bookkeeping (owner,
 * the task's held list, preempt count); with footprints the lock is really taken. Returns
 * whether it was, for `uncontendedUnlock`. As packages/rmap's `uncontendedPtlLock`.
 */
export function uncontendedLock(rt: Runtime, lock: Spinlock): boolean {
  if (rt.footprints !== null || !lruUncontended.lockAsCost) return lock.trylock();
  rt.charge(rt.costs.lockRoundTrip);
  return false;
}

/** `spin_unlock(lock)` of `uncontendedLock`: unlocks only a lock it really took. */
export function uncontendedUnlock(lock: Spinlock, taken: boolean): void {
  if (taken) lock.unlock();
}
