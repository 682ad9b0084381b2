import { MmsimError } from '../errors.js';
import type { Resource } from '../resource.js';
import type { Runtime } from '../runtime.js';
import type { KernelGen, Task } from '../task.js';
import { WaitEntry, WaitQueue } from '../wait-queue.js';

/**
 * spinlock_t as a queued spinlock: waiters spin in FIFO order (the MCS queue of
 * qspinlock) and the unlocker hands the lock to the first of them. A holder or spinner
 * has preemption disabled, so no other task runs on its CPU, and it must not sleep.
 *
 * Fast path without a generator: `if (!lock.trylock()) yield* lock.lockContended();`
 * or simply `yield* lock.lock()`.
 */
export class Spinlock implements Resource {
  readonly name: string;
  owner: Task | null = null;
  readonly #rt: Runtime;
  readonly #spinners: WaitQueue;

  constructor(rt: Runtime, name: string) {
    this.#rt = rt;
    this.name = name;
    this.#spinners = new WaitQueue(rt, name);
  }

  holders(): readonly Task[] {
    return this.owner === null ? [] : [this.owner];
  }

  get waiters(): number {
    return this.#spinners.length;
  }

  /** spin_trylock: takes the lock if it is free. */
  trylock(): boolean {
    const me = this.#rt.current;
    if (this.owner !== null) return false;
    this.owner = me;
    me.preemptCount++;
    me.held.add(this);
    this.#rt.charge(this.#rt.costs.lockRoundTrip);
    return true;
  }

  /** spin_lock. */
  *lock(): KernelGen {
    if (!this.trylock()) yield* this.lockContended();
  }

  /** The contended half of spin_lock: spin (queued) until the owner hands over. */
  *lockContended(): KernelGen {
    // Spinning on a lock we hold (AA) never ends, as in the kernel; the wait-for graph
    // reports it as a cycle of one.
    const me = this.#rt.current;
    me.preemptCount++;
    this.#spinners.add(new WaitEntry(me, true));
    this.#rt.blockSpinning('spin_lock', this);
    yield;
    // Handed over by unlock(): we own it now.
  }

  /** spin_unlock. */
  unlock(): void {
    const me = this.#rt.current;
    if (this.owner !== me) {
      throw new MmsimError(
        'CONTRACT_VIOLATION',
        `${me} unlocks ${this.name}, which is held by ${this.owner === null ? 'nobody' : String(this.owner)}`,
      );
    }
    me.preemptCount--;
    me.held.delete(this);
    const next = this.#spinners.entries[0];
    if (next === undefined) {
      this.owner = null;
      return;
    }
    this.owner = next.task;
    next.task.held.add(this);
    this.#spinners.wakeUp(1);
  }
}
