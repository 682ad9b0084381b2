import type { KernelGen } from '../task.js';
import { OwnedLock } from './owned-lock.js';

/**
 * struct mutex: one owner, sleeping waiters in FIFO order. Unlock hands the mutex to the
 * first waiter, which is what the kernel's MUTEX_FLAG_HANDOFF does once a waiter has
 * been starved; the model always hands off, which keeps schedules reproducible and never
 * lets a late comer steal from a sleeper. Optimistic spinning is not modelled.
 */
export class Mutex extends OwnedLock {
  /** mutex_lock: sleeps until the mutex is handed over. `waitsIn` names the caller's function. */
  *lock(waitsIn = 'mutex_lock'): KernelGen {
    if (this.trylock()) return;
    this.enqueueCurrent();
    this.rt.blockCurrent(waitsIn, this);
    yield;
  }

  protected onAcquire(): void {}

  protected onRelease(): void {}
}
