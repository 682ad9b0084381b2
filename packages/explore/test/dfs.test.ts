import { exploreExhaustively, type Task } from '@mmsim/runtime';
import { describe, expect, test } from 'vitest';
import { type ExplorationTarget, explore } from '../src/index.js';
import { abba, independent } from './targets.js';

/**
 * Every schedule of the target (the runtime's unbounded exhaustive search), each with its
 * number of preemptions: decisions that chose another task while the one that ran the
 * previous step could have gone on.
 */
function preemptionCounts(target: ExplorationTarget): number[] {
  const counts: number[] = [];
  exploreExhaustively((inner) => {
    let previous: Task | null = null;
    let preemptions = 0;
    const instance = target.instantiate({
      runtime: {
        strategy: {
          name: 'counting',
          choose(eligible, decision) {
            const chosen = inner.choose(eligible, decision);
            if (previous !== null && eligible.includes(previous) && chosen !== previous) {
              preemptions++;
            }
            return chosen;
          },
        },
        seed: 1,
        onStep: (task) => {
          previous = task;
        },
        maxSteps: 10_000,
        meta: '',
      },
    });
    instance.rt.run();
    counts.push(preemptions);
  });
  return counts;
}

describe('preemption-bounded DFS', () => {
  test.each([
    ['two independent tasks', independent(2, 3)],
    ['three independent tasks', independent(3, 2)],
    ['AB-BA (some schedules deadlock)', abba()],
    ['AB-BA in the same order', abba('same')],
  ])('%s: runs exactly the schedules within the bound, then says so', (_, target) => {
    const counts = preemptionCounts(target);
    const most = Math.max(...counts);
    expect(most).toBeGreaterThan(0); // the bound really cuts the space
    for (let bound = 0; bound <= most + 1; bound++) {
      const expected = counts.filter((c) => c <= bound).length;
      const result = explore(target, {
        strategy: { kind: 'dfs', preemptionBound: bound },
        stopOnFirst: false,
        shrink: false,
      });
      expect(result.schedules, `bound ${bound}`).toBe(expected);
      expect(result.exhausted).toBe(true);
      expect(result.stoppedBy).toBe('exhausted');
    }
  });

  test('every deadlock within the bound is counted', () => {
    const result = explore(abba(), {
      strategy: { kind: 'dfs', preemptionBound: 5 },
      stopOnFirst: false,
      shrink: false,
    });
    expect(result.findingsByKind.deadlock).toBeGreaterThan(0);
    expect(result.findings).toBe(result.findingsByKind.deadlock);
    // The first deadlock DFS meets needs only one preemption.
    expect(result.original!.shape.preemptions).toBe(1);
  });
});
