import { describe, expect, test } from 'vitest';
import { type ExplorationTarget, explore, replay, sameKind } from '../src/index.js';
import { abba, lostUpdate, transient } from './targets.js';

describe('shrinking', () => {
  test.each<[string, ExplorationTarget]>([
    ['lost update', lostUpdate()],
    ['AB-BA', abba()],
    ['transient crash', transient()],
  ])(
    '%s: over many seeds, never longer, and the shrunk token replays the same kind',
    (_, target) => {
      const preemptions: number[] = [];
      for (let seed = 1; seed <= 25; seed++) {
        const result = explore(target, { seed, schedules: 500 });
        expect(result.found).toBe(true);
        const before = result.original!.shape;
        const after = result.finding!.shape;
        expect(result.shrink!.before).toEqual(before);
        expect(result.shrink!.after).toEqual(after);
        for (const measure of ['explicitDecisions', 'preemptions', 'switches'] as const) {
          expect(after[measure], `seed ${seed}: ${measure}`).toBeLessThanOrEqual(before[measure]);
        }
        expect(result.shrink!.replays).toBeLessThanOrEqual(200 + 2);
        const again = replay(target, result.replay!);
        expect(sameKind(again.finding!, result.original!)).toBe(true);
        expect(again.finding).toEqual(result.finding);
        preemptions.push(after.preemptions);
      }
      // None of these bugs needs more than one preemption, and the shrinker finds that.
      expect(Math.max(...preemptions)).toBeLessThanOrEqual(1);
    },
  );

  test('the lost update shrinks to its one-preemption form, without the unrelated task', () => {
    for (let seed = 1; seed <= 10; seed++) {
      const result = explore(lostUpdate(), { seed });
      const tasks = new Set(result.finding!.steps!.map((s) => s.task?.name));
      expect(tasks).toEqual(new Set(['inc']));
      expect(result.finding!.shape.preemptions).toBe(1);
    }
  });
});
