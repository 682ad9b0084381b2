import type { Resource } from '../resource.js';
import type { Runtime } from '../runtime.js';
import type { KernelGen, Task } from '../task.js';
import { WaitEntry, WaitQueue } from '../wait-queue.js';

/**
 * struct completion: `complete()` lets one waiter through (or banks it for the next
 * one), `completeAll()` lets everyone through from then on. Nobody holds a completion;
 * pass `signaller` to name the task expected to complete it, so a deadlock report can
 * follow the edge.
 */
export class Completion implements Resource {
  readonly name: string;
  /** Banked completions; Infinity after completeAll. */
  done = 0;
  signaller: Task | null;
  /** Footprint object id (see `FootprintLog`). */
  readonly objectId: number;
  readonly #rt: Runtime;
  readonly #waiters: WaitQueue;

  constructor(rt: Runtime, name: string, signaller: Task | null = null) {
    this.#rt = rt;
    this.name = name;
    this.objectId = rt.newObjectId();
    this.signaller = signaller;
    this.#waiters = new WaitQueue(rt, name);
  }

  holders(): readonly Task[] {
    return this.signaller === null ? [] : [this.signaller];
  }

  /** try_wait_for_completion. */
  tryWait(): boolean {
    this.#rt.touch(this.objectId, true);
    if (this.done === 0) return false;
    if (this.done !== Number.POSITIVE_INFINITY) this.done--;
    return true;
  }

  /** wait_for_completion. */
  *wait(waitsIn = 'wait_for_completion'): KernelGen {
    if (this.tryWait()) return;
    this.#waiters.add(new WaitEntry(this.#rt.current, true));
    this.#rt.blockCurrent(waitsIn, this);
    yield;
  }

  /** complete: wakes one waiter, handing it this completion, or banks it. */
  complete(): void {
    this.#rt.touch(this.objectId, true);
    if (this.done === Number.POSITIVE_INFINITY) return;
    if (this.#waiters.wakeUp(1) === 0) this.done++;
  }

  /** complete_all. */
  completeAll(): void {
    this.#rt.touch(this.objectId, true);
    this.done = Number.POSITIVE_INFINITY;
    this.#waiters.wakeUpAll();
  }
}
