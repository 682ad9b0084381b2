import { DPOR_SPLIT_DECISIONS, type KernelGen, MmsimError, Runtime } from '@mmsim/runtime';
import { describe, expect, test } from 'vitest';
import {
  type ExplorationTarget,
  explore,
  type InstanceOptions,
  stepInvariant,
} from '../src/index.js';
import { abba, independent } from './targets.js';

/** `tasks` tasks on their own CPUs, each yielding `steps` times, declaring that they share nothing. */
function declaredIndependent(tasks: number, steps: number): ExplorationTarget {
  return {
    name: `declared-independent-${tasks}x${steps}`,
    instantiate(options: InstanceOptions) {
      const rt = new Runtime({ cpus: tasks, declaredFootprints: true, ...options.runtime });
      for (let i = 0; i < tasks; i++) {
        rt.spawn(`t${i}`, i, function* (): KernelGen {
          for (let s = 0; s < steps; s++) yield;
        });
      }
      return { rt, invariants: [] };
    },
  };
}

/** Two read-yield-write incrementers of one counter, declared with `touch`, and an unrelated task. */
function declaredLostUpdate(): ExplorationTarget {
  return {
    name: 'declared-lost-update',
    instantiate(options: InstanceOptions) {
      const rt = new Runtime({ cpus: 3, declaredFootprints: true, ...options.runtime });
      const counter = rt.newObjectId();
      const state = { counter: 0, increments: 0 };
      const inc = function* (): KernelGen {
        rt.touch(counter, false);
        const seen = state.counter;
        yield;
        rt.touch(counter, true);
        state.counter = seen + 1;
        state.increments++;
      };
      rt.spawn('inc', 0, inc);
      rt.spawn('inc', 1, inc);
      rt.spawn('noise', 2, function* (): KernelGen {
        for (let i = 0; i < 3; i++) yield;
      });
      const invariant = stepInvariant('counter-equals-increments', () =>
        state.counter === state.increments ? null : `counter ${state.counter}`,
      );
      return { rt, invariants: [invariant] };
    },
  };
}

describe('explore with dpor', () => {
  test('finds the AB-BA deadlock', () => {
    const result = explore(abba(), { strategy: 'dpor', shrink: false });
    expect(result.kind).toBe('deadlock');
    expect(result.bound).toBe(2);
    expect(result.exhausted).toBe(false);
  });

  test('finds the lost update of a program that declares its footprints', () => {
    const result = explore(declaredLostUpdate(), { strategy: 'dpor', shrink: false });
    expect(result.kind).toBe('invariant');
  });

  test('undeclared steps are dependent with all: dpor runs what dfs runs, one class each', () => {
    const dfs = explore(abba('same'), { strategy: { kind: 'dfs', preemptionBound: 2 } });
    const dpor = explore(abba('same'), { strategy: { kind: 'dpor', preemptionBound: 2 } });
    expect(dfs.exhausted).toBe(true);
    expect(dpor.exhausted).toBe(true);
    expect(dpor.executions).toBe(dfs.executions);
    expect(dpor.classes).toBe(dpor.executions);
    expect(dfs.classes).toBe(dfs.executions);
  });

  test('declared independent tasks: one class; dpor runs only the split of its top decisions', () => {
    const target = declaredIndependent(3, 2);
    const dfs = explore(target, { strategy: { kind: 'dfs', preemptionBound: 2 } });
    const dpor = explore(target, { strategy: { kind: 'dpor', preemptionBound: 2 } });
    expect(dfs.exhausted).toBe(true);
    expect(dfs.executions).toBeGreaterThan(10);
    expect(dfs.classes).toBe(1);
    // The first DPOR_SPLIT_DECISIONS (2) decisions are explored in full, so that shards
    // split the search: 3 x 3 runs, every one of the one class (each counted once).
    expect(DPOR_SPLIT_DECISIONS).toBe(2);
    expect(dpor).toMatchObject({ exhausted: true, executions: 9, classes: 1, bound: 2 });
    expect(dpor.message).toBe(
      'exhausted: every schedule up to preemption bound 2 explored — 9 executions covering 1 interleaving classes',
    );
  });

  test('undeclared independent tasks still count one class per schedule', () => {
    const dfs = explore(independent(2, 2), { strategy: 'dfs' });
    expect(dfs.classes).toBe(dfs.executions);
    expect(dfs.message).toBe(
      `exhausted: every schedule up to preemption bound 2 explored — ${dfs.executions} executions covering ${dfs.executions} interleaving classes`,
    );
  });

  test('a schedule limit that stops it first leaves it not exhausted', () => {
    const result = explore(abba('same'), { strategy: 'dpor', schedules: 2 });
    expect(result).toMatchObject({ exhausted: false, stoppedBy: 'schedules', executions: 2 });
    expect(result.message).toContain('not exhausted');
  });

  test('a bad bound is INVALID_CONFIG', () => {
    for (const preemptionBound of [-1, 1.5, '2']) {
      expect(() =>
        explore(abba(), { strategy: { kind: 'dpor', preemptionBound } as never }),
      ).toThrow(MmsimError);
    }
  });

  test('random and pct have no bound and no classes', () => {
    const result = explore(abba('same'), { strategy: 'random', schedules: 3 });
    expect(result).toMatchObject({ bound: null, classes: null, pct: null, executions: 3 });
  });
});

describe("PCT's guarantee", () => {
  test('per schedule 1/(n k^(d-1)) and 1 - prod(1 - p) over the schedules that count', () => {
    const steps = 40;
    const result = explore(abba('same'), {
      strategy: { kind: 'pct', depth: 3, steps },
      schedules: 25,
    });
    const g = result.pct!;
    expect(g).toMatchObject({ depth: 3, tasks: 2, steps, schedulesCounted: 25 });
    const p = 1 / (2 * steps ** 2);
    expect(g.perSchedule).toBeCloseTo(p, 12);
    expect(g.cumulative).toBeCloseTo(1 - (1 - p) ** 25, 12);
  });

  test('schedules whose change points did not cover their decisions do not count', () => {
    const result = explore(abba('same'), { strategy: { kind: 'pct', steps: 1 }, schedules: 5 });
    // Each AB-BA schedule makes more than one decision: none is covered by k = 1.
    expect(result.pct).toMatchObject({ schedulesCounted: 0, perSchedule: 0, cumulative: 0 });
  });
});
