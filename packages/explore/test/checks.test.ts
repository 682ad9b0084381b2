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

  test("names are checked for every instance: a later instance's duplicate or missing name throws", () => {
    // The names of an exploration's first instance are validated once and reused while the
    // next instances carry the same names: a target whose instances differ must still be
    // refused at the first one that is wrong (a duplicate, or a disabled name it lacks).
    const varying = (names: (instance: number) => string[]): ExplorationTarget => {
      let instances = 0;
      return {
        name: 'varying',
        instantiate({ runtime }) {
          const rt = new Runtime({ cpus: 1, ...runtime });
          rt.spawn('a', 0, function* (): KernelGen {
            yield;
          });
          // Invariant x always fails: it must stay disabled where disabled.
          const invariants = names(instances++).map((name) => ({
            name,
            check: () => (name === 'x' ? 'x fails' : null),
          }));
          return { rt, invariants };
        },
      };
    };
    const same = explore(
      varying(() => ['x', 'y']),
      { schedules: 5, disable: ['x'] },
    );
    expect(same.found).toBe(false);
    expect(same.schedules).toBe(5);
    expect(() =>
      explore(
        varying((i) => (i < 3 ? ['y', 'z'] : ['y', 'y'])),
        { schedules: 5 },
      ),
    ).toThrow(/"y" is used twice/);
    expect(() =>
      explore(
        varying((i) => (i < 3 ? ['x', 'y'] : ['y', 'z'])),
        {
          schedules: 5,
          disable: ['x'],
        },
      ),
    ).toThrow(/"x" names no invariant/);
    // Renamed but valid: accepted, and the disabled one still left out.
    const renamed = explore(
      varying((i) => (i < 2 ? ['x', 'y'] : ['x', 'z'])),
      { schedules: 5, disable: ['x'] },
    );
    expect(renamed.found).toBe(false);
    expect(renamed.schedules).toBe(5);
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
