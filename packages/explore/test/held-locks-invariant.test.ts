import {
  type KernelGen,
  Mutex,
  type Resource,
  Runtime,
  RwSemaphore,
  type Task,
} from '@mmsim/runtime';
import { describe, expect, test } from 'vitest';
import { HELD_LOCKS_CONSISTENT, runtimeInvariants } from '../src/index.js';

/** A resource whose holders are the tasks listed (neither a mutex nor an rwsem). */
function resource(name: string, holders: Task[]): Resource {
  return { name, holders: () => holders };
}

describe('held-locks-consistent walks every task and every lock it lists', () => {
  test('a bogus lock listed after legal ones, by the last task, is caught; legal lists pass', () => {
    const rt = new Runtime({ cpus: 2 });
    const body = function* (): KernelGen {};
    const first = rt.spawn('first', 0, body);
    rt.spawn('idle', 1, body);
    const last = rt.spawn('last', 1, body);
    const inv = runtimeInvariants(rt).find((i) => i.name === HELD_LOCKS_CONSISTENT)!;
    expect(inv.check('step')).toBeNull();
    // Legal: two tasks list locks they hold, the last one several.
    first.hold(resource('lock a', [first]));
    last.hold(resource('lock b', [last, first]));
    last.hold(resource('lock c', [last]));
    expect(inv.check('step')).toBeNull();
    // The third lock of the last task names another holder: caught.
    last.hold(resource('lock d', [first]));
    expect(inv.check('step')).toBe('last-3 lists lock d as held, but its holders are first-1');
    // Released again: legal.
    last.release(last.held[2]!);
    expect(inv.check('step')).toBeNull();
  });
});

describe('held-locks-consistent skips its walk only while no holder can have changed', () => {
  function setUp() {
    const rt = new Runtime({ cpus: 2 });
    const body = function* (): KernelGen {};
    const first = rt.spawn('first', 0, body);
    const last = rt.spawn('last', 1, body);
    const inv = runtimeInvariants(rt).find((i) => i.name === HELD_LOCKS_CONSISTENT)!;
    return { rt, first, last, inv };
  }

  test("a mutex's or an rwsem's holder written straight after a passing check is caught", () => {
    const { rt, first, last, inv } = setUp();
    const mutex = new Mutex(rt, 'mutex m');
    const sem = new RwSemaphore(rt, 'sem s');
    mutex.owner = first;
    first.hold(mutex);
    sem.writer = last;
    last.hold(sem);
    // Legal, checked again and again with nothing changed.
    for (let i = 0; i < 3; i++) expect(inv.check('step')).toBeNull();
    mutex.owner = last;
    expect(inv.check('step')).toBe('first-1 lists mutex m as held, but its holders are last-2');
    mutex.owner = first;
    expect(inv.check('step')).toBeNull();
    expect(inv.check('step')).toBeNull();
    sem.writer = first;
    expect(inv.check('step')).toBe('last-2 lists sem s as held, but its holders are first-1');
    sem.writer = last;
    expect(inv.check('step')).toBeNull();
  });

  test('a resource of its own, whose holders change with no lock operation, is caught', () => {
    const { first, last, inv } = setUp();
    const holders: Task[] = [first];
    first.hold({ name: 'own lock', holders: () => holders });
    expect(inv.check('step')).toBeNull();
    expect(inv.check('step')).toBeNull();
    holders[0] = last;
    expect(inv.check('step')).toBe('first-1 lists own lock as held, but its holders are last-2');
    holders[0] = first;
    expect(inv.check('step')).toBeNull();
  });

  test('a subclass of a counted lock with holder state of its own is read at every check', () => {
    const { rt, first, last, inv } = setUp();
    class Borrowed extends Mutex {
      lender: Task | null = null;
      override holders(): readonly Task[] {
        return this.lender === null ? [] : [this.lender];
      }
    }
    const lock = new Borrowed(rt, 'borrowed');
    // Its owner is what `holds` reads: made to follow `lender` through a getter of its own.
    Object.defineProperty(lock, 'owner', { get: () => lock.lender });
    lock.lender = first;
    first.hold(lock);
    expect(inv.check('step')).toBeNull();
    expect(inv.check('step')).toBeNull();
    lock.lender = last;
    expect(inv.check('step')).toBe('first-1 lists borrowed as held, but its holders are last-2');
  });
});
