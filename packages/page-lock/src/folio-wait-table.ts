import {
  type Folio,
  folioClearFlag,
  folioPut,
  folioRefCount,
  folioSetFlag,
  folioTestFlag,
  folioTestSetFlag,
  PG_locked,
  PG_waiters,
  type PhysicalMemory,
} from '@mmsim/folio';
import {
  EINTR,
  FP_FOLIO,
  fatalSignalPending,
  type KernelGen,
  type Resource,
  type Runtime,
  type Task,
  WaitEntry,
  WaitQueue,
  type WakeFunction,
} from '@mmsim/runtime';
import {
  PAGE_WAIT_TABLE_SIZE,
  WQ_FLAG_CUSTOM,
  WQ_FLAG_DONE,
  WQ_FLAG_EXCLUSIVE,
  WQ_FLAG_WOKEN,
} from './constants.js';
import { folioWaitTableIndex } from './hash.js';
import { queueName } from './queue-name.js';

/** The queues' names by index (see `queueName`). */
const FOLIO_WAIT_NAMES: string[] = [];

/**
 * `enum behavior` of `folio_wait_bit_common` (mm/filemap.c, 6.3):
 * - `EXCLUSIVE`: take the bit when woken (`__folio_lock`); re-queue if someone stole it.
 * - `SHARED`: wait for the bit to clear (`folio_wait_bit`, writeback waits).
 * - `DROP`: like SHARED, but drop the caller's folio reference once queued
 *   (`folio_put_wait_locked`).
 */
export type WaitBehavior = 'EXCLUSIVE' | 'SHARED' | 'DROP';

/** `struct wait_page_queue`: what one page waiter waits for, and its wait flags. */
interface PageWait {
  readonly folio: Folio;
  readonly bit: number;
  /** WQ_FLAG_* of the entry; written by the waker, read by the waiter. */
  flags: number;
}

/** `struct wait_page_key`: what a wake-up is for. */
interface PageWakeKey {
  readonly folio: Folio;
  readonly bit: number;
  /** Set when the walk met any entry of this folio (whatever its bit). */
  pageMatch: boolean;
  readonly queue: WaitQueue;
}

/** One waiter of a folio as `PageLockTable.folioWaiters` lists it. */
export interface FolioWaiter {
  readonly task: Task;
  /** PG_locked or PG_writeback. */
  readonly bit: number;
  /** An exclusive (lock-taking) waiter. */
  readonly exclusive: boolean;
  /** Marked for hand-off (WQ_FLAG_CUSTOM): the unlocker will set the bit on its behalf. */
  readonly handoff: boolean;
}

/** What `FolioWaitTable.waiters` answers for a folio nobody waits on (shared, frozen). */
const NO_WAITERS: readonly FolioWaiter[] = Object.freeze([]);

/**
 * The folio wait table of mm/filemap.c (Linux 6.3): `PAGE_WAIT_TABLE_SIZE` hashed wait
 * queues shared by every folio, `wake_page_function`, `folio_wake_bit` and
 * `folio_wait_bit_common`. It knows the owner array only to record who gets PG_locked when
 * the bit is taken inside the wait code (a waiter's own test-and-set, or a hand-off).
 */
export class FolioWaitTable {
  /**
   * The hashed queues, each made when first used (a machine uses a handful of its
   * PAGE_WAIT_TABLE_SIZE; a queue has no state but its waiters, so making it later changes nothing),
   * by index, in a map made with the first of them: null until then. A map of the few
   * queues made, not a table of PAGE_WAIT_TABLE_SIZE slots (a kilobyte for each machine an explorer
   * builds that waits here at all).
   */
  #queues: Map<number, WaitQueue> | null = null;
  /** `sysctl_page_lock_unfairness`: stolen wake-ups a lock waiter accepts before hand-off. */
  readonly unfairness: number;
  readonly #rt: Runtime;
  readonly #mem: PhysicalMemory;
  readonly #owner: Int32Array;
  readonly #wake: WakeFunction;

  constructor(rt: Runtime, mem: PhysicalMemory, owner: Int32Array, unfairness: number) {
    this.unfairness = unfairness;
    this.#rt = rt;
    this.#mem = mem;
    this.#owner = owner;
    // Made first, then stored: on Node 20 (V8 11.3) a closure stored straight into a
    // property as it is made stays reachable through young-generation collections, and with
    // it the whole machine (docs/exploration.md, "Speed").
    const wake: WakeFunction = (entry, key) => this.#wakePageFunction(entry, key as PageWakeKey);
    this.#wake = wake;
  }

  /** `folio_waitqueue(folio)`: the hashed queue the folio's waiters sleep on. */
  queueOf(folio: Folio): WaitQueue {
    return this.#queue(folioWaitTableIndex(folio));
  }

  /** Every hashed queue, in index order. */
  get queues(): readonly WaitQueue[] {
    const out: WaitQueue[] = [];
    for (let i = 0; i < PAGE_WAIT_TABLE_SIZE; i++) out.push(this.#queue(i));
    return out;
  }

  #queue(i: number): WaitQueue {
    let queues = this.#queues;
    if (queues === null) {
      queues = new Map();
      this.#queues = queues;
    }
    let q = queues.get(i);
    if (q === undefined) {
      q = new WaitQueue(this.#rt, queueName(FOLIO_WAIT_NAMES, 'folio_wait_table', i));
      queues.set(i, q);
    }
    return q;
  }

  /** The waiters of `folio` on its queue, head first. */
  waiters(folio: Folio): readonly FolioWaiter[] {
    // Read without making the folio's queue: a queue not yet made has no waiter, and
    // no-lock-held-at-end asks for every live folio at the end of each explored schedule
    // (it made a queue, with an object id, and a list per folio before).
    const queue = this.#queues?.get(folioWaitTableIndex(folio));
    if (queue === undefined || queue.length === 0) return NO_WAITERS;
    const out: FolioWaiter[] = [];
    for (const entry of queue.entries) {
      const w = entry.data as PageWait;
      if (w.folio !== folio) continue;
      out.push({
        task: entry.task,
        bit: w.bit,
        exclusive: (w.flags & WQ_FLAG_EXCLUSIVE) !== 0,
        handoff: (w.flags & WQ_FLAG_CUSTOM) !== 0,
      });
    }
    return out;
  }

  /**
   * How many waiters of `folio` its queue holds (`waiters(folio).length`, counted without
   * making a list, or the queue when it is not made yet).
   */
  waiterCount(folio: Folio): number {
    const queue = this.#queues?.get(folioWaitTableIndex(folio));
    if (queue === undefined) return 0;
    const entries = queue.entries;
    let n = 0;
    for (let i = 0; i < entries.length; i++) {
      if ((entries[i]!.data as PageWait).folio === folio) n++;
    }
    return n;
  }

  /**
   * `wake_page_function` (mm/filemap.c, 6.3). Skips entries of other folios (noting in the
   * key when it meets one of this folio, whatever its bit). For an exclusive waiter: if the
   * bit is set again it stops the walk (-1); if the waiter is marked for hand-off it takes
   * the bit on the waiter's behalf (WQ_FLAG_DONE) and stops the walk if it cannot. Then it
   * marks the entry WOKEN, wakes the task, and removes the entry. Returns 1 for a woken
   * entry (the kernel returns 0 for a shared one; the runtime only counts exclusive entries
   * against nr_exclusive, as __wake_up_common does, so the walk is the same).
   */
  #wakePageFunction(entry: WaitEntry, key: PageWakeKey): number {
    const wait = entry.data as PageWait;
    if (wait.folio !== key.folio) return 0;
    key.pageMatch = true;
    if (wait.bit !== key.bit) return 0;
    let flags = wait.flags;
    if ((flags & WQ_FLAG_EXCLUSIVE) !== 0) {
      if (folioTestFlag(this.#mem, key.folio, key.bit)) return -1;
      if ((flags & WQ_FLAG_CUSTOM) !== 0) {
        if (folioTestSetFlag(this.#mem, key.folio, key.bit)) return -1;
        if (key.bit === PG_locked) this.#owner[key.folio] = entry.task.id;
        flags |= WQ_FLAG_DONE;
      }
    }
    wait.flags = flags | WQ_FLAG_WOKEN;
    this.#rt.wake(entry.task);
    key.queue.remove(entry);
    return 1;
  }

  /**
   * `folio_wake_bit` (mm/filemap.c, 6.3): walk the folio's queue with nr_exclusive = 1
   * (every matching shared waiter up to and including the first exclusive one that is
   * woken), then clear PG_waiters if the queue is empty or the walk met no entry of this
   * folio. As in the kernel, PG_waiters may stay set spuriously when the walk woke this
   * folio's last waiter but other folios still wait on the same queue; the next wake-up
   * of this folio clears it. (The 6.3 walk also breaks every 64 entries with a bookmark to
   * drop the queue lock; that changes nothing here, where the walk is atomic.)
   */
  wakeBit(folio: Folio, bit: number): void {
    const queue = this.queueOf(folio);
    const key: PageWakeKey = { folio, bit, pageMatch: false, queue };
    queue.wakeUp(1, key);
    if (queue.length === 0 || !key.pageMatch) folioClearFlag(this.#mem, folio, PG_waiters);
  }

  /**
   * `folio_wait_bit_common(folio, bit_nr, state, behavior)` (mm/filemap.c, 6.3).
   *
   * Each round: set the entry's flags (EXCLUSIVE, plus CUSTOM once `page_lock_unfairness`
   * rounds have failed), set PG_waiters, try the bit once more (`folio_trylock_flag`: take
   * it, or for SHARED see it clear), and if that fails queue at the tail. DROP then puts
   * the caller's reference. Sleep (`io_schedule`) until the entry is WOKEN; a killable
   * sleeper (`killable`, TASK_KILLABLE) also stops on a fatal signal, but a WOKEN flag is
   * looked at first, as in the kernel. A woken EXCLUSIVE waiter is done if the waker
   * handed it the bit (DONE), otherwise it test-and-sets the bit itself and starts a new
   * round if someone stole it. Finally `finish_wait` dequeues the entry (PG_waiters is
   * left for the next waker, as the kernel leaves it).
   *
   * Returns 0, or -EINTR when a killable wait ended on a fatal signal (EXCLUSIVE: the bit
   * was not taken; SHARED/DROP: not woken). Thrashing / PSI accounting is not modelled.
   */
  *waitBitCommon(
    folio: Folio,
    bit: number,
    killable: boolean,
    behavior: WaitBehavior,
    waitsIn: string,
    resource: Resource,
  ): KernelGen<number> {
    const rt = this.#rt;
    const mem = this.#mem;
    const me = rt.current;
    const queue = this.queueOf(folio);
    const exclusive = behavior === 'EXCLUSIVE';
    let unfairness = this.unfairness;
    const wait: PageWait = { folio, bit, flags: 0 };
    const entry = new WaitEntry(me, exclusive, this.#wake, wait);

    repeat: for (;;) {
      rt.touchKernel(FP_FOLIO, folio, true);
      wait.flags = 0;
      if (exclusive) {
        wait.flags = WQ_FLAG_EXCLUSIVE;
        if (--unfairness < 0) wait.flags |= WQ_FLAG_CUSTOM;
      }
      folioSetFlag(mem, folio, PG_waiters);
      if (!this.#trylockFlag(folio, bit, wait, me)) queue.addTail(entry);
      // A last put frees the folio (buddy, counters): not declared, so the step is global.
      if (behavior === 'DROP' && folioRefCount(mem, folio) <= 1) rt.touchAll();
      if (behavior === 'DROP') folioPut(mem, folio);

      for (;;) {
        rt.touchKernel(FP_FOLIO, folio, true); // again after each sleep: a new step
        const flags = wait.flags;
        if ((flags & WQ_FLAG_WOKEN) === 0) {
          if (killable && fatalSignalPending(rt, me)) break repeat;
          rt.blockCurrent(waitsIn, resource, killable);
          yield;
          continue;
        }
        if (!exclusive) break repeat;
        if ((flags & WQ_FLAG_DONE) !== 0) break repeat;
        if (folioTestSetFlag(mem, folio, bit)) continue repeat;
        if (bit === PG_locked) this.#owner[folio] = me.id;
        wait.flags |= WQ_FLAG_DONE;
        break repeat;
      }
    }
    queue.remove(entry);
    if (exclusive) return (wait.flags & WQ_FLAG_DONE) !== 0 ? 0 : -EINTR;
    return (wait.flags & WQ_FLAG_WOKEN) !== 0 ? 0 : -EINTR;
  }

  /**
   * `migration_entry_wait_on_locked` (mm/filemap.c, 6.3) after its caller has found a
   * migration entry: queue a SHARED waiter for PG_locked without taking a folio reference
   * (the page-table lock keeps the folio alive until the waiter is queued), then release
   * the page-table lock `ptl` (when given), then sleep uninterruptibly until woken. The
   * refcount is never touched.
   */
  *migrationEntryWait(
    folio: Folio,
    ptl: { unlock(): void } | null,
    waitsIn: string,
    resource: Resource,
  ): KernelGen {
    const rt = this.#rt;
    const me = rt.current;
    const queue = this.queueOf(folio);
    const wait: PageWait = { folio, bit: PG_locked, flags: 0 };
    const entry = new WaitEntry(me, false, this.#wake, wait);
    folioSetFlag(this.#mem, folio, PG_waiters);
    if (!this.#trylockFlag(folio, PG_locked, wait, me)) queue.addTail(entry);
    if (ptl !== null) ptl.unlock();
    while ((wait.flags & WQ_FLAG_WOKEN) === 0) {
      rt.blockCurrent(waitsIn, resource, false);
      yield;
    }
    queue.remove(entry);
  }

  /**
   * `folio_trylock_flag` (mm/filemap.c, 6.3): for an exclusive waiter take the bit, for a
   * shared one check that it is clear; on success mark the entry WOKEN | DONE.
   */
  #trylockFlag(folio: Folio, bit: number, wait: PageWait, me: Task): boolean {
    if ((wait.flags & WQ_FLAG_EXCLUSIVE) !== 0) {
      if (folioTestSetFlag(this.#mem, folio, bit)) return false;
      if (bit === PG_locked) this.#owner[folio] = me.id;
    } else if (folioTestFlag(this.#mem, folio, bit)) {
      return false;
    }
    wait.flags |= WQ_FLAG_WOKEN | WQ_FLAG_DONE;
    return true;
  }
}
