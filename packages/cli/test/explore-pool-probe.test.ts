import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { type ExploreResult, explore, exploreInBatches } from '@mmsim/explore';
import { describe, expect, test } from 'vitest';
import { preloadVariantModules } from '../src/variant-file.js';
import {
  builtExecArgv,
  EARLY_START_SCHEDULES,
  explorePool,
  probeFirst,
  shouldStartWorkers,
  WORKER_START_UP_MS,
  workerModule,
} from '../src/workers/explore-pool.js';
import { buildExploration, type ExploreSpec } from '../src/workers/explore-spec.js';

/** The result without its wall-clock figures. */
function timeless(r: ExploreResult) {
  const { elapsedMs: _e, schedulesPerSecond: _s, ...rest } = r;
  return rest;
}

const spec = (schedules: number, shard?: { index: number; count: number }): ExploreSpec => ({
  scenario: 'rfc-lock-order',
  variant: 'v6.3',
  strategy: 'random',
  schedules,
  seed: 5,
  maxSteps: undefined,
  disable: undefined,
  shard,
});

describe('whether --workers starts its threads', () => {
  test('shouldStartWorkers: only when the rest of the search outlasts twice the start-up per thread', () => {
    // 300 schedules at 2,600 a second: 115 ms of work, not worth a thread.
    expect(shouldStartWorkers(300, 2600, 1)).toBe(false);
    // 10,000 schedules: about 4 s, worth it.
    expect(shouldStartWorkers(10_000, 2600, 1)).toBe(true);
    // The boundary: exactly twice the start-up is not enough; more is.
    const perSecond = 1000;
    const edge = (2 * WORKER_START_UP_MS * perSecond) / 1000;
    expect(shouldStartWorkers(edge, perSecond, 1)).toBe(false);
    expect(shouldStartWorkers(edge + 1, perSecond, 1)).toBe(true);
    // Three threads need three times the work.
    expect(shouldStartWorkers(edge * 2, perSecond, 3)).toBe(false);
    // No rate measured (an empty first batch): start them.
    expect(shouldStartWorkers(100, 0, 1)).toBe(true);
  });

  test('probeFirst: a search below EARLY_START_SCHEDULES (of its shard) probes, a longer one starts at once', () => {
    expect(probeFirst(spec(EARLY_START_SCHEDULES - 1))).toBe(true);
    expect(probeFirst(spec(EARLY_START_SCHEDULES))).toBe(false);
    // Shard 1 of 2 of 2 x EARLY_START_SCHEDULES runs EARLY_START_SCHEDULES schedules.
    expect(probeFirst(spec(2 * EARLY_START_SCHEDULES, { index: 0, count: 2 }))).toBe(false);
    expect(probeFirst(spec(2 * EARLY_START_SCHEDULES - 2, { index: 1, count: 2 }))).toBe(true);
  });
});

describe('a probing pool (the built worker module): the same result either way', () => {
  test.each([
    ['not worth it: every batch runs on this thread, no thread starts', false],
    ['worth it: the threads start after the first batch and take batches', true],
  ])(
    '%s',
    async (_, worth) => {
      const s = spec(400);
      const built = buildExploration(s);
      const alone = explore(built.target, built.options);
      const asked: number[][] = [];
      const pool = explorePool(2, {
        local: true,
        probe: true,
        decide: (remaining, perSecond, workers) => {
          asked.push([remaining, perSecond, workers]);
          return worth;
        },
      });
      try {
        expect(pool.started).toBe(false);
        const runner = pool.runner(s, built);
        const together = await exploreInBatches(built.target, built.options, runner);
        expect(timeless(together)).toEqual(timeless(alone));
        expect(pool.started).toBe(worth);
      } finally {
        await pool.destroy();
      }
      // Asked once, after the first batch (positions 0..size): the rest of the 400, one worker.
      expect(asked).toHaveLength(1);
      const [remaining, perSecond, workers] = asked[0] as number[];
      expect(remaining).toBeGreaterThan(0);
      expect(remaining).toBeLessThan(400);
      expect(perSecond).toBeGreaterThan(0);
      expect(workers).toBe(1);
    },
    120_000,
  );

  test('a variant module loads in the bundled worker threads, and the search gives the same result', async () => {
    // The bundle carries its own copy of the packages, the module imports the installed ones.
    const module = fileURLToPath(new URL('./fixtures/v63-as-module.mjs', import.meta.url));
    await preloadVariantModules(['--variant', module]);
    const s: ExploreSpec = { ...spec(400), variant: module };
    const built = buildExploration(s);
    const alone = explore(built.target, built.options);
    const pool = explorePool(2, { local: true, probe: true, decide: () => true });
    try {
      const together = await exploreInBatches(built.target, built.options, pool.runner(s, built));
      expect(pool.started).toBe(true);
      expect(together.found).toBe(false);
      expect(timeless(together)).toEqual(timeless(alone));
    } finally {
      await pool.destroy();
    }
  }, 120_000);

  test('the threads load the bundled worker module (one file, made by the build)', () => {
    expect(workerModule()).toMatch(/[\\/]dist[\\/]explore-worker\.bundle\.js$/);
  });

  test('without probe the threads start when the pool is made, before any batch', async () => {
    const pool = explorePool(2, { local: true });
    try {
      expect(pool.started).toBe(true);
    } finally {
      await pool.destroy();
    }
  });
});

describe("the worker threads' node options", () => {
  test('inherited as they are (V8 options included) when there is no source condition to drop', () => {
    expect(builtExecArgv([])).toBeUndefined();
    expect(builtExecArgv(['--max-semi-space-size=16', '--single-threaded-gc'])).toBeUndefined();
  });

  test('without the source condition and the V8 options a worker refuses, which node then accepts', async () => {
    const argv = builtExecArgv([
      '--conditions=source',
      '--max-old-space-size=2048',
      '--expose-gc',
      '--single-threaded-gc',
      '--no-warnings',
      '--stack-trace-limit=50',
    ]);
    expect(argv).toEqual(['--no-warnings']);
    expect(builtExecArgv(['-C', 'source', '--enable-source-maps'])).toEqual([
      '--enable-source-maps',
    ]);
    const code = await new Promise<unknown>((done) => {
      const w = new Worker('0', { eval: true, execArgv: argv as string[] });
      w.on('error', (e: NodeJS.ErrnoException) => done(e.code));
      w.on('exit', (c) => done(c));
    });
    expect(code).toBe(0);
  });
});
