import { describe, expect, test } from 'vitest';
import {
  heldLocksEpoch,
  type KernelGen,
  Mutex,
  type Resource,
  Runtime,
  RwSemaphore,
  Spinlock,
  type Task,
} from '../src/index.js';

/** Whether `change` moved `heldLocksEpoch`. */
function moves(change: () => void): boolean {
  const before = heldLocksEpoch();
  change();
  return heldLocksEpoch() !== before;
}

describe('heldLocksEpoch moves with every change of who holds a runtime lock', () => {
  test('lock methods, hand-offs, a downgrade and writes straight at the holder properties', () => {
    const rt = new Runtime({ cpus: 2 });
    const spin = new Spinlock(rt, 'spin');
    const mutex = new Mutex(rt, 'mutex');
    const sem = new RwSemaphore(rt, 'sem');
    const seen: [string, boolean][] = [];
    const note = (what: string, change: () => void): void => {
      seen.push([what, moves(change)]);
    };
    let other: Task | null = null;
    rt.spawn('a', 0, function* (): KernelGen {
      note('spin trylock', () => spin.trylock());
      note('spin unlock', () => spin.unlock());
      note('mutex trylock', () => mutex.trylock());
      yield* rt.sleepFor(100); // b queues on the mutex
      note('mutex unlock hands it to b', () => mutex.unlock());
      note('down_write', () => sem.downWriteTrylock());
      note('downgrade_write', () => sem.downgradeWrite());
      note('up_read', () => sem.upRead());
      note('down_read', () => sem.downReadTrylock());
      yield* rt.sleepFor(100); // b reads too
      note('up_read with another reader', () => sem.upRead());
      note('owner written straight', () => {
        spin.owner = other;
      });
      note('owner written back', () => {
        spin.owner = null;
      });
      note('writer written straight', () => {
        sem.writer = other;
      });
      note('writer written back', () => {
        sem.writer = null;
      });
    });
    rt.spawn('b', 1, function* (task): KernelGen {
      other = task;
      yield* mutex.lock();
      mutex.unlock();
      expect(sem.downReadTrylock()).toBe(true);
      yield* rt.sleepFor(1000);
      sem.upRead();
    });
    // In order: a runs until it sleeps, then b.
    expect(rt.run().status).toBe('completed');
    expect(seen.filter(([, moved]) => !moved).map(([what]) => what)).toEqual([]);
    expect(seen).toHaveLength(13);
    expect(seen[8]).toEqual(['up_read with another reader', true]);
  });

  test('Task.hold and Task.release of any resource; reads move nothing', () => {
    const rt = new Runtime({ cpus: 1 });
    const task = rt.spawn('t', 0, function* (): KernelGen {});
    const r: Resource = { name: 'r', holders: () => [task] };
    expect(moves(() => task.hold(r))).toBe(true);
    expect(moves(() => task.held.length)).toBe(false);
    expect(moves(() => task.release(r))).toBe(true);
    expect(task.held).toEqual([]);
  });
});
