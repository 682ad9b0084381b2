import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import {
  type BatchExploreOptions,
  type BatchResult,
  type BatchRunner,
  type DporShardRunner,
  type ExplorationTarget,
  runBatch,
  type ScheduleBatch,
} from '@mmsim/explore';
import type { ExploreSpec } from './explore-spec.js';
import { ExploreThreads } from './explore-threads.js';

/** The default of `--workers`: the cores this process may use. */
export function defaultWorkers(): number {
  return availableParallelism();
}

/** Fewer schedules than this per worker thread are run on the command's own thread. */
export const MIN_SCHEDULES_PER_WORKER = 32;

/**
 * The worker module: the built one (from source, the package's dist next to it). The bundle
 * `dist/explore-worker.bundle.js` (the worker's entry and every module it imports in one file,
 * made by the build: scripts/bundle-worker.mjs) when it exists, as a thread loads it for a
 * fraction of the CPU that several hundred modules take; else `dist/workers/explore-worker.js`.
 */
export function workerModule(): string | null {
  const here = import.meta.url;
  // From source, from dist/workers/explore-pool.js, or from the command's bundle at the root
  // of dist (dist/command.bundle.js).
  const dist = here.endsWith('.ts')
    ? new URL('../../dist/', here)
    : here.endsWith('.bundle.js')
      ? new URL('./', here)
      : new URL('../', here);
  for (const name of WORKER_FILES) {
    const path = fileURLToPath(new URL(name, dist));
    if (existsSync(path)) return path;
  }
  return null;
}

/** The worker's entry files under dist, in the order `workerModule` prefers them. */
export const WORKER_FILES = ['explore-worker.bundle.js', 'workers/explore-worker.js'] as const;

/**
 * Worker threads to use for `schedules` schedules with `--workers asked`: none (run on this
 * thread) for a handful of schedules, a DFS search (`dfs`: one tree in order), or where no
 * built worker module exists.
 */
export function effectiveWorkers(asked: number, schedules: number, dfs: boolean): number {
  if (dfs || asked <= 1) return 1;
  const n = Math.min(asked, Math.floor(schedules / MIN_SCHEDULES_PER_WORKER));
  if (n <= 1 || workerModule() === null) return 1;
  return n;
}

/**
 * The sub-shards a DPOR search on `threads` worker threads is split into (the result is the
 * same for any number): 8 per thread. Subtrees differ widely in size (loop-writeback-deadlock
 * v6.3 at bound 2: 15 subtrees, one of 75,750 of the 143,453 executions, several under 500),
 * so each sub-shard should hold one or a few of them, handed out biggest guess first
 * (`exploreDporShards`) one at a time per thread; each sub-shard also probes every subtree it
 * does not own (one run each), which bounds how many are worth it.
 */
export function dporShardCount(threads: number): number {
  return threads * DPOR_SHARDS_PER_THREAD;
}

/** See `dporShardCount`. */
export const DPOR_SHARDS_PER_THREAD = 8;

/**
 * V8 options node takes on its command line (and in NODE_OPTIONS) but refuses in a worker
 * thread's `execArgv` (ERR_WORKER_INVALID_EXEC_ARGV: they are the process's, and a worker
 * thread has them anyway).
 */
const V8_OPTIONS = new Set([
  '--abort-on-uncaught-exception',
  '--disallow-code-generation-from-strings',
  '--enable-etw-stack-walking',
  '--expose-gc',
  '--huge-max-old-generation-size',
  '--interpreted-frames-native-stack',
  '--jitless',
  '--max-old-space-size',
  '--max-semi-space-size',
  '--perf-basic-prof',
  '--perf-basic-prof-only-functions',
  '--perf-prof',
  '--perf-prof-unwinding-info',
  '--stack-trace-limit',
]);

/**
 * The node options of the worker threads: undefined (they inherit this process's, V8
 * options included) unless this process has a `source` export condition (under `pnpm mmsim`
 * or a test runner, which load the TypeScript sources), since the workers run the built
 * packages; then this process's options without it, and without the V8 and process-wide
 * options a worker thread's `execArgv` may not hold (those it inherits anyway).
 */
export function builtExecArgv(execArgv: readonly string[]): string[] | undefined {
  const out: string[] = [];
  let source = false;
  for (let i = 0; i < execArgv.length; i++) {
    const a = execArgv[i] as string;
    if (a === '--conditions=source' || a === '-C=source') {
      source = true;
      continue;
    }
    if ((a === '--conditions' || a === '-C') && execArgv[i + 1] === 'source') {
      source = true;
      i++;
      continue;
    }
    out.push(a);
  }
  if (!source) return undefined;
  return out.filter((a) => {
    if (!a.startsWith('-')) return true; // the value of the option before it
    const name = a.split('=')[0] as string;
    return process.allowedNodeEnvironmentFlags.has(name) && !V8_OPTIONS.has(name);
  });
}

/** A pool of `threads` worker threads, running batches of any exploration given by its spec. */
export interface ExplorePool {
  /** The threads running schedules (with `local`, this thread is one of them). */
  readonly threads: number;
  /**
   * Whether the worker threads were started: always, but with `probe`, only once this
   * thread's first batch showed that the search is long enough to pay for them.
   */
  readonly started: boolean;
  /**
   * The runner of one exploration's batches. With `local` (the exploration as this thread
   * built it from the same spec; only for a pool made with `{ local: true }`), this thread
   * runs batches too, between handing them out.
   */
  runner(spec: ExploreSpec, local?: LocalExploration): BatchRunner;
  /**
   * The runner of a DPOR exploration's sub-shards (`exploreDporShards`): `shards` of them,
   * handed out one at a time to each worker thread as it becomes free (subtrees differ in
   * size: the threads finish together), until `deadline` (`Date.now()`). Without
   * `stopOnFirst: false` in the spec, the sub-shards share the lowest subtree with a finding
   * and skip the subtrees past it.
   */
  dporRunner(spec: ExploreSpec, shards: number, deadline?: number): DporShardRunner;
  /**
   * Per worker thread started, the share of its time so far it was busy, not waiting for a
   * batch (node's event-loop utilisation; the idle time the pool's hand-out costs).
   */
  utilization(): number[];
  destroy(): Promise<void>;
}

/** The exploration of a spec as built on this thread (`buildExploration`). */
export interface LocalExploration {
  readonly target: ExplorationTarget;
  readonly options: BatchExploreOptions;
}

/** How `explorePool` runs. */
export interface ExplorePoolOptions {
  /** This thread is one of the pool's threads (see `explorePool`). */
  readonly local?: boolean;
  /**
   * With `local`: start the worker threads only after this thread has run the search's
   * first batch, and only if the rest of the search at that rate would take longer than
   * `WORKER_START_UP_MS` per worker thread (see `shouldStartWorkers`). A short search then
   * runs on this thread alone, as fast as with `--workers 1`.
   */
  readonly probe?: boolean;
  /** With `probe`: the decision (default `shouldStartWorkers`; tests give their own). */
  readonly decide?: (remaining: number, perSecond: number, workers: number) => boolean;
}

/**
 * Batches handed to a worker thread at once: it runs them one after another and answers each
 * as soon as it is done, so it has the next ones to run while this thread (which hands out
 * the next batch only between batches of its own) is busy, or waits for a core.
 */
export const TASKS_PER_WORKER = 4;

/**
 * What starting a worker thread costs, in this thread's time: about 0.16 s of CPU to its
 * first schedule (loading the bundled worker module and building the exploration; 0.6 s
 * unbundled), then a few hundred schedules run at a fraction of full speed while its compiled
 * code warms up (about 0.5 s of CPU over its first 400 schedules of loop-writeback-deadlock,
 * on the 2-core machine of docs/exploration-at-scale.md). On a machine of few cores that CPU
 * is taken from the search.
 */
export const WORKER_START_UP_MS = 500;

/**
 * Whether to start `workers` worker threads for the `remaining` schedules of a search that
 * this thread runs at `perSecond` schedules a second: only when that work alone would take
 * longer than twice their start-up (each thread pays for itself only once it has run about
 * as long again at full speed).
 */
export function shouldStartWorkers(remaining: number, perSecond: number, workers: number): boolean {
  if (!(perSecond > 0)) return true;
  return (remaining / perSecond) * 1000 > 2 * WORKER_START_UP_MS * workers;
}

/**
 * A search of at least this many schedules starts its worker threads at once, before this
 * thread builds the exploration (no probe): at the target of 10,000 schedules a second
 * on one thread that is a second of work, twice a worker thread's start-up.
 */
export const EARLY_START_SCHEDULES = 10_000;

/** Whether `explorePool` should probe (`probe`) before starting the threads of `spec`'s search. */
export function probeFirst(spec: ExploreSpec): boolean {
  return positionsOf(spec) < EARLY_START_SCHEDULES;
}

/** The schedules of a spec's search (of its shard). */
function positionsOf(spec: ExploreSpec): number {
  const shard = spec.shard ?? { index: 0, count: 1 };
  const left = spec.schedules - shard.index;
  return left <= 0 ? 0 : Math.ceil(left / shard.count);
}

interface LocalJob {
  readonly batch: ScheduleBatch;
  readonly signal: AbortSignal;
  readonly done: (result: BatchResult) => void;
  readonly fail: (error: unknown) => void;
}

/**
 * A pool of `threads` threads for explorations. With `local`, this thread is one of them:
 * `threads - 1` worker threads, and this thread runs batches itself between handing them
 * out. That saves a thread's start-up (loading the worker module, and warming up its compiled
 * code, CPU that competes with the search on a machine of few cores), and the search starts
 * at once, while the workers load. Each worker thread is given TASKS_PER_WORKER batches at a
 * time and answers each as soon as it is done, so that it never waits for this thread to
 * finish a batch of its own; when this thread has nothing left to run (the end of the
 * search), it takes back the last batch handed out that no worker thread has started. With
 * `probe`, the worker threads start only when this thread's first batch shows the search is
 * worth them; until then every batch runs here, in the order handed out.
 */
export function explorePool(threads: number, opts: ExplorePoolOptions = {}): ExplorePool {
  const filename = workerModule();
  if (filename === null) throw new Error('no built worker module (run pnpm build)');
  const local = opts.local === true && threads > 1;
  const workers = local ? threads - 1 : threads;
  const decide = opts.decide ?? shouldStartWorkers;
  let pool: ExploreThreads | null = null;
  const startPool = (): ExploreThreads => {
    pool ??= new ExploreThreads(
      filename,
      workers,
      builtExecArgv(process.execArgv),
      Math.max(4096, 8 * workers * TASKS_PER_WORKER),
    );
    return pool;
  };
  if (!(local && opts.probe === true)) startPool();
  let specs = 0;
  return {
    threads,
    get started() {
      return pool !== null;
    },
    runner: (spec, here) => {
      const id = ++specs;
      const onPool = (batch: ScheduleBatch, signal: AbortSignal) =>
        startPool().run(id, spec, batch, signal);
      if (!local || here === undefined) {
        return { parallelism: workers * TASKS_PER_WORKER, run: onPool };
      }
      // Batches waiting for this thread: one at most once the worker threads run; every
      // batch handed out before that (while probing).
      const queue: LocalJob[] = [];
      let running = false; // this thread has a batch of its own scheduled or running
      let probing = pool === null;
      const total = positionsOf(spec);
      const runNext = (): void => {
        const job = queue.shift() as LocalJob;
        const start = performance.now();
        try {
          if (job.signal.aborted) job.fail(job.signal.reason);
          else {
            const result = runBatch(here.target, here.options, job.batch);
            if (probing) {
              probing = false;
              const perSecond = (result.schedules * 1000) / (performance.now() - start);
              if (decide(total - job.batch.to, perSecond, workers)) {
                // The batches waiting here go to the worker threads (they start now);
                // this thread takes the next batch handed out.
                for (const other of queue.splice(0)) {
                  onPool(other.batch, other.signal).then(other.done, other.fail);
                }
              }
            }
            job.done(result);
          }
        } catch (error) {
          job.fail(error);
        } finally {
          running = false;
          kick();
          // Nothing handed out to this thread once the search has seen its result: take back
          // a batch no worker thread has started.
          if (!running && pool !== null) setImmediate(takeBack);
        }
      };
      const takeBack = (): void => {
        if (running || queue.length > 0 || pool === null) return;
        const job = pool.takeBack(id);
        if (job === null) return;
        queue.push(job);
        kick();
      };
      const kick = (): void => {
        if (running || queue.length === 0) return;
        running = true;
        // After the batches just handed out have reached the workers.
        setImmediate(runNext);
      };
      return {
        // This thread's batch, and TASKS_PER_WORKER per worker thread.
        parallelism: 1 + workers * TASKS_PER_WORKER,
        run: (batch, signal) => {
          if (pool !== null && (running || queue.length > 0)) return onPool(batch, signal);
          return new Promise<BatchResult>((done, fail) => {
            queue.push({ batch, signal, done, fail });
            kick();
          });
        },
      };
    },
    dporRunner: (spec, shards, deadline) => {
      const id = ++specs;
      let cut: Int32Array | undefined;
      if (spec.stopOnFirst !== false) {
        cut = new Int32Array(new SharedArrayBuffer(4));
        Atomics.store(cut, 0, 0x7fffffff);
      }
      // Set by `stop` (Ctrl-C): every sub-shard stops before its next run.
      const stop = new Int32Array(new SharedArrayBuffer(4));
      const waiting: (() => void)[] = [];
      let inFlight = 0;
      const next = (): void => {
        while (inFlight < workers && waiting.length > 0) {
          inFlight++;
          (waiting.shift() as () => void)();
        }
      };
      return {
        shards,
        run: (index, signal) =>
          new Promise((done, fail) => {
            waiting.push(() => {
              startPool()
                .runDpor(
                  id,
                  spec,
                  {
                    index,
                    count: shards,
                    stop,
                    ...(deadline === undefined ? {} : { deadline }),
                  },
                  cut,
                  signal,
                )
                .then(done, fail)
                .finally(() => {
                  inFlight--;
                  next();
                });
            });
            next();
          }),
        stop: () => Atomics.store(stop, 0, 1),
      };
    },
    utilization: () => (pool === null ? [] : pool.utilization()),
    destroy: () => (pool === null ? Promise.resolve() : pool.destroy()),
  };
}
