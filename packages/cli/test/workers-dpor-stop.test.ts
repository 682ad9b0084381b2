import type { DporShardResult } from '@mmsim/explore';
import { describe, expect, test } from 'vitest';
import { explorePool } from '../src/workers/explore-pool.js';
import type { ExploreSpec } from '../src/workers/explore-spec.js';

describe('a DPOR sub-shard on a worker thread, stopped (Ctrl-C)', () => {
  test('the runner’s stop reaches the running sub-shard: it answers within a run, interrupted, not exhausted', async () => {
    // loop-writeback-deadlock v6.3 at bound 2 in one sub-shard: tens of thousands of
    // executions (minutes), no finding to end it early.
    const spec: ExploreSpec = {
      scenario: 'loop-writeback-deadlock',
      variant: 'v6.3',
      strategy: { kind: 'dpor', preemptionBound: 2 },
      schedules: 1e9,
      seed: 1,
      maxSteps: undefined,
      disable: undefined,
      shard: undefined,
    };
    const pool = explorePool(1);
    try {
      const runner = pool.dporRunner(spec, 1);
      expect(runner.stop).toBeTypeOf('function');
      const answer = runner.run(0, new AbortController().signal);
      // Let the thread load and run a while (if it has not started yet, it stops at once).
      await new Promise((resolve) => setTimeout(resolve, 3000));
      runner.stop?.();
      const result: DporShardResult = await answer;
      expect(result.stoppedBy).toBe('interrupted');
      expect(result.exhausted).toBe(false);
      const last = result.records.at(-1);
      if (last !== undefined) expect(last.complete).toBe(false);
    } finally {
      await pool.destroy();
    }
  }, 300_000);
});
