import { MmsimError } from '../errors.js';
import type { Resource } from '../resource.js';
import type { Runtime } from '../runtime.js';
import type { KernelGen, Task } from '../task.js';
import { WaitEntry, WaitQueue } from '../wait-queue.js';
import { heldLocksChanged } from './held-epoch.js';

const READER = 'reader';
const WRITER = 'writer';

/**
 * struct rw_semaphore (kernel/locking/rwsem.c, 6.3), with its fairness rules:
 * - a reader gets in only when no writer holds it and nobody is queued (the
 *   RWSEM_READ_FAILED_MASK test includes the waiters flag), so readers cannot starve a
 *   queued writer; the trylocks fail under the same conditions;
 * - a release that leaves it free hands it to the head of the queue: a writer alone, or,
 *   when the head is a reader, every queued reader (rwsem_mark_wake wakes the readers
 *   anywhere in the queue).
 * Optimistic spinning and reader lock stealing are not modelled. Sleeping on an rwsem the
 * task already holds never ends; the wait-for graph reports it as a cycle of one.
 */
export class RwSemaphore implements Resource {
  readonly name: string;
  #writer: Task | null = null;
  /**
   * The read holders and how many read holds each has (a task may nest read holds), in the
   * order they got in. A sole reader sits in `#soleReader` (then `#readers` is empty), so
   * that the uncontended down_read/up_read round trip touches no Map (a Map that empties
   * and refills reallocates its table each time).
   */
  #soleReader: Task | null = null;
  #soleHolds = 0;
  readonly #readers = new Map<Task, number>();
  /** Footprint object id (see `FootprintLog`). */
  readonly objectId: number;
  readonly #rt: Runtime;
  readonly #waiters: WaitQueue;

  constructor(rt: Runtime, name: string) {
    this.#rt = rt;
    this.name = name;
    this.objectId = rt.newObjectId();
    this.#waiters = new WaitQueue(rt, name);
  }

  /** The task holding it for write, or null. */
  get writer(): Task | null {
    return this.#writer;
  }

  /** Every write, here or from outside, is counted in `heldLocksEpoch`. */
  set writer(task: Task | null) {
    heldLocksChanged();
    this.#writer = task;
  }

  holders(): readonly Task[] {
    if (this.writer !== null) return [this.writer];
    if (this.#soleReader !== null) return [this.#soleReader];
    return [...this.#readers.keys()];
  }

  /** Read holders and how many read holds each has, in the order they got in (a copy). */
  get readers(): ReadonlyMap<Task, number> {
    const sole = this.#soleReader;
    if (sole !== null) return new Map([[sole, this.#soleHolds]]);
    return new Map(this.#readers);
  }

  /** How many tasks hold it for read. */
  get readerCount(): number {
    return this.#soleReader !== null ? 1 : this.#readers.size;
  }

  /** Whether `task` holds it for read. */
  holdsRead(task: Task): boolean {
    return this.#soleReader === task || this.#readers.has(task);
  }

  get waiters(): number {
    return this.#waiters.length;
  }

  /** down_read_trylock. */
  downReadTrylock(): boolean {
    this.#rt.touch(this.objectId, true);
    const me = this.#rt.current;
    if (this.writer !== null || this.#waiters.length > 0) return false;
    this.#grantRead(me);
    this.#rt.charge(this.#rt.costs.lockRoundTrip);
    return true;
  }

  /** down_write_trylock. */
  downWriteTrylock(): boolean {
    this.#rt.touch(this.objectId, true);
    const me = this.#rt.current;
    if (this.writer !== null || this.readerCount > 0 || this.#waiters.length > 0) return false;
    this.#grantWrite(me);
    this.#rt.charge(this.#rt.costs.lockRoundTrip);
    return true;
  }

  /** down_read. */
  *downRead(waitsIn = 'down_read'): KernelGen {
    if (this.downReadTrylock()) return;
    this.#waiters.add(new WaitEntry(this.#rt.current, true, null, READER));
    this.#rt.blockCurrent(waitsIn, this);
    yield;
  }

  /** down_write. */
  *downWrite(waitsIn = 'down_write'): KernelGen {
    if (this.downWriteTrylock()) return;
    this.#waiters.add(new WaitEntry(this.#rt.current, true, null, WRITER));
    this.#rt.blockCurrent(waitsIn, this);
    yield;
  }

  /** up_read. */
  upRead(): void {
    this.#rt.touch(this.objectId, true);
    const me = this.#rt.current;
    if (this.#soleReader === me) {
      if (this.#soleHolds > 1) {
        this.#soleHolds--;
        return;
      }
      this.#soleReader = null;
      this.#soleHolds = 0;
      me.release(this);
      this.#handOff();
      return;
    }
    const holds = this.#readers.get(me);
    if (holds === undefined) {
      throw new MmsimError(
        'CONTRACT_VIOLATION',
        `${me} calls up_read on ${this.name} without holding it for read`,
      );
    }
    if (holds > 1) {
      this.#readers.set(me, holds - 1);
      return;
    }
    this.#readers.delete(me);
    me.release(this);
    if (this.#readers.size === 0) this.#handOff();
  }

  /** up_write. */
  upWrite(): void {
    this.#rt.touch(this.objectId, true);
    const me = this.#rt.current;
    if (this.writer !== me) {
      throw new MmsimError(
        'CONTRACT_VIOLATION',
        `${me} calls up_write on ${this.name} without holding it for write`,
      );
    }
    this.writer = null;
    me.release(this);
    this.#handOff();
  }

  /** downgrade_write: the writer becomes a reader and queued readers join it. */
  downgradeWrite(): void {
    this.#rt.touch(this.objectId, true);
    const me = this.#rt.current;
    if (this.writer !== me) {
      throw new MmsimError(
        'CONTRACT_VIOLATION',
        `${me} downgrades ${this.name} without holding it for write`,
      );
    }
    this.writer = null;
    // No reader while it was held for write: the writer becomes the sole reader, keeping
    // its hold record.
    this.#soleReader = me;
    this.#soleHolds = 1;
    this.#wakeReaders();
  }

  #grantRead(task: Task): void {
    const sole = this.#soleReader;
    if (sole === task) {
      this.#soleHolds++;
      return;
    }
    const readers = this.#readers;
    if (sole === null && readers.size === 0) {
      this.#soleReader = task;
      this.#soleHolds = 1;
      task.hold(this);
      return;
    }
    if (sole !== null) {
      // A second reader: both go to the Map, in the order they got in.
      readers.set(sole, this.#soleHolds);
      this.#soleReader = null;
      this.#soleHolds = 0;
    }
    const holds = readers.get(task) ?? 0;
    readers.set(task, holds + 1);
    if (holds === 0) task.hold(this);
  }

  #grantWrite(task: Task): void {
    this.writer = task;
    task.hold(this);
  }

  #handOff(): void {
    const head = this.#waiters.entries[0];
    if (head === undefined) return;
    if (head.data === WRITER) {
      this.#grantWrite(head.task);
      this.#waiters.wakeUp(1);
      return;
    }
    this.#wakeReaders();
  }

  #wakeReaders(): void {
    for (const entry of [...this.#waiters.entries]) {
      if (entry.data !== READER) continue;
      this.#grantRead(entry.task);
      this.#waiters.remove(entry);
      this.#rt.wake(entry.task);
    }
  }
}
