import {
  type ExplorationTarget,
  type ExploreResult,
  explore,
  exploreInBatches,
} from '@mmsim/explore';
import { describe, expect, test } from 'vitest';
import { explorePool } from '../src/workers/explore-pool.js';
import { buildExploration, type ExploreSpec } from '../src/workers/explore-spec.js';

/** The result without its wall-clock figures. */
function timeless(r: ExploreResult) {
  const { elapsedMs: _e, schedulesPerSecond: _s, ...rest } = r;
  return rest;
}

/** The target, counting the instances built on this thread. */
function counted(target: ExplorationTarget, count: { n: number }): ExplorationTarget {
  return {
    name: target.name,
    ...(target.identity === undefined ? {} : { identity: target.identity }),
    instantiate(options) {
      count.n++;
      return target.instantiate(options);
    },
  };
}

describe('the explore pool with this thread as one of its threads (the built worker module)', () => {
  test.each([
    ['clean', 'rfc-lock-order', 'v6.3-rc1'],
    ['a finding', 'loop-writeback-deadlock', 'v6.3-rc1'],
  ])(
    '%s: this thread runs batches beside one worker thread, and the result is that of explore',
    async (_, scenario, variant) => {
      const spec: ExploreSpec = {
        scenario,
        variant,
        strategy: 'random',
        schedules: 300,
        seed: 3,
        maxSteps: undefined,
        disable: undefined,
        shard: undefined,
      };
      const built = buildExploration(spec);
      const alone = explore(built.target, built.options);
      const here = { n: 0 };
      const pool = explorePool(2, { local: true });
      try {
        const runner = pool.runner(spec, {
          target: counted(built.target, here),
          options: built.options,
        });
        expect(runner.parallelism).toBeGreaterThan(2);
        const together = await exploreInBatches(built.target, built.options, runner);
        expect(timeless(together)).toEqual(timeless(alone));
      } finally {
        await pool.destroy();
      }
      expect(here.n).toBeGreaterThan(0);
    },
    120_000,
  );
});
