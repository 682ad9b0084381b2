import { MmsimError } from '@mmsim/runtime';
import { describe, expect, test } from 'vitest';
import { explore, formatFinding, replay } from '../src/index.js';
import { brokenLock, busyWait, transient } from './targets.js';

describe('other kinds of findings', () => {
  test('a task that throws is a crash finding, with the task named in the report', () => {
    const result = explore(transient(), { seed: 4, schedules: 200 });
    expect(result.kind).toBe('crash');
    const f = result.finding!;
    if (f.kind !== 'crash') throw new Error('not a crash');
    expect(f.error.code).toBe('TASK_CRASHED');
    expect(f.error.message).toContain('saw the transient state');
    const last = f.steps!.at(-1)!;
    expect(last.outcome).toBe('crashes');
    expect(last.task?.name).toBe('checker');
    expect(last.step).toBe(f.shape.steps);
    expect(formatFinding(f)).toMatch(/checker-2 on cpu 1: throws/);
    // The crash replays.
    expect(replay(transient(), result.replay!).finding).toEqual(f);
  });

  test('a busy-wait that never yields the CPU hits the step limit under DFS', () => {
    const result = explore(busyWait(), { strategy: 'dfs', maxSteps: 40 });
    expect(result.kind).toBe('step-limit');
    expect(result.finding!.shape.steps).toBe(40);
    expect(result.message).toContain('40 steps');
    // Random schedules let the setter run.
    expect(explore(busyWait(), { maxSteps: 1000, schedules: 50 }).found).toBe(false);
    // The token carries the step limit: replay needs no options.
    expect(replay(busyWait(), result.replay!).finding?.kind).toBe('step-limit');
  });

  test('the built-in runtime invariant catches a lock listed as held by a non-holder', () => {
    const result = explore(brokenLock(), { schedules: 1 });
    expect(result.invariant).toBe('held-locks-consistent');
    expect(result.message).toContain(
      'holder-1 lists bogus lock as held, but its holders are nobody',
    );
    const off = explore(brokenLock(), { schedules: 1, disable: ['held-locks-consistent'] });
    // Without it, the runtime's own exit check throws: a crash.
    expect(off.kind).toBe('crash');
    const f = off.finding!;
    if (f.kind !== 'crash') throw new Error('not a crash');
    expect(f.error.code).toBe('CONTRACT_VIOLATION');
  });

  test('extra invariants run after the target ones; a throwing check is a violation', () => {
    const result = explore(transient(), {
      schedules: 5,
      invariants: [
        {
          name: 'explodes',
          check: (phase) => {
            if (phase === 'step') throw new MmsimError('INVARIANT_VIOLATED', 'boom');
            return null;
          },
        },
      ],
    });
    expect(result.invariant).toBe('explodes');
    expect(result.message).toContain('threw boom');
    expect(result.finding!.shape.steps).toBe(1);
  });
});
