import type { KernelGen, Task } from '../task.js';
import { OwnedLock } from './owned-lock.js';

/**
 * spinlock_t as a queued spinlock: waiters spin in FIFO order (the MCS queue of
 * qspinlock) and the unlocker hands the lock to the first of them. A holder or spinner
 * has preemption disabled, so no other task runs on its CPU, and it must not sleep.
 *
 * Fast path without a generator: `if (!lock.trylock()) yield* lock.lockContended();`
 * or simply `yield* lock.lock()`.
 */
export class Spinlock extends OwnedLock {
  /** spin_lock. */
  *lock(): KernelGen {
    if (!this.trylock()) yield* this.lockContended();
  }

  /**
   * The contended half of spin_lock: spin (queued, preemption disabled) until the owner
   * hands over. Spinning on a lock we hold (AA) never ends, as in the kernel; the
   * wait-for graph reports it as a cycle of one.
   */
  *lockContended(): KernelGen {
    const me = this.enqueueCurrent();
    me.preemptCount++;
    this.rt.blockSpinning('spin_lock', this);
    yield;
  }

  protected onAcquire(task: Task): void {
    task.preemptCount++;
  }

  protected onRelease(task: Task): void {
    task.preemptCount--;
  }
}
