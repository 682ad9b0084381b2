import type { Runtime } from './runtime.js';
import type { Task } from './task.js';

/**
 * Called for each entry a wake-up walks over, as the kernel's wait_queue_func_t: return
 * a negative number to stop the walk, positive when an exclusive entry was woken (it
 * counts against the wake-up's exclusive budget), 0 otherwise.
 */
export type WakeFunction = (entry: WaitEntry, key: unknown) => number;

/** One sleeper on a wait queue (wait_queue_entry). */
export class WaitEntry {
  readonly task: Task;
  readonly exclusive: boolean;
  /** Per-entry data for a custom wake function (the page-lock key, say). */
  data: unknown;
  readonly wake: WakeFunction | null;
  /** The queue this entry sits on, or null. Maintained by WaitQueue. */
  queue: WaitQueue | null = null;

  constructor(
    task: Task,
    exclusive: boolean,
    wake: WakeFunction | null = null,
    data: unknown = undefined,
  ) {
    this.task = task;
    this.exclusive = exclusive;
    this.wake = wake;
    this.data = data;
  }
}

/**
 * A wait queue (wait_queue_head) with the kernel's order: shared waiters are added at the
 * head, exclusive waiters at the tail, and a wake-up wakes every shared waiter it meets
 * and at most `nrExclusive` exclusive ones (__wake_up_common, 6.3).
 */
export class WaitQueue {
  readonly name: string;
  /** Footprint object id (see `FootprintLog`). */
  readonly objectId: number;
  readonly #rt: Runtime;
  readonly #entries: WaitEntry[] = [];

  /** `objectId`: an id taken earlier from `rt.newObjectId()`; default a new one. */
  constructor(rt: Runtime, name: string, objectId?: number) {
    this.#rt = rt;
    this.name = name;
    this.objectId = objectId ?? rt.newObjectId();
  }

  get length(): number {
    return this.#entries.length;
  }

  /** The queued entries, head first. */
  get entries(): readonly WaitEntry[] {
    return this.#entries;
  }

  /** Queues an entry: shared at the head, exclusive at the tail. */
  add(entry: WaitEntry): void {
    this.#rt.touch(this.objectId, true);
    if (entry.queue !== null) entry.queue.remove(entry);
    entry.queue = this;
    if (entry.exclusive) this.#entries.push(entry);
    else this.#entries.unshift(entry);
  }

  /**
   * Queues an entry at the tail whatever its kind (__add_wait_queue_entry_tail), as the
   * page wait queues do for shared and exclusive waiters alike.
   */
  addTail(entry: WaitEntry): void {
    this.#rt.touch(this.objectId, true);
    if (entry.queue !== null) entry.queue.remove(entry);
    entry.queue = this;
    this.#entries.push(entry);
  }

  remove(entry: WaitEntry): void {
    this.#rt.touch(this.objectId, true);
    if (entry.queue !== this) return;
    // Moved by hand: `splice` allocates the array of what it removed at every call, and
    // every wake-up of a sleeper removes its entry (mostly the first).
    const entries = this.#entries;
    const n = entries.length;
    let i = 0;
    while (i < n && entries[i] !== entry) i++;
    if (i < n) {
      for (; i < n - 1; i++) entries[i] = entries[i + 1] as WaitEntry;
      entries.pop();
    }
    entry.queue = null;
  }

  /**
   * Wakes waiters in queue order. Entries without a wake function are woken and removed
   * (autoremove_wake_function). Returns how many entries were woken.
   */
  wakeUp(nrExclusive = 1, key: unknown = undefined): number {
    this.#rt.touch(this.objectId, true);
    const entries = this.#entries;
    // The walk goes over the entries queued when it began, whatever the wake functions do
    // to the queue. With one entry or none there is nothing to copy (most wake-ups).
    if (entries.length <= 1) {
      const entry = entries[0];
      if (entry === undefined) return 0;
      const ret = entry.wake === null ? this.#defaultWake(entry) : entry.wake(entry, key);
      return ret > 0 ? 1 : 0;
    }
    let woken = 0;
    let budget = nrExclusive;
    for (const entry of [...entries]) {
      const ret = entry.wake === null ? this.#defaultWake(entry) : entry.wake(entry, key);
      if (ret < 0) break;
      if (ret > 0) {
        woken++;
        if (entry.exclusive && --budget === 0) break;
      }
    }
    return woken;
  }

  /** Wakes every waiter (wake_up_all). */
  wakeUpAll(key: unknown = undefined): number {
    return this.wakeUp(Number.POSITIVE_INFINITY, key);
  }

  #defaultWake(entry: WaitEntry): number {
    if (!this.#rt.wake(entry.task)) return 0;
    this.remove(entry);
    return 1;
  }
}
