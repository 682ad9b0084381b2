import { describe, expect, test } from 'vitest';
import {
  type BatchResult,
  type ExploreOptions,
  type ExploreResult,
  explore,
  exploreInBatches,
  replay,
  runBatch,
  type ScheduleBatch,
} from '../src/index.js';
import { spinAndAbba } from '../src/testing/index.js';

const MAX_STEPS = 16;

/** The result without its wall-clock figures. */
function timeless(r: ExploreResult) {
  const { elapsedMs: _e, schedulesPerSecond: _s, ...rest } = r;
  return rest;
}

/** Runs batches on this thread, later batches finishing first, as worker threads may. */
function scrambledRunner(options: ExploreOptions, parallelism: number, batchSize: number) {
  const { onProgress: _p, ...plain } = options;
  return {
    parallelism,
    batchSize,
    run: (batch: ScheduleBatch, signal: AbortSignal) =>
      new Promise<BatchResult>((done, fail) => {
        setTimeout(
          () => {
            if (signal.aborted) fail(new Error('aborted'));
            else done(runBatch(spinAndAbba(), plain, batch));
          },
          ((batch.from * 7) % 5) * 2,
        );
      }),
  };
}

/**
 * Seeds whose search (every schedule, step-limit runs as findings) meets a step-limit run
 * first and a deadlock later: the case where the step-limit run hid the deadlock's replay.
 */
function hidingSeeds(schedules: number): number[] {
  const seeds: number[] = [];
  for (let seed = 1; seed <= 60 && seeds.length < 3; seed++) {
    const r = explore(spinAndAbba(), {
      seed,
      schedules,
      maxSteps: MAX_STEPS,
      stopOnFirst: false,
      shrink: false,
    });
    if (r.kind === 'step-limit' && (r.findingsByKind.deadlock ?? 0) > 0) seeds.push(seed);
  }
  return seeds;
}

describe('step-limit runs kept apart (stepLimitApart)', () => {
  const schedules = 40;
  const seeds = hidingSeeds(schedules);

  test('the target has seeds where a step-limit run comes before a deadlock', () => {
    expect(seeds.length).toBeGreaterThan(0);
  });

  test('the reported finding is the lowest-index deadlock, and the first step-limit run comes apart', () => {
    for (const seed of seeds) {
      const base: ExploreOptions = {
        seed,
        schedules,
        maxSteps: MAX_STEPS,
        stopOnFirst: false,
        shrink: false,
      };
      const mixed = explore(spinAndAbba(), base);
      const apart = explore(spinAndAbba(), { ...base, stepLimitApart: true });
      // The same schedules and counts: only which finding is reported differs.
      expect(apart.schedules).toBe(mixed.schedules);
      expect(apart.findingsByKind).toEqual(mixed.findingsByKind);
      expect(mixed.stepLimit).toBeNull();
      expect(apart.kind).toBe('deadlock');
      expect(apart.stepLimit?.index).toBe(mixed.findingIndex);
      expect(apart.findingIndex).toBeGreaterThan(apart.stepLimit?.index as number);
      // The deadlock is the lowest-index one: no earlier schedule deadlocks.
      for (let i = 0; i < (apart.findingIndex as number); i++) {
        const one = explore(spinAndAbba(), {
          ...base,
          schedules: i + 1,
          shard: { index: i, count: i + 1 },
        });
        expect(one.findingsByKind.deadlock ?? 0).toBe(0);
      }
      // Both replays give what they say.
      expect(replay(spinAndAbba(), apart.replay as string).finding?.kind).toBe('deadlock');
      const limited = replay(spinAndAbba(), apart.stepLimit?.replay as string);
      expect(limited.finding?.kind).toBe('step-limit');
    }
  });

  test('with stopOnFirst a step-limit run does not stop the search; the deadlock does', () => {
    for (const seed of seeds) {
      const base: ExploreOptions = { seed, schedules, maxSteps: MAX_STEPS, shrink: false };
      const mixed = explore(spinAndAbba(), base);
      expect(mixed.kind).toBe('step-limit');
      const apart = explore(spinAndAbba(), { ...base, stepLimitApart: true });
      expect(apart.kind).toBe('deadlock');
      expect(apart.stoppedBy).toBe('finding');
      expect(apart.schedules).toBe((apart.findingIndex as number) + 1);
      expect(apart.findingsByKind.deadlock).toBe(1);
      expect(apart.findingsByKind['step-limit'] ?? 0).toBeGreaterThan(0);
      expect(apart.stepLimit?.index).toBe(mixed.findingIndex);
    }
  });

  test.each([
    ['every schedule', false],
    ['stop at the first finding', true],
  ])(
    '%s: the same result in batches (any parallelism and order) and over shards',
    async (_, stopOnFirst) => {
      for (const seed of seeds) {
        const options: ExploreOptions = {
          seed,
          schedules,
          maxSteps: MAX_STEPS,
          stopOnFirst,
          stepLimitApart: true,
          shrink: false,
        };
        const alone = explore(spinAndAbba(), options);
        for (const [parallelism, size] of [
          [1, 1],
          [2, 3],
          [4, 7],
        ] as const) {
          const together = await exploreInBatches(
            spinAndAbba(),
            options,
            scrambledRunner(options, parallelism, size),
          );
          expect(timeless(together)).toEqual(timeless(alone));
        }
        if (stopOnFirst) continue;
        const parts = [0, 1, 2].map((index) =>
          explore(spinAndAbba(), { ...options, shard: { index, count: 3 } }),
        );
        const lowest = (xs: (number | null | undefined)[]) =>
          Math.min(...xs.filter((x): x is number => typeof x === 'number'));
        expect(lowest(parts.map((p) => p.findingIndex))).toBe(alone.findingIndex);
        expect(lowest(parts.map((p) => p.stepLimit?.index))).toBe(alone.stepLimit?.index);
        const holder = parts.find((p) => p.stepLimit?.index === alone.stepLimit?.index);
        expect(holder?.stepLimit?.replay).toBe(alone.stepLimit?.replay);
      }
    },
  );

  test('a stepLimitApart that is not a boolean is INVALID_CONFIG', () => {
    expect(() => explore(spinAndAbba(), { stepLimitApart: 'yes' as unknown as boolean })).toThrow(
      /stepLimitApart must be/,
    );
  });
});
