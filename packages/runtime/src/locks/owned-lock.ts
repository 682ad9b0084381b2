import { MmsimError } from '../errors.js';
import type { Resource } from '../resource.js';
import type { Runtime } from '../runtime.js';
import type { Task } from '../task.js';
import { WaitEntry, WaitQueue } from '../wait-queue.js';
import { heldLocksChanged } from './held-epoch.js';

/**
 * What a spinlock and a mutex share: one owner, FIFO waiters, and an unlock that hands
 * the lock to the first waiter. Subclasses say how a waiter waits (spins or sleeps) and
 * what holding it does to the task (a spinlock disables preemption).
 */
export abstract class OwnedLock implements Resource {
  readonly name: string;
  #owner: Task | null = null;
  /** Footprint object id (see `FootprintLog`). */
  readonly objectId: number;
  protected readonly rt: Runtime;
  readonly #waiters: WaitQueue;

  /**
   * A lock takes two footprint object ids, its own and its wait queue's, in that order:
   * from `rt.newObjectId()`, or `objectIds` and `objectIds + 1` when given (ids taken
   * earlier, so that a lock made on first use has the ids it would have had if made with
   * its owner, and footprints stay the same).
   */
  constructor(rt: Runtime, name: string, objectIds?: number) {
    this.rt = rt;
    this.name = name;
    this.objectId = objectIds ?? rt.newObjectId();
    this.#waiters = new WaitQueue(rt, name, objectIds === undefined ? undefined : objectIds + 1);
  }

  /** The task holding the lock, or null. */
  get owner(): Task | null {
    return this.#owner;
  }

  /** Every write, here or from outside, is counted in `heldLocksEpoch`. */
  set owner(task: Task | null) {
    heldLocksChanged();
    this.#owner = task;
  }

  holders(): readonly Task[] {
    return this.owner === null ? [] : [this.owner];
  }

  get waiters(): number {
    return this.#waiters.length;
  }

  /** Takes the lock if it is free. */
  trylock(): boolean {
    const me = this.rt.current;
    this.rt.touch(this.objectId, true);
    if (this.owner !== null) return false;
    this.owner = me;
    me.hold(this);
    this.onAcquire(me);
    this.rt.charge(this.rt.costs.lockRoundTrip);
    return true;
  }

  /** Releases the lock, handing it to the first waiter if there is one. */
  unlock(): void {
    const me = this.rt.current;
    this.rt.touch(this.objectId, true);
    if (this.owner !== me) {
      throw new MmsimError(
        'CONTRACT_VIOLATION',
        `${me} unlocks ${this.name}, which is held by ${this.owner === null ? 'nobody' : String(this.owner)}`,
      );
    }
    me.release(this);
    this.onRelease(me);
    const next = this.#waiters.entries[0];
    if (next === undefined) {
      this.owner = null;
      return;
    }
    this.owner = next.task;
    next.task.hold(this);
    this.#waiters.wakeUp(1);
  }

  /** Queues the current task; the caller then blocks it and yields. */
  protected enqueueCurrent(): Task {
    const me = this.rt.current;
    this.rt.touch(this.objectId, true);
    this.#waiters.add(new WaitEntry(me, true));
    return me;
  }

  protected abstract onAcquire(task: Task): void;
  protected abstract onRelease(task: Task): void;
}
