import { describe, expect, test } from 'vitest';
import {
  type BatchResult,
  type ExplorationTarget,
  type ExploreOptions,
  type ExploreResult,
  explore,
  exploreInBatches,
  runBatch,
  type ScheduleBatch,
} from '../src/index.js';
import { abba, lostUpdate } from './targets.js';

/** The result without its wall-clock figures. */
function timeless(r: ExploreResult) {
  const { elapsedMs: _e, schedulesPerSecond: _s, ...rest } = r;
  return rest;
}

/**
 * A runner that runs batches in this thread but finishes them out of order (later batches
 * first, by a fixed scramble of delays), as worker threads may.
 */
function scrambled(
  target: ExplorationTarget,
  options: ExploreOptions,
  parallelism: number,
  batchSize: number,
) {
  const ran: number[] = [];
  const aborted: number[] = [];
  const { onProgress: _p, ...plain } = options;
  return {
    ran,
    aborted,
    runner: {
      parallelism,
      batchSize,
      run: (batch: ScheduleBatch, signal: AbortSignal) =>
        new Promise<BatchResult>((done, fail) => {
          const delay = ((batch.from * 7) % 5) * 2;
          setTimeout(() => {
            if (signal.aborted) {
              aborted.push(batch.from);
              fail(new Error('aborted'));
              return;
            }
            ran.push(batch.from);
            done(runBatch(target, plain, batch));
          }, delay);
        }),
    },
  };
}

describe('explore in batches (worker threads)', () => {
  test.each([
    ['random', 'random' as const],
    ['pct', 'pct' as const],
  ])(
    '%s: the lowest-index finding and the totals of explore, whatever the batches and their order',
    async (_, strategy) => {
      let later = 0;
      for (let seed = 1; seed <= 12; seed++) {
        const options: ExploreOptions = { strategy, seed, schedules: 40, shrink: false };
        const alone = explore(abba(), options);
        for (const [parallelism, size] of [
          [1, 1],
          [3, 1],
          [2, 3],
          [4, 7],
        ] as const) {
          const { runner } = scrambled(abba(), options, parallelism, size);
          const together = await exploreInBatches(abba(), options, runner);
          expect(timeless(together)).toEqual(timeless(alone));
        }
        if ((alone.findingIndex ?? 0) >= 3) later++;
      }
      // Some random searches met their first finding after several schedules (so order
      // mattered); PCT meets the AB-BA deadlock at once.
      if (strategy === 'random') expect(later).toBeGreaterThan(0);
    },
  );

  test('without stopOnFirst: every schedule, the same counts by kind and the same first finding', async () => {
    const options: ExploreOptions = { seed: 5, schedules: 60, stopOnFirst: false, shrink: false };
    const alone = explore(lostUpdate(), options);
    expect(alone.findings).toBeGreaterThan(1);
    const { runner } = scrambled(lostUpdate(), options, 3, 4);
    const together = await exploreInBatches(lostUpdate(), options, runner);
    expect(timeless(together)).toEqual(timeless(alone));
  });

  test('batches past the first finding are cancelled or ignored, and a shrunk finding is the same', async () => {
    const options: ExploreOptions = { seed: 2, schedules: 400 };
    const alone = explore(abba(), options);
    const { runner, ran } = scrambled(abba(), options, 4, 1);
    const together = await exploreInBatches(abba(), options, runner);
    expect(timeless(together)).toEqual(timeless(alone));
    expect(ran.length).toBeLessThan(400);
  });

  test('default batch sizes: every position once, in order, at most 64, shrinking to single schedules at the end', async () => {
    const options: ExploreOptions = { seed: 4, schedules: 1500, stopOnFirst: false, shrink: false };
    const handed: ScheduleBatch[] = [];
    const { onProgress: _p, ...plain } = options;
    const together = await exploreInBatches(abba('same'), options, {
      parallelism: 5,
      run: (batch) => {
        handed.push(batch);
        return Promise.resolve(runBatch(abba('same'), plain, batch));
      },
    });
    expect(together.schedules).toBe(1500);
    // Contiguous, in order, nothing twice, nothing left out.
    expect(handed[0]?.from).toBe(0);
    for (let i = 1; i < handed.length; i++) expect(handed[i]?.from).toBe(handed[i - 1]?.to);
    expect(handed.at(-1)?.to).toBe(1500);
    const sizes = handed.map((b) => b.to - b.from);
    expect(Math.max(...sizes)).toBe(64);
    for (let i = 1; i < sizes.length; i++) {
      expect(sizes[i]).toBeLessThanOrEqual(sizes[i - 1] as number);
    }
    // The last quarter-share of the search goes in single schedules.
    expect(sizes.slice(-5)).toEqual([1, 1, 1, 1, 1]);
  });

  test('a finding in a later batch that finishes first does not hide a lower one in a batch still running', async () => {
    let overtaken = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const options: ExploreOptions = { seed, schedules: 40, shrink: false };
      const alone = explore(abba(), options);
      const lowest = alone.findingIndex;
      if (lowest === null || lowest === 0) continue;
      const { onProgress: _p, ...plain } = options;
      const delivered: (number | null)[] = [];
      const together = await exploreInBatches(abba(), options, {
        parallelism: 8,
        batchSize: 1,
        // The batches up to the lowest finding are held back until the later ones are in.
        run: (batch, signal) =>
          new Promise<BatchResult>((done, fail) => {
            const result = runBatch(abba(), plain, batch);
            setTimeout(
              () => {
                if (signal.aborted) return fail(new Error('aborted'));
                delivered.push(result.firstIndex);
                done(result);
              },
              batch.from <= lowest ? 20 : 0,
            );
          }),
      });
      expect(timeless(together)).toEqual(timeless(alone));
      // The first finding delivered was a later one: the lower one came in after it.
      if (delivered.find((i) => i !== null) !== lowest) overtaken++;
    }
    // Some searches did see a later finding first.
    expect(overtaken).toBeGreaterThan(0);
  });

  test('the dfs strategy is refused (it searches one tree in order)', async () => {
    const { runner } = scrambled(abba(), {}, 2, 1);
    await expect(exploreInBatches(abba(), { strategy: 'dfs' }, runner)).rejects.toThrow(/dfs/);
  });
});

describe('shards', () => {
  test('shards 1..3 of 3 together run exactly the schedules of the unsharded search', () => {
    const base: ExploreOptions = { seed: 9, schedules: 50, stopOnFirst: false, shrink: false };
    const alone = explore(lostUpdate(), base);
    const parts = [0, 1, 2].map((index) =>
      explore(lostUpdate(), { ...base, shard: { index, count: 3 } }),
    );
    expect(parts.map((p) => p.schedules)).toEqual([17, 17, 16]);
    expect(parts.reduce((n, p) => n + p.findings, 0)).toBe(alone.findings);
    const indices = parts.map((p) => p.findingIndex).filter((i): i is number => i !== null);
    expect(Math.min(...indices)).toBe(alone.findingIndex);
    const lowest = parts.find((p) => p.findingIndex === alone.findingIndex)!;
    expect(lowest.replay).toBe(alone.replay);
    expect(
      indices.every(
        (i, k) => i % 3 === [0, 1, 2].filter((x) => parts[x]!.findingIndex !== null)[k],
      ),
    ).toBe(true);
  });

  test('a bad shard is INVALID_CONFIG', () => {
    expect(() => explore(abba(), { shard: { index: 3, count: 3 } })).toThrow(/shard.index/);
    expect(() => explore(abba(), { strategy: 'dfs', shard: { index: 0, count: 2 } })).toThrow(
      /shard/,
    );
  });
});
