import { type KernelGen, MmsimError, Mutex, Runtime, RwSemaphore } from '@mmsim/runtime';
import { describe, expect, test } from 'vitest';
import {
  type ExplorationTarget,
  explore,
  formatFinding,
  type InstanceOptions,
  replay,
} from '../src/index.js';
import { abba, brokenLock, busyWait, transient } from './targets.js';

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

  test('held-locks-consistent reads a mutex owner: a task listing a mutex another task owns fails', () => {
    // A mutex is read through its owner, without holders(): this catches a shortcut that
    // took "owned by someone" for "owned by this task".
    const stolen: ExplorationTarget = {
      name: 'stolen-mutex',
      instantiate(options: InstanceOptions) {
        const rt = new Runtime({ cpus: 2, ...options.runtime });
        const m = new Mutex(rt, 'the mutex');
        let stolen = false;
        rt.spawn('owner', 0, function* (): KernelGen {
          yield* m.lock();
          while (!stolen) yield;
          m.unlock();
        });
        rt.spawn('thief', 1, function* (task): KernelGen {
          while (m.owner === null) yield;
          task.hold(m);
          yield;
          task.release(m);
          stolen = true;
        });
        return { rt, invariants: [] };
      },
    };
    const result = explore(stolen, { schedules: 1 });
    expect(result.invariant).toBe('held-locks-consistent');
    expect(result.message).toContain(
      'thief-2 lists the mutex as held, but its holders are owner-1',
    );
    // The owner listing the mutex it owns is consistent: no finding without the thief.
    const honest = explore(abba('same'), { schedules: 50 });
    expect(honest.found).toBe(false);
  });

  test('held-locks-consistent reads an rwsem writer and readers: a task listing a rwsem others hold fails', () => {
    // An rwsem is read through its writer and readers, without holders(): this catches a
    // shortcut that took "held for read by someone" (or "written by someone") for "held by
    // this task", and one that rejected a legal state (two readers, or a sole reader).
    const listing = (mode: 'read' | 'write' | 'both-read'): ExplorationTarget => ({
      name: `rwsem-${mode}`,
      instantiate(options: InstanceOptions) {
        const rt = new Runtime({ cpus: 2, ...options.runtime });
        const sem = new RwSemaphore(rt, 'the rwsem');
        let done = false;
        rt.spawn('holder', 0, function* (): KernelGen {
          if (mode === 'write') yield* sem.downWrite();
          else yield* sem.downRead();
          while (!done) yield;
          if (mode === 'write') sem.upWrite();
          else sem.upRead();
        });
        rt.spawn('other', 1, function* (task): KernelGen {
          while (sem.writer === null && sem.readerCount === 0) yield;
          if (mode === 'both-read') {
            yield* sem.downRead();
            yield;
            sem.upRead();
          } else {
            task.hold(sem);
            yield;
            task.release(sem);
          }
          done = true;
        });
        return { rt, invariants: [] };
      },
    });
    for (const mode of ['read', 'write'] as const) {
      const result = explore(listing(mode), { schedules: 1 });
      expect(result.invariant).toBe('held-locks-consistent');
      expect(result.message).toContain(
        'other-2 lists the rwsem as held, but its holders are holder-1',
      );
    }
    // Two readers, each listing the rwsem it holds for read: consistent at every step.
    expect(explore(listing('both-read'), { schedules: 50 }).found).toBe(false);
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
