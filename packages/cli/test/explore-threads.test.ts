import { type BatchResult, runBatch, type ScheduleBatch } from '@mmsim/explore';
import { describe, expect, test } from 'vitest';
import { decodeBatchResult, encodeBatchResult } from '../src/workers/batch-wire.js';
import { builtExecArgv, workerModule } from '../src/workers/explore-pool.js';
import { buildExploration, type ExploreSpec } from '../src/workers/explore-spec.js';
import { ExploreThreads } from '../src/workers/explore-threads.js';

const spec: ExploreSpec = {
  scenario: 'rfc-lock-order',
  variant: 'v6.3',
  strategy: 'random',
  schedules: 200,
  seed: 5,
  maxSteps: undefined,
  disable: undefined,
  shard: undefined,
};

const batch = (from: number, to: number): ScheduleBatch => ({ from, to, pctSteps: 0 });

function threads(count: number): ExploreThreads {
  return new ExploreThreads(workerModule() as string, count, builtExecArgv(process.execArgv), 64);
}

describe('the worker threads of --workers (the built worker module)', () => {
  test('a batch taken back or cancelled before a thread starts it is skipped; the others are answered in full', async () => {
    const built = buildExploration(spec);
    const pool = threads(1);
    try {
      const batches = [0, 1, 2, 3, 4].map((i) => batch(i * 8, i * 8 + 8));
      const aborts = batches.map(() => new AbortController());
      const answered: number[] = [];
      const runs = batches.map((b, i) =>
        pool.run(1, spec, b, (aborts[i] as AbortController).signal).then((r) => {
          answered.push(b.from);
          return r;
        }),
      );
      // The thread is still loading its module: nothing has started.
      (aborts[1] as AbortController).abort(new Error('not needed'));
      const back = pool.takeBack(1);
      expect(back?.batch).toEqual(batches[4]);
      // The next one back is the last of those left (not the cancelled one).
      const back2 = pool.takeBack(1);
      expect(back2?.batch).toEqual(batches[3]);
      // Taken back: this thread settles them.
      back?.done(runBatch(built.target, built.options, back.batch));
      back2?.fail(new Error('dropped here'));
      await expect(runs[1]).rejects.toThrow('not needed');
      await expect(runs[3]).rejects.toThrow('dropped here');
      const kept = await Promise.all([runs[0], runs[2], runs[4]]);
      // The thread answered the two it ran; the taken-back batch came from here.
      expect(answered.sort((a, b) => a - b)).toEqual([0, 16, 32]);
      for (const [i, r] of [0, 2, 4].entries()) {
        expect(kept[i]).toEqual(runBatch(built.target, built.options, batches[r] as ScheduleBatch));
      }
      // All answered: nothing left to take back, and the thread still takes new batches.
      expect(pool.takeBack(1)).toBeNull();
      const later = await pool.run(1, spec, batch(40, 50), new AbortController().signal);
      expect(later).toEqual(runBatch(built.target, built.options, batch(40, 50)));
      // It answered the later batch after the three it skipped (one cancelled, two taken back).
      expect(pool.skipped).toBe(3);
      expect(pool.utilization()).toHaveLength(1);
    } finally {
      await pool.destroy();
    }
  }, 120_000);

  test('an exploration a thread cannot build fails its batches, and the thread goes on with others', async () => {
    const pool = threads(1);
    try {
      const bad: ExploreSpec = { ...spec, scenario: 'no-such-scenario' };
      const signal = new AbortController().signal;
      await expect(pool.run(1, bad, batch(0, 4), signal)).rejects.toThrow(/no-such-scenario/);
      const good = await pool.run(2, spec, batch(0, 4), signal);
      expect(good.schedules).toBe(4);
    } finally {
      await pool.destroy();
    }
  }, 120_000);

  test('batches spread over the threads by the batches each has outstanding', async () => {
    const built = buildExploration(spec);
    const pool = threads(2);
    try {
      const signal = new AbortController().signal;
      const batches = [0, 1, 2, 3].map((i) => batch(i * 5, i * 5 + 5));
      const results = await Promise.all(batches.map((b) => pool.run(1, spec, b, signal)));
      results.forEach((r, i) => {
        expect(r).toEqual(runBatch(built.target, built.options, batches[i] as ScheduleBatch));
      });
      // Both threads ran batches (each was busy, however briefly).
      expect(pool.utilization().every((u) => u > 0)).toBe(true);
    } finally {
      await pool.destroy();
    }
  }, 120_000);
});

describe('a batch result on the wire', () => {
  test.each<[string, BatchResult]>([
    [
      'clean, random',
      {
        schedules: 64,
        findings: 0,
        findingsByKind: {},
        findingsByName: {},
        firstIndex: null,
        firstKind: null,
        pctRuns: [],
      },
    ],
    [
      'a finding, pct runs, step-limit runs apart',
      {
        schedules: 3,
        findings: 2,
        findingsByKind: { deadlock: 1, 'step-limit': 1 },
        findingsByName: { deadlock: 1, 'step-limit': 1 },
        firstIndex: 12,
        firstKind: 'deadlock',
        firstStepLimitIndex: 10,
        pctRuns: [
          [3, 40],
          [3, 41],
          [4, 7],
        ],
      },
    ],
    [
      'step-limit runs apart, none met',
      {
        schedules: 2,
        findings: 0,
        findingsByKind: {},
        findingsByName: {},
        firstIndex: null,
        firstKind: null,
        firstStepLimitIndex: null,
        pctRuns: [],
      },
    ],
  ])('%s: decoded as it was', (_, result) => {
    const wire = encodeBatchResult(result);
    expect(decodeBatchResult(structuredClone(wire))).toEqual(result);
  });
});
