import { type KernelGen, type RunResult, Runtime, Spinlock } from '@mmsim/runtime';
import { describe, expect, test } from 'vitest';
import { HELD_LOCKS_CONSISTENT, QUIESCENT_AT_END, runtimeInvariants } from '../src/index.js';

const FAKE_RESULT = {} as RunResult;

describe('quiescent-at-end names every task and CPU left busy, in order', () => {
  test('a sleeper, a runnable task, a held lock, preemption off and a CPU kept: all listed', () => {
    const rt = new Runtime({ cpus: 3 });
    const inv = runtimeInvariants(rt).find((i) => i.name === QUIESCENT_AT_END)!;
    const lock = new Spinlock(rt, 'lock L');
    const observed: (string | null)[] = [];
    rt.spawn('done', 0, function* (): KernelGen {});
    rt.spawn('sleeper', 1, function* (): KernelGen {
      rt.blockCurrent('wait_event', { name: 'wq W', holders: () => [] });
      yield;
    });
    rt.spawn('spinner', 2, function* (): KernelGen {
      yield* lock.lock();
      yield;
      // Checked in this task's last step: it holds the lock with preemption off, and its
      // CPU is kept for it since the step before; the sleeper sleeps; the first task is done.
      observed.push(inv.check('end', FAKE_RESULT));
      lock.unlock();
    });
    const result = rt.run();
    expect(result.status).toBe('deadlock');
    expect(observed).toEqual([
      'all tasks finished, but sleeper-2 sleeps in wait_event on wq W; spinner-3 is still ' +
        'runnable; spinner-3 holds lock L; spinner-3 has preempt_count 1; cpu 2 still runs ' +
        'spinner-3 with preemption off',
    ]);
    // After the run: the sleeper is still asleep, every other task done.
    expect(inv.check('end', FAKE_RESULT)).toBe(
      'all tasks finished, but sleeper-2 sleeps in wait_event on wq W',
    );
  });

  test('every task done and nothing held: it passes; at a step it says nothing', () => {
    const rt = new Runtime({ cpus: 2 });
    const inv = runtimeInvariants(rt).find((i) => i.name === QUIESCENT_AT_END)!;
    const lock = new Spinlock(rt, 'lock L');
    for (let i = 0; i < 3; i++) {
      rt.spawn(`t${i}`, i % 2, function* (): KernelGen {
        yield* lock.lock();
        yield;
        lock.unlock();
      });
    }
    expect(rt.run().status).toBe('completed');
    expect(inv.check('end', FAKE_RESULT)).toBeNull();
    expect(inv.check('step')).toBeNull();
  });
});

describe('held-locks-consistent is a step invariant written out', () => {
  test('it answers at the end as at a step', () => {
    const rt = new Runtime({ cpus: 1 });
    const task = rt.spawn('t', 0, function* (): KernelGen {});
    const inv = runtimeInvariants(rt).find((i) => i.name === HELD_LOCKS_CONSISTENT)!;
    expect(inv.endOnly).toBeUndefined();
    task.hold({ name: 'lock X', holders: () => [] });
    const message = 't-1 lists lock X as held, but its holders are nobody';
    expect(inv.check('step')).toBe(message);
    expect(inv.check('end', FAKE_RESULT)).toBe(message);
  });
});
