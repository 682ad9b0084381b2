import { endInvariant, type Invariant, type KernelGen, Runtime } from '@mmsim/runtime';
import { describe, expect, test } from 'vitest';
import { type ExplorationTarget, explore } from '../src/index.js';
import { activeChecks } from '../src/internal.js';

/** A target that records the runtime options each instance is given. */
function recording(seen: string[][], targetInvariants: Invariant[]): ExplorationTarget {
  return {
    name: 'recording',
    instantiate({ runtime }) {
      seen.push(Object.keys(runtime));
      const rt = new Runtime({ cpus: 1, ...runtime });
      rt.spawn('t', 0, function* (): KernelGen {
        yield;
      });
      return { rt, invariants: targetInvariants, checks: [{ name: 'c', check: () => null }] };
    },
  };
}

describe("a schedule's checks and runtime options", () => {
  test('invariants in order: the runtime’s, the target’s, the extra ones; end-only ones off the step list', () => {
    const target = [
      { name: 't1', check: () => null },
      endInvariant('t2-end', () => null),
      { name: 't3', check: () => null },
    ];
    const extra = [{ name: 'x1', check: () => null }, endInvariant('x2-end', () => null)];
    const seen: string[][] = [];
    const instance = recording(seen, target).instantiate({
      runtime: { strategy: 'in-order', seed: 1, onStep: () => {}, maxSteps: 100, meta: '' },
    });
    const names = (list: readonly { name: string }[]) => list.map((i) => i.name);
    const all = activeChecks(instance, { invariants: extra }, 'recording');
    expect(names(all.checks)).toEqual(['c']);
    expect(names(all.invariants)).toEqual([
      'quiescent-at-end',
      'held-locks-consistent',
      't1',
      't2-end',
      't3',
      'x1',
      'x2-end',
    ]);
    expect(names(all.stepInvariants)).toEqual(['held-locks-consistent', 't1', 't3', 'x1']);
    // Without extra invariants, and with some disabled: the same order, minus those.
    const some = activeChecks(instance, { disable: ['t1', 'quiescent-at-end'] }, 'recording');
    expect(names(some.invariants)).toEqual(['held-locks-consistent', 't2-end', 't3']);
  });

  test('each instance gets strategy, seed, onStep, maxSteps and meta, in that order', () => {
    const seen: string[][] = [];
    explore(recording(seen, []), { schedules: 3, seed: 5 });
    expect(seen).toEqual([
      ['strategy', 'seed', 'onStep', 'maxSteps', 'meta'],
      ['strategy', 'seed', 'onStep', 'maxSteps', 'meta'],
      ['strategy', 'seed', 'onStep', 'maxSteps', 'meta'],
    ]);
    const dpor: string[][] = [];
    explore(recording(dpor, []), { strategy: 'dpor', schedules: 2 });
    expect(dpor[0]).toEqual(['strategy', 'seed', 'onStep', 'maxSteps', 'meta', 'footprints']);
  });
});
