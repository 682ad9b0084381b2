/**
 * The worker-thread side of `mmsim explore --workers N` (loaded from the built dist by the
 * pool in explore-pool.ts): runs batches of schedules of explorations it builds from plain
 * data, one after another from its own queue, and posts each batch's result as soon as it is
 * done (encoded: batch-wire.ts). A batch the command's thread took back (to run itself, or
 * cancelled) before this thread started it is skipped: its slot in the shared array no longer
 * holds the task's id.
 */
import {
  type MessagePort,
  parentPort,
  receiveMessageOnPort,
  workerData,
} from 'node:worker_threads';
import { type DporShardResult, runBatch, runDporShard } from '@mmsim/explore';
import { preloadVariantModules } from '../variant-file.js';
import { encodeBatchResult, type WireBatchResult } from './batch-wire.js';
import { type BuiltExploration, buildExploration, type ExploreSpec } from './explore-spec.js';

/** `workerData` of an explore worker thread. */
export interface ExploreWorkerData {
  /**
   * One slot per task in flight (task id modulo its length): the task's id while it waits,
   * TASK_RUNNING once a worker thread has taken it, TASK_TAKEN_BACK once the command's
   * thread has. Whoever swaps the id out first (Atomics.compareExchange) runs it.
   */
  readonly mmsimExploreSlots: Int32Array;
}

export const TASK_RUNNING = -2;
export const TASK_TAKEN_BACK = -1;

/** What the pool sends a worker thread. */
export type ToWorker =
  /** The spec of exploration `spec`, sent once before its first task. */
  | { readonly kind: 'spec'; readonly spec: number; readonly value: ExploreSpec }
  /** Run positions from..to of exploration `spec` as task `id`. */
  | {
      readonly kind: 'run';
      readonly id: number;
      readonly spec: number;
      readonly from: number;
      readonly to: number;
      readonly pctSteps: number;
    }
  /**
   * Run sub-shard `index` of `count` of DPOR exploration `spec` as task `id` (`runDporShard`):
   * until `deadline` (`Date.now()`), and without the subtrees past `cut[0]` (the lowest
   * subtree with a finding so far, shared by every thread; this one lowers it on a finding).
   */
  | {
      readonly kind: 'dpor';
      readonly id: number;
      readonly spec: number;
      readonly index: number;
      readonly count: number;
      readonly deadline: number | undefined;
      readonly cut: Int32Array | undefined;
      /** Nonzero once the search is to stop (Ctrl-C): the sub-shard stops before its next run. */
      readonly stop?: Int32Array | undefined;
    };

/** What a worker thread answers, once per task: its result, its error, or that it skipped it. */
export type FromWorker =
  | { readonly id: number; readonly result: WireBatchResult }
  | { readonly id: number; readonly dpor: DporShardResult }
  | { readonly id: number; readonly error: unknown }
  | { readonly id: number; readonly skipped: true };

/** Explorations kept built at once (a campaign runs one after another). */
const KEPT = 4;

type RunTask = Extract<ToWorker, { kind: 'run' | 'dpor' }>;

/** Lowers the shared cut (the lowest subtree with a finding) to `subtree`. */
export function lowerCut(cut: Int32Array, subtree: number): void {
  for (let now = Atomics.load(cut, 0); subtree < now; now = Atomics.load(cut, 0)) {
    if (Atomics.compareExchange(cut, 0, now, subtree) === now) return;
  }
}

/** Runs a task of the pool on exploration `b`: a batch, or a DPOR sub-shard. */
export function runTask(b: BuiltExploration, task: RunTask): FromWorker {
  if (task.kind === 'dpor') {
    const cut = task.cut;
    const stop = task.stop;
    const dpor = runDporShard(b.target, b.options, {
      index: task.index,
      count: task.count,
      ...(task.deadline === undefined ? {} : { deadline: task.deadline }),
      ...(cut === undefined
        ? {}
        : {
            stopAt: (subtree: number) => subtree > Atomics.load(cut, 0),
            onFirst: (subtree: number) => lowerCut(cut, subtree),
          }),
      ...(stop === undefined ? {} : { interrupted: () => Atomics.load(stop, 0) !== 0 }),
    });
    return { id: task.id, dpor };
  }
  return {
    id: task.id,
    result: encodeBatchResult(
      runBatch(b.target, b.options, { from: task.from, to: task.to, pctSteps: task.pctSteps }),
    ),
  };
}

/** Starts serving tasks on `port`. */
export function serveExploreTasks(port: MessagePort, slots: Int32Array): void {
  const specs = new Map<number, ExploreSpec>();
  const built = new Map<number, Promise<BuiltExploration>>();
  const ready = new Map<number, BuiltExploration>();
  const queue: RunTask[] = [];
  let draining = false;

  const accept = (message: ToWorker): void => {
    if (message.kind === 'spec') {
      specs.set(message.spec, message.value);
      for (const key of specs.keys()) {
        if (specs.size <= KEPT) break;
        specs.delete(key);
        built.delete(key);
        ready.delete(key);
      }
    } else queue.push(message);
  };

  const exploration = (spec: number): Promise<BuiltExploration> => {
    let p = built.get(spec);
    if (p === undefined) {
      const value = specs.get(spec);
      if (value === undefined) return Promise.reject(new Error(`explore worker: no spec ${spec}`));
      p = (async () => {
        if (value.variant !== undefined) await preloadVariantModules(['--variant', value.variant]);
        const b = buildExploration(value);
        ready.set(spec, b);
        return b;
      })();
      built.set(spec, p);
    }
    return p;
  };

  const drain = async (): Promise<void> => {
    draining = true;
    try {
      for (;;) {
        // Every message already sent first: the spec of a task, and the tasks after it.
        for (let m = receiveMessageOnPort(port); m !== undefined; m = receiveMessageOnPort(port)) {
          accept(m.message as ToWorker);
        }
        const task = queue.shift();
        if (task === undefined) return;
        let b = ready.get(task.spec);
        if (b === undefined) {
          try {
            b = await exploration(task.spec);
          } catch (error) {
            if (take(task)) port.postMessage({ id: task.id, error } satisfies FromWorker);
            else port.postMessage({ id: task.id, skipped: true } satisfies FromWorker);
            continue;
          }
        }
        if (!take(task)) {
          port.postMessage({ id: task.id, skipped: true } satisfies FromWorker);
          continue;
        }
        let answer: FromWorker;
        try {
          answer = runTask(b, task);
        } catch (error) {
          answer = { id: task.id, error };
        }
        if ('result' in answer) port.postMessage(answer, [answer.result.numbers.buffer]);
        else port.postMessage(answer);
      }
    } finally {
      draining = false;
    }
  };

  /** Whether this thread takes the task (the command's thread has not taken it back). */
  const take = (task: RunTask): boolean =>
    Atomics.compareExchange(slots, task.id % slots.length, task.id, TASK_RUNNING) === task.id;

  port.on('message', (message: ToWorker) => {
    accept(message);
    if (!draining) void drain();
  });
}

const data = workerData as Partial<ExploreWorkerData> | null;
if (parentPort !== null && data?.mmsimExploreSlots !== undefined) {
  serveExploreTasks(parentPort, data.mmsimExploreSlots);
}
