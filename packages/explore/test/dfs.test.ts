import { describe, expect, test } from 'vitest';
import { explore } from '../src/index.js';
import { checkPreemptionBound } from '../src/testing/index.js';
import { abba, independent } from './targets.js';

describe('preemption-bounded DFS', () => {
  test.each([
    ['two independent tasks', independent(2, 3)],
    ['three independent tasks', independent(3, 2)],
    ['AB-BA (some schedules deadlock)', abba()],
    ['AB-BA in the same order', abba('same')],
  ])('%s: runs exactly the schedules within the bound, then says so', (_, target) => {
    const { violations, mostPreemptions } = checkPreemptionBound(target);
    expect(mostPreemptions).toBeGreaterThan(0); // the bound really cuts the space
    expect(violations).toEqual([]);
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
