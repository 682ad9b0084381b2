import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import {
  type BatchExploreOptions,
  type BatchResult,
  type BatchRunner,
  type ExplorationTarget,
  runBatch,
  type ScheduleBatch,
} from '@mmsim/explore';
import Tinypool from 'tinypool';
import type { ExploreSpec } from './explore-spec.js';
import type { WorkerTask } from './explore-worker.js';

/** The default of `--workers`: the cores this process may use. */
export function defaultWorkers(): number {
  return availableParallelism();
}

/** Fewer schedules than this per worker thread are run on the command's own thread. */
export const MIN_SCHEDULES_PER_WORKER = 32;

/** The worker module: the built one (from source, the package's dist next to it). */
export function workerModule(): string | null {
  const here = import.meta.url;
  const url = here.endsWith('.ts')
    ? new URL('../../dist/workers/explore-worker.js', here)
    : new URL('./explore-worker.js', here);
  const path = fileURLToPath(url);
  return existsSync(path) ? path : null;
}

/**
 * Worker threads to use for `schedules` schedules with `--workers asked`: none (run on this
 * thread) for a handful of schedules, a DFS search, or where no built worker module exists.
 */
export function effectiveWorkers(asked: number, schedules: number, dfs: boolean): number {
  if (dfs || asked <= 1) return 1;
  const n = Math.min(asked, Math.floor(schedules / MIN_SCHEDULES_PER_WORKER));
  if (n <= 1 || workerModule() === null) return 1;
  return n;
}

/**
 * The node options of the worker threads: this process's, without a `source` export
 * condition (under `pnpm mmsim` or a test runner, which load the TypeScript sources), since
 * the workers run the built packages.
 */
export function builtExecArgv(execArgv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const a = execArgv[i] as string;
    if (a === '--conditions=source' || a === '-C=source') continue;
    if ((a === '--conditions' || a === '-C') && execArgv[i + 1] === 'source') {
      i++;
      continue;
    }
    out.push(a);
  }
  return out;
}

/** A pool of `threads` worker threads, running batches of any exploration given by its spec. */
export interface ExplorePool {
  /** The threads running schedules (with `local`, this thread is one of them). */
  readonly threads: number;
  /**
   * The runner of one exploration's batches. With `local` (the exploration as this thread
   * built it from the same spec; only for a pool made with `{ local: true }`), this thread
   * runs batches too, between handing them out.
   */
  runner(spec: ExploreSpec, local?: LocalExploration): BatchRunner;
  destroy(): Promise<void>;
}

/** The exploration of a spec as built on this thread (`buildExploration`). */
export interface LocalExploration {
  readonly target: ExplorationTarget;
  readonly options: BatchExploreOptions;
}

/** Tasks handed to a worker thread at once: the next one waits in its queue, never idle. */
const TASKS_PER_WORKER = 2;

/**
 * A pool of `threads` threads for explorations. With `local`, this thread is one of them:
 * `threads - 1` worker threads, and this thread runs batches itself between handing them
 * out. That saves a thread's start-up (loading every package, and warming up its compiled
 * code, a second or two of CPU that competes with the search on a machine of few cores),
 * and the search starts at once, while the workers load. Each worker thread is given
 * TASKS_PER_WORKER batches at a time, so that one waiting for this thread to finish a batch
 * of its own still has one to run.
 */
export function explorePool(threads: number, opts: { readonly local?: boolean } = {}): ExplorePool {
  const filename = workerModule();
  if (filename === null) throw new Error('no built worker module (run pnpm build)');
  const local = opts.local === true && threads > 1;
  const workers = local ? threads - 1 : threads;
  const pool = new Tinypool({
    filename,
    execArgv: builtExecArgv(process.execArgv),
    minThreads: workers,
    maxThreads: workers,
    isolateWorkers: false,
    ...(local ? { concurrentTasksPerWorker: TASKS_PER_WORKER } : {}),
  });
  const onPool = (spec: ExploreSpec, batch: ScheduleBatch, signal: AbortSignal) =>
    pool.run({ spec, batch } satisfies WorkerTask, { signal }) as Promise<BatchResult>;
  return {
    threads,
    runner: (spec, here) => {
      if (!local || here === undefined) {
        return { parallelism: workers, run: (batch, signal) => onPool(spec, batch, signal) };
      }
      let busy = false; // this thread has a batch of its own queued or running
      return {
        // This thread's batch, and TASKS_PER_WORKER per worker thread.
        parallelism: 1 + workers * TASKS_PER_WORKER,
        run: (batch, signal) => {
          if (busy) return onPool(spec, batch, signal);
          busy = true;
          return new Promise<BatchResult>((done, fail) => {
            // After the batches just handed out have reached the workers.
            setImmediate(() => {
              try {
                if (signal.aborted) fail(signal.reason);
                else done(runBatch(here.target, here.options, batch));
              } catch (error) {
                fail(error);
              } finally {
                busy = false;
              }
            });
          });
        },
      };
    },
    destroy: () => pool.destroy(),
  };
}
