import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { BatchResult, BatchRunner, ScheduleBatch } from '@mmsim/explore';
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
  readonly threads: number;
  /** The runner of one exploration's batches. */
  runner(spec: ExploreSpec): BatchRunner;
  destroy(): Promise<void>;
}

export function explorePool(threads: number): ExplorePool {
  const filename = workerModule();
  if (filename === null) throw new Error('no built worker module (run pnpm build)');
  const pool = new Tinypool({
    filename,
    execArgv: builtExecArgv(process.execArgv),
    minThreads: threads,
    maxThreads: threads,
    isolateWorkers: false,
  });
  return {
    threads,
    runner: (spec) => ({
      parallelism: threads,
      run: (batch: ScheduleBatch, signal: AbortSignal): Promise<BatchResult> =>
        pool.run({ spec, batch } satisfies WorkerTask, { signal }) as Promise<BatchResult>,
    }),
    destroy: () => pool.destroy(),
  };
}
