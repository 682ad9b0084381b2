import { MmsimError, type Spinlock } from '@mmsim/runtime';

/**
 * `spin_lock` inside a driver callback. The model runs a `movable_operations` callback as
 * one atomic step, and the drivers here hold their spinlocks only within a step (as the
 * kernel holds them for a few instructions with preemption off), so the lock is free
 * whenever a callback runs; finding it taken means a driver held a spinlock across a
 * scheduling point, which the model reports rather than spinning inside a step.
 */
export function spinLockInCallback(lock: Spinlock, driver: string, where: string): void {
  if (lock.trylock()) return;
  const owner = lock.owner === null ? 'someone' : lock.owner.name;
  throw new MmsimError(
    'CONTRACT_VIOLATION',
    `${driver}: ${where} found ${lock.name} held by ${owner}: a spinlock was held across a scheduling point`,
  );
}
