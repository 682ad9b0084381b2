import { Completion, type KernelGen, MmsimError, type Runtime } from '@mmsim/runtime';

/**
 * A queue of work items for one consumer task (a kthread's work list: the loop device's
 * `lo->idle_worker_list`, a block device's completion queue). Producers `submit`; the
 * consumer sleeps in `next` until an item arrives, and gets null once every producer has
 * called `close` and the queue is empty.
 */
export class WorkQueue<T> {
  readonly name: string;
  readonly #items: T[] = [];
  readonly #pending: Completion;
  #producers: number;
  readonly #rt: Runtime;
  /** Footprint id of the list and the producer count (written by every operation). */
  readonly #objectId: number;

  constructor(rt: Runtime, name: string, producers = 1) {
    if (!Number.isInteger(producers) || producers < 1) {
      throw new MmsimError('INVALID_ARGUMENT', `${name}: producers must be a positive integer`);
    }
    this.name = name;
    this.#producers = producers;
    this.#pending = new Completion(rt, name);
    this.#rt = rt;
    this.#objectId = rt.newObjectId();
  }

  /** Items waiting. */
  get length(): number {
    return this.#items.length;
  }

  /** Queues an item and wakes the consumer. */
  submit(item: T): void {
    if (this.#producers === 0) {
      throw new MmsimError('INVALID_STATE', `${this.name}: submit after every producer closed it`);
    }
    this.#rt.touch(this.#objectId, true);
    this.#items.push(item);
    this.#pending.complete();
  }

  /** One producer is done; after the last one, the consumer gets null once the queue drains. */
  close(): void {
    if (this.#producers === 0) throw new MmsimError('INVALID_STATE', `${this.name} closed twice`);
    this.#rt.touch(this.#objectId, true);
    this.#producers--;
    if (this.#producers === 0) this.#pending.complete();
  }

  /** The next item, sleeping in `waitsIn` until there is one; null when closed and empty. */
  *next(waitsIn: string): KernelGen<T | null> {
    for (;;) {
      this.#rt.touch(this.#objectId, true);
      if (this.#items.length > 0 && this.#pending.tryWait()) return this.#items.shift() as T;
      if (this.#items.length === 0 && this.#producers === 0) return null;
      yield* this.#pending.wait(waitsIn);
      this.#rt.touch(this.#objectId, true); // a new step after the wait
      if (this.#items.length > 0) return this.#items.shift() as T;
      if (this.#producers === 0) return null;
    }
  }
}
