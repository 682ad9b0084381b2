import {
  type KernelGen,
  Mutex,
  PctStrategy,
  RandomStrategy,
  Runtime,
  type Strategy,
} from '@mmsim/runtime';
import { describe, expect, test } from 'vitest';
import { type ExplorationTarget, type InstanceOptions, stepInvariant } from '../src/index.js';
import { type RunSetup, runSchedule } from '../src/internal.js';

const HALF_DONE = 'counter-equals-increments';

/**
 * `tasks` incrementers (on two CPUs) that each bump a shared counter, pass a scheduling
 * point, then count the increment: between the two the invariant "counter equals
 * increments" is broken, so the check after that point's step must fail. A mutex is taken
 * around part of the work so that sleeps and wake-ups happen. The points are `yield`s, or
 * `if (!rt.virtualStep()) yield;` (`virtual`); `taken` counts the virtual steps taken.
 */
function halfDone(virtual: boolean, tasks: number, taken: { n: number }): ExplorationTarget {
  return {
    name: 'half-done',
    instantiate(options: InstanceOptions) {
      const rt = new Runtime({ cpus: 2, ...options.runtime });
      const mutex = new Mutex(rt, 'm');
      const state = { counter: 0, increments: 0, broken: false };
      function* point(): KernelGen {
        if (virtual && rt.virtualStep()) taken.n++;
        else yield;
      }
      function* body(): KernelGen {
        for (let i = 0; i < 4; i++) {
          yield* point();
          yield* mutex.lock();
          yield* point();
          mutex.unlock();
          state.counter++;
          if (state.broken || i === 3) yield* point(); // the invariant is broken here
          state.increments++;
          state.broken = !state.broken;
        }
      }
      for (let t = 0; t < tasks; t++) rt.spawn(`inc${t}`, t % 2, body);
      const invariant = stepInvariant(HALF_DONE, () =>
        state.counter === state.increments
          ? null
          : `counter is ${state.counter} after ${state.increments} increments`,
      );
      return { rt, invariants: [invariant] };
    },
  };
}

function outcomeOf(virtual: boolean, tasks: number, strategy: () => Strategy, seed: number) {
  const taken = { n: 0 };
  const setup: RunSetup = {
    target: halfDone(virtual, tasks, taken),
    checks: {},
    faults: {},
    maxSteps: 10_000,
  };
  const o = runSchedule(setup, { kind: 'strategy', strategy: strategy() }, seed, false);
  return {
    taken: taken.n,
    verdict: o.verdict,
    token: o.token,
    shape: o.tracker.shape,
    choices: o.tracker.choices,
    defaults: o.tracker.defaults,
  };
}

const STRATEGIES: [string, () => Strategy][] = [
  ['random', () => new RandomStrategy()],
  ['pct', () => new PctStrategy({ depth: 3, steps: 40 })],
];

describe('explored runs with virtual steps', () => {
  test.each(STRATEGIES)(
    '%s: the same decisions, shape, token and verdict as with yields',
    (_name, strategy) => {
      let taken = 0;
      let failed = 0;
      for (const tasks of [1, 2, 3]) {
        for (let seed = 1; seed <= 25; seed++) {
          const plain = outcomeOf(false, tasks, strategy, seed);
          const virtual = outcomeOf(true, tasks, strategy, seed);
          expect(plain.taken).toBe(0);
          taken += virtual.taken;
          expect(virtual.choices).toEqual(plain.choices);
          expect(virtual.defaults).toEqual(plain.defaults);
          expect(virtual.shape).toEqual(plain.shape);
          expect(virtual.token).toBe(plain.token);
          expect(virtual.verdict).toEqual(plain.verdict);
          if (plain.verdict !== null) failed++;
        }
      }
      expect(taken).toBeGreaterThan(0);
      expect(failed).toBeGreaterThan(0);
    },
  );

  test('a step check fails after a virtual step, at that step', () => {
    // One task: every point is a virtual step (its body runs in one resumption), and the
    // check must still see the broken state after the first point between an increment
    // and its count, at the step where the yields see it.
    const virtual = outcomeOf(true, 1, () => new RandomStrategy(), 1);
    expect(virtual.taken).toBeGreaterThan(0);
    expect(virtual.verdict).toMatchObject({
      kind: 'invariant',
      invariant: HALF_DONE,
      phase: 'step',
      violation: 'counter is 2 after 1 increments',
    });
    expect(virtual.shape.steps).toBe(
      outcomeOf(false, 1, () => new RandomStrategy(), 1).shape.steps,
    );
  });
});
