import { MmsimError } from '../errors.js';
import type { Resource } from '../resource.js';
import type { Runtime } from '../runtime.js';
import type { KernelGen, Task } from '../task.js';
import { WaitEntry, WaitQueue } from '../wait-queue.js';

/**
 * `struct srcu_struct` (kernel/rcu/srcutree.c, include/linux/srcu.h; the semantics of every
 * kernel since 2.6.19, 6.x included), reduced to what the model needs: readers that may
 * sleep, and `synchronize_srcu()` that returns only once every reader that had entered its
 * read-side critical section before the call has left it.
 *
 * The kernel keeps two reader counters and an index: `srcu_read_lock()` increments the
 * counter of the current index and returns that index, `srcu_read_unlock(idx)` decrements
 * the same counter; a grace period flips the index, so that new readers count on the other
 * side, and waits for the old side to drain. The model does the same (one flip, then the
 * wait for the old side), without the per-CPU counters and memory barriers that only matter
 * to real hardware. A reader that starts after the flip does not hold the grace period up.
 * Readers are the holders a deadlock report follows from a task stuck in
 * `synchronize_srcu`; a reader that calls `synchronize_srcu` on its own SRCU deadlocks, as
 * in the kernel.
 */
export class Srcu implements Resource {
  readonly name: string;
  /** Footprint object id (see `FootprintLog`). */
  readonly objectId: number;
  readonly #rt: Runtime;
  /** Readers inside their critical section, per index (`srcu_lock_count - srcu_unlock_count`). */
  readonly #count: [number, number] = [0, 0];
  /** The tasks inside, per index, for deadlock reports (a task may nest: one entry each). */
  readonly #readers: [Task[], Task[]] = [[], []];
  /** `srcu_idx`: the side new readers count on. */
  #idx: 0 | 1 = 0;
  readonly #waiters: WaitQueue;

  constructor(rt: Runtime, name: string) {
    this.#rt = rt;
    this.name = name;
    this.objectId = rt.newObjectId();
    this.#waiters = new WaitQueue(rt, name);
  }

  /** Every task inside a read-side critical section, on either side. */
  holders(): readonly Task[] {
    return [...this.#readers[0], ...this.#readers[1]];
  }

  /** Readers inside their critical section (both sides). */
  get readers(): number {
    return this.#count[0] + this.#count[1];
  }

  /** `srcu_read_lock(ssp)`: enters a read-side critical section; returns its index. */
  readLock(): number {
    this.#rt.touch(this.objectId, true);
    const idx = this.#idx;
    this.#count[idx]++;
    this.#readers[idx].push(this.#rt.current);
    return idx;
  }

  /** `srcu_read_unlock(ssp, idx)`: leaves the critical section `readLock` returned `idx` for. */
  readUnlock(idx: number): void {
    this.#rt.touch(this.objectId, true);
    const side = idx === 0 ? 0 : 1;
    if ((idx !== 0 && idx !== 1) || this.#count[side] === 0) {
      throw new MmsimError(
        'CONTRACT_VIOLATION',
        `srcu_read_unlock(${this.name}, ${String(idx)}) without a matching srcu_read_lock`,
      );
    }
    this.#count[side]--;
    const readers = this.#readers[side];
    const at = readers.lastIndexOf(this.#rt.current);
    readers.splice(at >= 0 ? at : readers.length - 1, 1);
    if (this.#count[side] === 0) this.#waiters.wakeUpAll();
  }

  /**
   * `synchronize_srcu(ssp)`: flips the index and sleeps until every reader counted on the
   * old side has called `srcu_read_unlock`. Returns at once when there is none.
   */
  *synchronize(waitsIn = 'synchronize_srcu'): KernelGen {
    this.#rt.touch(this.objectId, true);
    const old = this.#idx;
    this.#idx = old === 0 ? 1 : 0;
    while (this.#count[old] !== 0) {
      this.#waiters.add(new WaitEntry(this.#rt.current, false));
      this.#rt.blockCurrent(waitsIn, this);
      yield;
    }
  }
}
