import { MmsimError } from '../errors.js';
import type { Resource } from '../resource.js';
import type { Runtime } from '../runtime.js';
import type { KernelGen, Task } from '../task.js';
import { WaitEntry, WaitQueue } from '../wait-queue.js';

/**
 * struct mutex: one owner, sleeping waiters in FIFO order. Unlock hands the mutex to the
 * first waiter, which is what the kernel's MUTEX_FLAG_HANDOFF does once a waiter has
 * been starved; the model always hands off, which keeps schedules reproducible and never
 * lets a late comer steal from a sleeper. Optimistic spinning is not modelled.
 */
export class Mutex implements Resource {
  readonly name: string;
  owner: Task | null = null;
  readonly #rt: Runtime;
  readonly #waiters: WaitQueue;

  constructor(rt: Runtime, name: string) {
    this.#rt = rt;
    this.name = name;
    this.#waiters = new WaitQueue(rt, name);
  }

  holders(): readonly Task[] {
    return this.owner === null ? [] : [this.owner];
  }

  get waiters(): number {
    return this.#waiters.length;
  }

  /** mutex_trylock. */
  trylock(): boolean {
    const me = this.#rt.current;
    if (this.owner !== null) return false;
    this.owner = me;
    me.held.add(this);
    this.#rt.charge(this.#rt.costs.lockRoundTrip);
    return true;
  }

  /** mutex_lock: sleeps until the mutex is handed over. `waitsIn` names the caller's function. */
  *lock(waitsIn = 'mutex_lock'): KernelGen {
    if (this.trylock()) return;
    const me = this.#rt.current;
    this.#waiters.add(new WaitEntry(me, true));
    this.#rt.blockCurrent(waitsIn, this);
    yield;
  }

  /** mutex_unlock. */
  unlock(): void {
    const me = this.#rt.current;
    if (this.owner !== me) {
      throw new MmsimError(
        'CONTRACT_VIOLATION',
        `${me} unlocks ${this.name}, which is held by ${this.owner === null ? 'nobody' : String(this.owner)}`,
      );
    }
    me.held.delete(this);
    const next = this.#waiters.entries[0];
    if (next === undefined) {
      this.owner = null;
      return;
    }
    this.owner = next.task;
    next.task.held.add(this);
    this.#waiters.wakeUp(1);
  }
}
