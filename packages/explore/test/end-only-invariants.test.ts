import { endInvariant, type Invariant, type KernelGen, Runtime } from '@mmsim/runtime';
import { describe, expect, test } from 'vitest';
import { type ExplorationTarget, explore, type InstanceOptions } from '../src/index.js';

/** One task of `steps` steps, checked by `invariants`. */
function stepping(steps: number, invariants: () => Invariant[]): ExplorationTarget {
  return {
    name: 'stepping',
    instantiate(options: InstanceOptions) {
      const rt = new Runtime({ cpus: 1, ...options.runtime });
      rt.spawn('stepper', 0, function* (): KernelGen {
        for (let i = 1; i < steps; i++) yield;
      });
      return { rt, invariants: invariants() };
    },
  };
}

describe('end-only invariants', () => {
  test('an endInvariant is called once, at the end; a step invariant after every step too', () => {
    const calls = { end: 0, step: 0, stepAtEnd: 0 };
    const target = stepping(5, () => [
      endInvariant('at-end', () => {
        calls.end++;
        return null;
      }),
      {
        name: 'every-step',
        check(phase) {
          if (phase === 'step') calls.step++;
          else calls.stepAtEnd++;
          return null;
        },
      },
    ]);
    const result = explore(target, { schedules: 1 });
    expect(result.found).toBe(false);
    // Five steps: the step invariant sees each, the end invariant only the end.
    expect(calls).toEqual({ end: 1, step: 5, stepAtEnd: 1 });
  });

  test('a failing end invariant is still found, after the step invariants held', () => {
    const target = stepping(3, () => [endInvariant('never-at-end', () => 'it ended')]);
    const result = explore(target, { schedules: 1 });
    expect(result.invariant).toBe('never-at-end');
    if (result.finding?.kind !== 'invariant') throw new Error('not an invariant finding');
    expect(result.finding.phase).toBe('end');
  });

  test('an invariant that says endOnly but fails at a step is skipped at steps (its contract)', () => {
    // endOnly promises the check holds at every step; the explorer does not call it there.
    let stepCalls = 0;
    const liar: Invariant = {
      name: 'liar',
      endOnly: true,
      check(phase) {
        if (phase === 'step') stepCalls++;
        return phase === 'step' ? 'called at a step' : null;
      },
    };
    const result = explore(
      stepping(3, () => [liar]),
      { schedules: 1 },
    );
    expect(stepCalls).toBe(0);
    expect(result.found).toBe(false);
  });
});
