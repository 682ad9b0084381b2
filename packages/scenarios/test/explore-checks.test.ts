import { type ExplorationTarget, explore, formatFinding } from '@mmsim/explore';
import { checkPreemptionBound, checkShrinking } from '@mmsim/explore/test';
import { describe, expect, test } from 'vitest';
import { INVERSION_CHECK } from '../src/index.js';
import { inversion } from './targets.js';

/**
 * The explorer's tests that need the page-lock inversion check, which the scenarios
 * supply (moved from @mmsim/explore, whose own tests use runtime-only targets).
 */

describe('other kinds of findings', () => {
  test('an inversion without a deadlock is found by the page-lock dependency checker', () => {
    const result = explore(inversion(), { schedules: 50 });
    expect(result.kind).toBe('inversion');
    const f = result.finding!;
    if (f.kind !== 'inversion') throw new Error('not an inversion');
    expect(f.data.cycle.map((e) => `${e.task.name}:${e.from}->${e.to}`)).toEqual([
      'ab:folio 0x1->folio 0x2',
      'ba:folio 0x2->folio 0x1',
    ]);
    expect(formatFinding(f)).toContain('possible page-lock deadlock: a dependency cycle of 2');
    // The barrier means no schedule deadlocks: without the checker, DFS finds nothing.
    const quiet = explore(inversion(), {
      strategy: { kind: 'dfs', preemptionBound: 3 },
      disable: [INVERSION_CHECK],
    });
    expect(quiet.found).toBe(false);
    expect(quiet.exhausted).toBe(true);
  });

  test('end invariants see the run result', () => {
    const seen: string[] = [];
    const result = explore(inversion(), {
      schedules: 3,
      disable: [INVERSION_CHECK],
      invariants: [
        {
          name: 'finished-in-time',
          check: (phase, r) => {
            if (phase === 'end') seen.push(r!.status);
            return phase === 'end' && r!.virtualTimeNs > 0 ? `took ${r!.virtualTimeNs} ns` : null;
          },
        },
      ],
    });
    expect(seen[0]).toBe('completed');
    expect(result.invariant).toBe('finished-in-time');
    const f = result.finding!;
    if (f.kind !== 'invariant') throw new Error('not an invariant');
    expect(f.phase).toBe('end');
    expect(formatFinding(f)).toContain('failed at the end of the run');
  });
});

describe('shrinking', () => {
  test.each<[string, ExplorationTarget]>([['inversion', inversion()]])(
    '%s: over many seeds, never longer, and the shrunk token replays the same kind',
    (_, target) => {
      const { violations, maxPreemptions } = checkShrinking(target);
      expect(violations).toEqual([]);
      // None of these bugs needs more than one preemption, and the shrinker finds that.
      expect(maxPreemptions).toBeLessThanOrEqual(1);
    },
  );
});

describe('preemption-bounded DFS', () => {
  test.each([['the inversion target (a barrier)', inversion()]])(
    '%s: runs exactly the schedules within the bound, then says so',
    (_, target) => {
      const { violations, mostPreemptions } = checkPreemptionBound(target, {
        disable: [INVERSION_CHECK],
      });
      expect(mostPreemptions).toBeGreaterThan(0); // the bound really cuts the space
      expect(violations).toEqual([]);
    },
  );
});
