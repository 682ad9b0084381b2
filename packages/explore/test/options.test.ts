import { MmsimError, Runtime } from '@mmsim/runtime';
import { describe, expect, test } from 'vitest';
import {
  type ExplorationTarget,
  type ExploreOptions,
  explore,
  type InstanceOptions,
  replay,
} from '../src/index.js';
import { abba, counters, faulty, lostUpdate } from './targets.js';

function invalidConfig(run: () => unknown): MmsimError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(MmsimError);
    expect((error as MmsimError).code).toBe('INVALID_CONFIG');
    return error as MmsimError;
  }
  throw new Error('expected INVALID_CONFIG');
}

describe('options', () => {
  test.each<[string, unknown, RegExp]>([
    ['schedules', { schedules: 0 }, /^schedules must be an integer/],
    ['schedules', { schedules: 1.5 }, /^schedules must be/],
    ['seed', { seed: -1 }, /^seed must be/],
    ['strategy', { strategy: 'chaos' }, /^strategy must be 'random', 'pct', 'dfs'/],
    ['strategy.depth', { strategy: { kind: 'pct', depth: 0 } }, /^strategy.depth must be/],
    [
      'strategy.preemptionBound',
      { strategy: { kind: 'dfs', preemptionBound: -1 } },
      /^strategy.preemptionBound/,
    ],
    ['strategy key', { strategy: { kind: 'dfs', bound: 1 } }, /^strategy.bound is not an option/],
    ['timeBudgetMs', { timeBudgetMs: 0 }, /^timeBudgetMs must be a positive/],
    ['maxSteps', { maxSteps: 0 }, /^maxSteps must be/],
    ['stopOnFirst', { stopOnFirst: 'yes' }, /^stopOnFirst must be a boolean/],
    ['onProgress', { onProgress: 3 }, /^onProgress must be a function/],
    ['shrink', { shrink: { maxReplays: -1 } }, /^shrink.maxReplays must be/],
    ['disable', { disable: 'all' }, /disable must be an array/],
    ['invariants', { invariants: [{ name: '' }] }, /invariants\[0\] must be/],
    ['faults', { faults: { alloc_fail: 3 } }, /^faults.alloc_fail must be/],
    ['a typo', { schedule: 10 }, /explore options.schedule is not an option/],
  ])('bad %s throws INVALID_CONFIG before anything runs', (_, options, message) => {
    const before = { ...counters };
    let progress = 0;
    const error = invalidConfig(() =>
      explore(abba(), { onProgress: () => progress++, ...(options as ExploreOptions) }),
    );
    expect(error.message).toMatch(message);
    expect(counters).toEqual(before);
    expect(progress).toBe(0);
  });

  test('a disabled name that matches nothing, or a duplicate name, throws before any step', () => {
    const steps = counters.taskSteps;
    let progress = 0;
    const onProgress = () => progress++;
    const unknown = invalidConfig(() => explore(abba(), { disable: ['no-such'], onProgress }));
    expect(unknown.message).toContain('"no-such" names no invariant of target "ab-ba-opposite"');
    expect(unknown.message).toContain('held-locks-consistent');
    const duplicate = invalidConfig(() =>
      explore(lostUpdate(), {
        invariants: [{ name: 'counter-equals-increments', check: () => null }],
        onProgress,
      }),
    );
    expect(duplicate.message).toContain('"counter-equals-increments"');
    expect(counters.taskSteps).toBe(steps);
    expect(progress).toBe(0);
  });

  test('an unknown fault site throws INVALID_CONFIG before anything runs', () => {
    const error = invalidConfig(() => explore(faulty(), { faults: { no_site: { calls: [1] } } }));
    expect(error.message).toContain('faults.no_site is not a fault site');
  });

  test('faults are applied to every instance and travel in the token', () => {
    expect(explore(faulty(), { schedules: 5 }).found).toBe(false);
    const result = explore(faulty(), { faults: { alloc_fail: { calls: [2] } } });
    expect(result.kind).toBe('crash');
    expect(result.message).toContain('allocation 2 failed');
    expect(replay(faulty(), result.replay!).finding).toEqual(result.finding);
  });

  test('a bad target, or one that ignores the runtime options, is INVALID_CONFIG', () => {
    invalidConfig(() => explore({ name: '', instantiate: () => null } as never));
    const ignoring: ExplorationTarget = {
      name: 'ignores-options',
      instantiate: () => ({ rt: new Runtime({ cpus: 1 }), invariants: [] }),
    };
    expect(invalidConfig(() => explore(ignoring)).message).toContain(
      'must create its Runtime with options.runtime',
    );
    const noOnStep: ExplorationTarget = {
      name: 'no-on-step',
      instantiate: ({ runtime }: InstanceOptions) => {
        const { onStep: _, ...rest } = runtime;
        const rt = new Runtime({ cpus: 1, ...rest });
        rt.spawn('t', 0, function* () {
          yield;
        });
        return { rt, invariants: [] };
      },
    };
    expect(invalidConfig(() => explore(noOnStep)).message).toContain('onStep');
    const broken: ExplorationTarget = { name: 'broken', instantiate: () => ({}) as never };
    expect(invalidConfig(() => explore(broken)).message).toContain('instantiate() must return');
  });

  test('onProgress is called once per schedule, in order', () => {
    const calls: { schedule: number; findings: number; kind: string | null }[] = [];
    const result = explore(abba(), {
      seed: 3,
      schedules: 300,
      onProgress: ({ schedule, findings, kind, schedules }) => {
        expect(schedules).toBe(300);
        calls.push({ schedule, findings, kind });
      },
    });
    expect(calls.length).toBe(result.schedules);
    expect(calls.map((c) => c.schedule)).toEqual(calls.map((_, i) => i + 1));
    expect(calls.at(-1)).toEqual({ schedule: result.schedules, findings: 1, kind: 'deadlock' });
    expect(calls.slice(0, -1).every((c) => c.kind === null && c.findings === 0)).toBe(true);
    const none: number[] = [];
    const quiet = explore(abba('same'), {
      schedules: 25,
      onProgress: (p) => none.push(p.schedule),
    });
    expect(none).toHaveLength(25);
    expect(quiet.schedules).toBe(25);
  });

  test('the time budget stops the search and says so', () => {
    const result = explore(abba('same'), { schedules: 1000, timeBudgetMs: Number.MIN_VALUE });
    expect(result.stoppedBy).toBe('time');
    expect(result.schedules).toBe(1);
    expect(result.message).toContain('time budget');
    const roomy = explore(abba('same'), { schedules: 3, timeBudgetMs: 1e9 });
    expect(roomy.stoppedBy).toBe('schedules');
  });
});

describe('replay', () => {
  test('a token of another target, or not a token, is refused', () => {
    const result = explore(abba(), { seed: 2 });
    expect(() => replay(lostUpdate(), result.replay!)).toThrow(
      /recorded on target "ab-ba-opposite"/,
    );
    try {
      replay(abba(), 'not a token');
    } catch (error) {
      expect((error as MmsimError).code).toBe('INVALID_REPLAY_TOKEN');
    }
    expect.assertions(2);
  });

  test('replay checks the invariants it is given: the finding needs the same ones', () => {
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const result = explore(lostUpdate(), { seed });
      let outcome: string;
      try {
        const again = replay(lostUpdate(), result.replay!, {
          disable: ['counter-equals-increments'],
        });
        outcome = again.finding === null ? 'no finding' : again.finding.kind;
      } catch (error) {
        // The run went on past the end of the token.
        outcome = (error as MmsimError).code;
      }
      expect(['no finding', 'REPLAY_DIVERGED']).toContain(outcome);
    }
  });

  test('a token from a plain runtime run replays too', () => {
    const target = abba();
    let token = '';
    const { rt } = target.instantiate({
      runtime: { strategy: 'random', seed: 9, onStep: () => {}, maxSteps: 1000, meta: 'by hand' },
    });
    const run = rt.run();
    token = run.replayToken;
    const again = replay(target, token);
    expect(again.result?.status).toBe(run.status);
    expect(again.result?.steps).toBe(run.steps);
    expect(again.finding?.kind ?? null).toBe(run.status === 'deadlock' ? 'deadlock' : null);
  });
});
