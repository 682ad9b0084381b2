import { type Invariant, type InvariantPhase, type KernelGen, Runtime } from '@mmsim/runtime';
import { describe, expect, test } from 'vitest';
import { type ExplorationTarget, explore, type InstanceOptions } from '../src/index.js';

/*
 * An invariant with `stepStride` (the scenarios' strided walks) is called through `checkDue`
 * on the explorer's step checks number stride, 2 × stride, ... and not at all on the others:
 * the same answers at the same steps as its counting `check('step')`.
 */

/** Two tasks on their own CPUs, `steps` steps each, checked by `invariants`. */
function two(steps: number, invariants: () => Invariant[]): ExplorationTarget {
  return {
    name: 'two',
    instantiate(options: InstanceOptions) {
      const rt = new Runtime({ cpus: 2, ...options.runtime });
      for (let i = 0; i < 2; i++) {
        rt.spawn(`t${i}`, i, function* (): KernelGen {
          for (let s = 1; s < steps; s++) yield;
        });
      }
      return { rt, invariants: invariants() };
    },
  };
}

/** A strided invariant as the scenarios make it: `check` counts, `checkDue` checks. */
class Counted implements Invariant {
  n = 0;
  readonly due: number[] = [];
  constructor(
    readonly name: string,
    private readonly stride: number,
    private readonly failAt: number,
    readonly says: boolean,
  ) {}
  get stepStride(): number | undefined {
    return this.says ? this.stride : undefined;
  }
  check(phase: InvariantPhase): string | null {
    if (phase === 'step' && ++this.n % this.stride !== 0) return null;
    return this.checkDue(phase);
  }
  checkDue(phase: InvariantPhase): string | null {
    if (phase === 'end') return null;
    const at = this.says ? this.due.length + 1 : this.n / this.stride;
    this.due.push(at * this.stride);
    return at * this.stride === this.failAt ? `failed at step check ${this.failAt}` : null;
  }
}

describe('invariants with a step stride', () => {
  test('checkDue runs on every stride-th step check only, check never at a step', () => {
    const made: Counted[] = [];
    const target = two(6, () => {
      const inv = new Counted('every-3', 3, 0, true);
      made.push(inv);
      // `check` is the counting form: the explorer must not call it at a step.
      const check = inv.check.bind(inv);
      inv.check = (phase) => (phase === 'step' ? 'check called at a step' : check(phase));
      return [inv];
    });
    const result = explore(target, { schedules: 3, seed: 4 });
    expect(result.found).toBe(false);
    expect(made).toHaveLength(3);
    // 12 steps a schedule: due at the 3rd, 6th, 9th and 12th step checks.
    for (const inv of made) expect(inv.due).toEqual([3, 6, 9, 12]);
  });

  test('the same finding, step and replay token as the counting check', () => {
    const run = (says: boolean) =>
      explore(
        two(8, () => [new Counted('every-4', 4, 12, says)]),
        { schedules: 4, seed: 9, shrink: false },
      );
    const counted = run(false);
    const strided = run(true);
    expect(counted.found).toBe(true);
    expect(strided.finding).toEqual(counted.finding);
    if (counted.finding?.kind !== 'invariant') throw new Error('not an invariant finding');
    expect(counted.finding.violation).toBe('failed at step check 12');
    expect(counted.finding.phase).toBe('step');
  });

  test('a stride that is not a positive integer, or no checkDue, is called at every step', () => {
    for (const stride of [0, 2.5, -2, Number.NaN]) {
      let calls = 0;
      const inv: Invariant = {
        name: 'odd-stride',
        stepStride: stride,
        check: (phase) => {
          if (phase === 'step') calls++;
          return null;
        },
        checkDue: () => 'checkDue called',
      };
      expect(
        explore(
          two(3, () => [inv]),
          { schedules: 1 },
        ).found,
      ).toBe(false);
      expect(calls).toBe(6);
    }
    let calls = 0;
    const noDue: Invariant = {
      name: 'no-check-due',
      stepStride: 2,
      check: (phase) => {
        if (phase === 'step') calls++;
        return null;
      },
    };
    expect(
      explore(
        two(3, () => [noDue]),
        { schedules: 1 },
      ).found,
    ).toBe(false);
    expect(calls).toBe(6);
  });
  test('strides of different lengths and plain invariants: the calls and their order of the counting form', () => {
    // Each invariant logs its step calls as `name@check`; the counting form (no stride
    // said) is called at every step and logs only on its due ones, as `checkDue` does.
    const run = (says: boolean): string[] => {
      const log: string[] = [];
      let n = 0;
      const logging = (name: string, stride: number): Invariant => {
        let own = 0;
        const due = (): null => {
          log.push(`${name}@${n}`);
          return null;
        };
        return {
          name,
          ...(says ? { stepStride: stride, checkDue: due } : {}),
          check: (phase) => {
            if (phase !== 'step') return null;
            return ++own % stride === 0 ? due() : null;
          },
        };
      };
      const plain = (name: string): Invariant => ({
        name,
        check: (phase) => {
          if (phase === 'step') log.push(`${name}@${n}`);
          return null;
        },
      });
      const counter: Invariant = {
        name: 'counter',
        check: (phase) => {
          if (phase === 'step') n++;
          return null;
        },
      };
      const result = explore(
        two(9, () => [
          counter,
          logging('every-4', 4),
          plain('plain-a'),
          logging('every-6', 6),
          plain('plain-b'),
          logging('every-10', 10),
        ]),
        { schedules: 1, seed: 3 },
      );
      expect(result.found).toBe(false);
      return log;
    };
    const counted = run(false);
    const strided = run(true);
    // 18 step checks: every-4 at 4, 8, 12, 16; every-6 at 6, 12, 18; every-10 at 10. The
    // strides' common divisor is 2: the odd step checks call the plain ones only.
    expect(counted.filter((e) => e.startsWith('every-'))).toEqual([
      'every-4@4',
      'every-6@6',
      'every-4@8',
      'every-10@10',
      'every-4@12',
      'every-6@12',
      'every-4@16',
      'every-6@18',
    ]);
    expect(counted.filter((e) => e.startsWith('plain-a'))).toHaveLength(18);
    expect(strided).toEqual(counted);
  });
});
