import { type KernelGen, Runtime } from '@mmsim/runtime';
import { describe, expect, test } from 'vitest';
import { type ExplorationTarget, explore, formatFinding, replay } from '../src/index.js';

declare module '../src/index.js' {
  interface CheckKinds {
    /** A test check's kind: two tasks were inside the section at once. */
    overlap: { readonly inside: number };
  }
}

/**
 * Two tasks pass through a section with a yield inside (no lock); the target's own
 * check, not an invariant, reports the overlap as a finding of kind `overlap`.
 */
function overlap(): ExplorationTarget {
  return {
    name: 'overlap',
    instantiate({ runtime }) {
      const rt = new Runtime({ cpus: 2, ...runtime });
      let inside = 0;
      const pass = function* (): KernelGen {
        inside++;
        yield;
        inside--;
      };
      rt.spawn('a', 0, pass);
      rt.spawn('b', 1, pass);
      const check = {
        name: 'section-overlap',
        check: () =>
          inside < 2
            ? null
            : {
                kind: 'overlap' as const,
                message: `overlap: ${inside} tasks in the section`,
                detail: `section overlap:\n  ${inside} tasks inside`,
                data: { inside },
              },
      };
      return { rt, invariants: [], checks: [check] };
    },
  };
}

describe("a target's own checks", () => {
  test('a failed check is a finding of its kind, with its message, report and data', () => {
    const result = explore(overlap(), { schedules: 50 });
    expect(result.kind).toBe('overlap');
    expect(result.message).toBe('overlap: 2 tasks in the section');
    const f = result.finding!;
    if (f.kind !== 'overlap') throw new Error('not an overlap');
    expect(f.check).toBe('section-overlap');
    expect(f.data.inside).toBe(2);
    expect(formatFinding(f)).toContain('section overlap:\n  2 tasks inside');
    expect(replay(overlap(), result.replay!).finding).toEqual(f);
  });

  test('a check is disabled by name, and its name may not repeat an invariant', () => {
    const quiet = explore(overlap(), {
      strategy: 'dfs',
      disable: ['section-overlap'],
    });
    expect(quiet.found).toBe(false);
    expect(quiet.exhausted).toBe(true);
    expect(() =>
      explore(overlap(), { invariants: [{ name: 'section-overlap', check: () => null }] }),
    ).toThrow(/"section-overlap" is used twice/);
  });

  test('a check may not claim a kind the explorer reports itself', () => {
    const target: ExplorationTarget = {
      name: 'claims-deadlock',
      instantiate({ runtime }) {
        const rt = new Runtime({ cpus: 1, ...runtime });
        rt.spawn('t', 0, function* (): KernelGen {
          yield;
        });
        const check = { name: 'liar', check: () => ({ kind: 'deadlock' }) as never };
        return { rt, invariants: [], checks: [check] };
      },
    };
    expect(() => explore(target, { schedules: 1 })).toThrow(/kind must be its own/);
  });
});
