import { describe, expect, test } from 'vitest';
import { type ExplorationTarget, explore } from '../src/index.js';
import { checkShrinking } from '../src/testing/index.js';
import { abba, independent, lostUpdate, transient } from './targets.js';

describe('shrinking', () => {
  test.each<[string, ExplorationTarget]>([
    ['lost update', lostUpdate()],
    ['AB-BA', abba()],
    ['transient crash', transient()],
  ])(
    '%s: over many seeds, never longer, and the shrunk token replays the same kind',
    (_, target) => {
      const { violations, maxPreemptions } = checkShrinking(target);
      expect(violations).toEqual([]);
      // None of these bugs needs more than one preemption, and the shrinker finds that.
      expect(maxPreemptions).toBeLessThanOrEqual(1);
    },
  );

  test('checkShrinking reports a target that has no bug to shrink, seed by seed', () => {
    const { violations } = checkShrinking(independent(2, 2), { seeds: 2, schedules: 10 });
    expect(violations).toEqual([
      'seed 1: nothing found, or no shrink result',
      'seed 2: nothing found, or no shrink result',
    ]);
  });

  test('the lost update shrinks to its one-preemption form, without the unrelated task', () => {
    for (let seed = 1; seed <= 10; seed++) {
      const result = explore(lostUpdate(), { seed });
      const tasks = new Set(result.finding!.steps!.map((s) => s.task?.name));
      expect(tasks).toEqual(new Set(['inc']));
      expect(result.finding!.shape.preemptions).toBe(1);
    }
  });
});
