import { Worker } from 'node:worker_threads';
import type { BatchResult, DporShardResult, ScheduleBatch } from '@mmsim/explore';
import { decodeBatchResult } from './batch-wire.js';
import type { ExploreSpec } from './explore-spec.js';
import {
  type ExploreWorkerData,
  type FromWorker,
  TASK_TAKEN_BACK,
  type ToWorker,
} from './explore-worker.js';

/** A batch handed to a worker thread that none has started yet, taken back by `takeBack`. */
export interface TakenBack {
  readonly batch: ScheduleBatch;
  readonly signal: AbortSignal;
  readonly done: (result: BatchResult) => void;
  readonly fail: (error: unknown) => void;
}

interface Task extends TakenBack {
  /** A DPOR sub-shard's task (answered with its result as is; never taken back). */
  readonly dpor: boolean;
  readonly id: number;
  readonly spec: number;
  readonly thread: Thread;
  readonly onAbort: () => void;
}

interface Thread {
  readonly worker: Worker;
  /** Tasks sent and not answered yet (skipped ones included). */
  outstanding: number;
  /** The specs this thread was sent. */
  readonly specs: Set<number>;
  /** Its error, once it failed: later tasks fail with it. */
  dead: unknown;
}

/**
 * Worker threads running batches of explorations (explore-worker.ts), on node's
 * worker_threads: each thread has its own queue of batches, which it runs one after another
 * without waiting for this thread, answering each as soon as it is done; a batch goes to the
 * thread with the fewest batches outstanding. A batch not started yet can be taken back
 * (`takeBack`, to run on this thread) or cancelled (its signal): the threads then skip it.
 */
export class ExploreThreads {
  private readonly threads: Thread[] = [];
  private readonly tasks = new Map<number, Task>();
  private readonly slots: Int32Array;
  private nextId = 1;
  private destroyed = false;
  private skippedBatches = 0;

  /** Batches the threads skipped, as taken back or cancelled before they started them. */
  get skipped(): number {
    return this.skippedBatches;
  }

  constructor(filename: string, count: number, execArgv: string[] | undefined, slots: number) {
    this.slots = new Int32Array(new SharedArrayBuffer(4 * slots));
    const workerData: ExploreWorkerData = { mmsimExploreSlots: this.slots };
    for (let i = 0; i < count; i++) {
      const worker = new Worker(filename, {
        workerData,
        ...(execArgv === undefined ? {} : { execArgv }),
      });
      const thread: Thread = { worker, outstanding: 0, specs: new Set(), dead: null };
      worker.on('message', (m: FromWorker) => this.answer(thread, m));
      worker.on('error', (error) => this.fail(thread, error));
      worker.on('exit', (code) => {
        if (!this.destroyed) this.fail(thread, new Error(`explore worker exited (code ${code})`));
      });
      this.threads.push(thread);
    }
  }

  /** Runs a batch of exploration `spec` (an id of the caller's, with its `value`). */
  run(spec: number, value: ExploreSpec, batch: ScheduleBatch, signal: AbortSignal) {
    return new Promise<BatchResult>((done, fail) =>
      this.submit(false, spec, value, batch, signal, done, fail, (id) => ({
        kind: 'run',
        id,
        spec,
        from: batch.from,
        to: batch.to,
        pctSteps: batch.pctSteps,
      })),
    );
  }

  /**
   * Runs sub-shard `index` of `count` of DPOR exploration `spec` (`runDporShard`) on the
   * thread with the fewest tasks outstanding: until `deadline` (`Date.now()`), and, with
   * `cut` (shared by the sub-shards of one search), not past the lowest subtree with a finding.
   */
  runDpor(
    spec: number,
    value: ExploreSpec,
    shard: {
      readonly index: number;
      readonly count: number;
      readonly deadline?: number;
      /** Shared by the sub-shards of one search: nonzero once they are to stop (Ctrl-C). */
      readonly stop?: Int32Array;
    },
    cut: Int32Array | undefined,
    signal: AbortSignal,
  ) {
    const batch = { from: shard.index, to: shard.index + 1, pctSteps: 0 };
    return new Promise<DporShardResult>((done, fail) =>
      this.submit(
        true,
        spec,
        value,
        batch,
        signal,
        done as unknown as (result: BatchResult) => void,
        fail,
        (id) => ({
          kind: 'dpor',
          id,
          spec,
          index: shard.index,
          count: shard.count,
          deadline: shard.deadline,
          cut,
          stop: shard.stop,
        }),
      ),
    );
  }

  /**
   * Sends one task to the thread with the fewest outstanding: registers it (so that its
   * answer, a take-back or an abort settles it), publishes its slot, sends the spec the
   * first time that thread needs it, then the task's message.
   */
  private submit(
    dpor: boolean,
    spec: number,
    value: ExploreSpec,
    batch: ScheduleBatch,
    signal: AbortSignal,
    done: (result: BatchResult) => void,
    fail: (reason: unknown) => void,
    message: (id: number) => ToWorker,
  ): void {
    if (signal.aborted) {
      fail(signal.reason);
      return;
    }
    const thread = this.pick();
    if (thread.dead !== null) {
      fail(thread.dead);
      return;
    }
    const id = this.nextId++;
    const onAbort = () => {
      // Not started: the thread skips it; started: its answer is dropped.
      Atomics.compareExchange(this.slots, id % this.slots.length, id, TASK_TAKEN_BACK);
      this.settle(id);
      fail(signal.reason);
    };
    const task: Task = { dpor, id, spec, thread, batch, signal, done, fail, onAbort };
    this.tasks.set(id, task);
    signal.addEventListener('abort', onAbort, { once: true });
    Atomics.store(this.slots, id % this.slots.length, id);
    if (!thread.specs.has(spec)) {
      thread.specs.add(spec);
      thread.worker.postMessage({ kind: 'spec', spec, value } satisfies ToWorker);
    }
    thread.outstanding++;
    thread.worker.postMessage(message(id));
  }

  /**
   * The batch of exploration `spec` furthest in the search that no thread has started, taken
   * back from the threads (they will skip it), or null. Its caller runs it and settles it.
   */
  takeBack(spec: number): TakenBack | null {
    const candidates = [...this.tasks.values()].filter((t) => t.spec === spec && !t.dpor);
    candidates.sort((a, b) => b.batch.from - a.batch.from);
    for (const task of candidates) {
      const slot = task.id % this.slots.length;
      if (Atomics.compareExchange(this.slots, slot, task.id, TASK_TAKEN_BACK) === task.id) {
        this.settle(task.id);
        return task;
      }
    }
    return null;
  }

  /**
   * The share of the time since it started that each worker thread was busy (not waiting
   * for a batch), from node's event-loop utilisation: 1 means it never waited.
   */
  utilization(): number[] {
    return this.threads.map((t) => t.worker.performance.eventLoopUtilization().utilization);
  }

  destroy(): Promise<void> {
    this.destroyed = true;
    const error = new Error('explore pool destroyed');
    for (const id of [...this.tasks.keys()]) this.settle(id)?.fail(error);
    return Promise.all(this.threads.map((t) => t.worker.terminate())).then(() => undefined);
  }

  /** The live thread with the fewest batches outstanding (a dead one if all are). */
  private pick(): Thread {
    let best = this.threads[0] as Thread;
    for (const t of this.threads) {
      if (best.dead !== null || (t.dead === null && t.outstanding < best.outstanding)) best = t;
    }
    return best;
  }

  /** Forgets task `id` (no longer the threads' to answer); returns it if it was there. */
  private settle(id: number): Task | undefined {
    const task = this.tasks.get(id);
    if (task === undefined) return undefined;
    this.tasks.delete(id);
    task.signal.removeEventListener('abort', task.onAbort);
    return task;
  }

  private answer(thread: Thread, m: FromWorker): void {
    thread.outstanding--;
    if ('skipped' in m) this.skippedBatches++;
    const task = this.settle(m.id);
    if (task === undefined) return; // cancelled or taken back
    if ('result' in m) task.done(decodeBatchResult(m.result));
    else if ('dpor' in m) (task.done as unknown as (result: DporShardResult) => void)(m.dpor);
    else if ('error' in m) task.fail(m.error);
    else task.fail(new Error(`explore worker skipped task ${m.id}`));
  }

  private fail(thread: Thread, error: unknown): void {
    if (thread.dead !== null) return;
    thread.dead = error;
    for (const task of [...this.tasks.values()]) {
      if (task.thread === thread) this.settle(task.id)?.fail(error);
    }
  }
}
