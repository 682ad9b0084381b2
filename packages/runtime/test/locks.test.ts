import { describe, expect, test } from 'vitest';
import {
  Completion,
  formatDeadlock,
  type KernelGen,
  Mutex,
  Runtime,
  RwSemaphore,
  Spinlock,
  type Task,
  WaitEntry,
  WaitQueue,
} from '../src/index.js';
import { abba } from './helpers.js';

describe('deadlock detection', () => {
  test('AB-BA over two mutexes is reported with its cycle', () => {
    // In-order never interleaves the two tasks, so it cannot deadlock.
    expect(abba({ strategy: 'in-order' }).status).toBe('completed');
    const seeds = Array.from({ length: 40 }, (_, i) => i + 1);
    const runs = seeds.map((seed) => abba({ strategy: 'random', seed }));
    const deadlocked = runs.find((r) => r.status === 'deadlock');
    expect(deadlocked).toBeDefined();
    expect(runs.some((r) => r.status === 'completed')).toBe(true);
    const report = deadlocked!.deadlock!;
    expect(report.cycle).toHaveLength(2);
    const [first, second] = report.cycle;
    expect(first!.task.name).toBe('ab');
    expect(first!.waitsIn).toBe('lock_second');
    expect(first!.resource).toBe('mutex B');
    expect(first!.heldBy.map((t) => t.name)).toEqual(['ba']);
    expect(second!.task.name).toBe('ba');
    expect(second!.resource).toBe('mutex A');
    expect(second!.heldBy.map((t) => t.name)).toEqual(['ab']);
    const text = formatDeadlock(report);
    expect(text).toContain('ab-1 [cpu 0] waits in lock_second for mutex B, held by ba-2 [cpu 1]');
    expect(text).toContain('ba-2 [cpu 1] waits in lock_second for mutex A, held by ab-1 [cpu 0]');
  });

  test('a lost wake-up is reported as sleeping tasks without a cycle', () => {
    const rt = new Runtime();
    const done = new Completion(rt, 'never signalled');
    rt.spawn('waiter', 0, function* (): KernelGen {
      yield* done.wait();
    });
    const result = rt.run();
    expect(result.status).toBe('deadlock');
    expect(result.deadlock!.cycle).toEqual([]);
    expect(result.deadlock!.blocked[0]!.waitsIn).toBe('wait_for_completion');
    expect(formatDeadlock(result.deadlock!)).toContain('no wait-for cycle');
  });

  test('relocking a mutex you hold is a cycle of one', () => {
    const rt = new Runtime();
    const m = new Mutex(rt, 'm');
    rt.spawn('self', 0, function* (): KernelGen {
      yield* m.lock();
      yield* m.lock();
    });
    const result = rt.run();
    expect(result.deadlock!.cycle.map((e) => e.task.name)).toEqual(['self']);
  });
});

describe('mutex', () => {
  test('waiters get the mutex in FIFO order, by hand-off', () => {
    const rt = new Runtime({ cpus: 4, strategy: 'in-order' });
    const m = new Mutex(rt, 'm');
    const order: string[] = [];
    for (let i = 0; i < 4; i++) {
      rt.spawn(`t${i}`, i, function* (task): KernelGen {
        yield* m.lock();
        order.push(task.name);
        yield;
        m.unlock();
      });
    }
    expect(rt.run().status).toBe('completed');
    expect(order).toEqual(['t0', 't1', 't2', 't3']);
    expect(m.owner).toBeNull();
  });

  test('unlock by a task that does not own it is a contract violation', () => {
    const rt = new Runtime({ cpus: 2 });
    const m = new Mutex(rt, 'm');
    rt.spawn('owner', 0, function* (): KernelGen {
      yield* m.lock();
      yield;
      m.unlock();
    });
    rt.spawn('thief', 1, function* (): KernelGen {
      m.unlock();
    });
    expect(() => rt.run()).toThrow(expect.objectContaining({ code: 'CONTRACT_VIOLATION' }));
  });

  test('a task that ends holding a mutex is reported', () => {
    const rt = new Runtime();
    const m = new Mutex(rt, 'leaked');
    rt.spawn('leaker', 0, function* (): KernelGen {
      yield* m.lock();
    });
    expect(() => rt.run()).toThrow(/ended holding leaked/);
  });
});

describe('rwsem', () => {
  test('readers share; a writer excludes readers; trylock fails under contention', () => {
    const rt = new Runtime({ cpus: 3, strategy: 'in-order' });
    const sem = new RwSemaphore(rt, 'sem');
    const seen: string[] = [];
    rt.spawn('reader1', 0, function* (): KernelGen {
      yield* sem.downRead();
      expect(sem.downReadTrylock()).toBe(true); // a second read hold, no waiters yet
      sem.upRead();
      seen.push(`r1 in, readers=${sem.readers.size}`);
      yield; // reader2 and the writer queue up meanwhile (in-order runs them at our sleep)
      yield* rt.sleepFor(10);
      seen.push(`r1 writer waiting=${sem.waiters}`);
      sem.upRead();
    });
    rt.spawn('writer', 1, function* (): KernelGen {
      expect(sem.downWriteTrylock()).toBe(false);
      yield* sem.downWrite();
      seen.push(`w in, readers=${sem.readers.size}`);
      expect(sem.downReadTrylock()).toBe(false);
      sem.upWrite();
    });
    rt.spawn('reader2', 2, function* (): KernelGen {
      // A reader arriving behind a queued writer must wait for it.
      expect(sem.downReadTrylock()).toBe(false);
      yield* sem.downRead();
      seen.push(`r2 in, writer=${sem.writer === null ? 'none' : sem.writer.name}`);
      sem.upRead();
    });
    expect(rt.run().status).toBe('completed');
    expect(seen).toEqual([
      'r1 in, readers=1',
      'r1 writer waiting=2',
      'w in, readers=0',
      'r2 in, writer=none',
    ]);
  });

  test('a released writer hands over to every queued reader at once', () => {
    const rt = new Runtime({ cpus: 3, strategy: 'in-order' });
    const sem = new RwSemaphore(rt, 'sem');
    let maxReaders = 0;
    rt.spawn('writer', 0, function* (): KernelGen {
      yield* sem.downWrite();
      yield* rt.sleepFor(100);
      sem.upWrite();
    });
    for (const name of ['r1', 'r2']) {
      rt.spawn(name, name === 'r1' ? 1 : 2, function* (): KernelGen {
        yield* sem.downRead();
        maxReaders = Math.max(maxReaders, sem.readers.size);
        yield;
        sem.upRead();
      });
    }
    expect(rt.run().status).toBe('completed');
    expect(maxReaders).toBe(2);
  });

  test('read holders: a sole reader, nested holds, a second reader and a downgrade keep count and order', () => {
    const rt = new Runtime({ cpus: 2, strategy: 'in-order' });
    const sem = new RwSemaphore(rt, 'sem');
    const seen: string[] = [];
    const state = () =>
      `${[...sem.readers].map(([t, n]) => `${t.name}:${n}`).join(',')} count=${sem.readerCount} held=${sem.holders().map((t) => t.name)}`;
    let a: Task | null = null;
    let b: Task | null = null;
    a = rt.spawn('a', 0, function* (): KernelGen {
      expect(sem.downReadTrylock()).toBe(true);
      expect(sem.downReadTrylock()).toBe(true);
      seen.push(state());
      expect(sem.holdsRead(a!)).toBe(true);
      expect(sem.holdsRead(b!)).toBe(false);
      yield* rt.sleepFor(1_000); // b gets in as a second reader
      seen.push(state());
      sem.upRead();
      sem.upRead();
      expect(sem.holdsRead(a!)).toBe(false);
      seen.push(state());
      yield* rt.sleepFor(1_000_000); // b releases; then a writes and downgrades
      yield* sem.downWrite();
      sem.downgradeWrite();
      seen.push(state());
      expect(rt.current.held.filter((l) => l === sem).length).toBe(1);
      sem.upRead();
      seen.push(state());
      expect(sem.downWriteTrylock()).toBe(true);
      sem.upWrite();
    });
    b = rt.spawn('b', 1, function* (): KernelGen {
      expect(sem.downReadTrylock()).toBe(true);
      yield* rt.sleepFor(100_000);
      expect(sem.holdsRead(b!)).toBe(true);
      sem.upRead();
      seen.push(state());
    });
    expect(rt.run().status).toBe('completed');
    expect(seen).toEqual([
      'a:2 count=1 held=a',
      'a:2,b:1 count=2 held=a,b',
      'b:1 count=1 held=b',
      ' count=0 held=',
      'a:1 count=1 held=a',
      ' count=0 held=',
    ]);
  });

  test('up_read without holding is a contract violation', () => {
    const rt = new Runtime();
    const sem = new RwSemaphore(rt, 'sem');
    rt.spawn('bad', 0, function* (): KernelGen {
      sem.upRead();
    });
    expect(() => rt.run()).toThrow(/without holding it for read/);
  });
});

describe('spinlock', () => {
  test('sleeping while holding a spinlock is a bug', () => {
    const rt = new Runtime();
    const lock = new Spinlock(rt, 'lru_lock');
    rt.spawn('holder', 0, function* (): KernelGen {
      yield* lock.lock();
      yield* rt.sleepFor(1);
    });
    expect(() => rt.run()).toThrow(expect.objectContaining({ code: 'SLEEP_IN_ATOMIC' }));
  });

  test('no other task runs on a CPU whose task holds a spinlock', () => {
    const rt = new Runtime({ cpus: 1, strategy: 'random', seed: 4 });
    const lock = new Spinlock(rt, 'l');
    const log: string[] = [];
    rt.spawn('holder', 0, function* (): KernelGen {
      yield* lock.lock();
      for (let i = 0; i < 5; i++) {
        log.push('h');
        yield;
      }
      lock.unlock();
      log.push('H');
    });
    rt.spawn('other', 0, function* (): KernelGen {
      for (let i = 0; i < 5; i++) {
        log.push('o');
        yield;
      }
    });
    rt.run();
    const text = log.join('');
    // Once the holder took the lock, its five critical-section steps run back to back.
    expect(text).toMatch(/hhhhh/);
  });

  test('contended spinners are served in FIFO order on other CPUs', () => {
    const rt = new Runtime({ cpus: 3, strategy: 'in-order' });
    const lock = new Spinlock(rt, 'l');
    const order: string[] = [];
    for (let i = 0; i < 3; i++) {
      rt.spawn(`c${i}`, i, function* (task): KernelGen {
        yield* lock.lock();
        order.push(task.name);
        yield;
        lock.unlock();
      });
    }
    expect(rt.run().status).toBe('completed');
    expect(order).toEqual(['c0', 'c1', 'c2']);
  });
});

describe('wait queues and completions', () => {
  test('wake_up wakes every shared waiter and one exclusive waiter', () => {
    const rt = new Runtime({ cpus: 4, strategy: 'in-order' });
    const wq = new WaitQueue(rt, 'wq');
    const res = { name: 'event', holders: () => [] };
    const woke: string[] = [];
    const sleeper = (exclusive: boolean) =>
      function* (task: { name: string }): KernelGen {
        wq.add(new WaitEntry(rt.current, exclusive));
        rt.blockCurrent('wait_event', res);
        yield;
        woke.push(task.name);
      };
    rt.spawn('ex1', 0, sleeper(true));
    rt.spawn('ex2', 1, sleeper(true));
    rt.spawn('sh1', 2, sleeper(false));
    rt.spawn('waker', 3, function* (): KernelGen {
      expect(wq.wakeUp(1)).toBe(2);
      yield;
      expect(wq.length).toBe(1);
      wq.wakeUpAll();
    });
    expect(rt.run().status).toBe('completed');
    expect(woke.sort()).toEqual(['ex1', 'ex2', 'sh1']);
  });

  test('a wake-up of one waiter walks only that waiter, whatever its wake function queues', () => {
    // The walk covers the entries queued when it began: an entry its one waiter's wake
    // function queues is not woken by the same wake-up; a negative return wakes nobody.
    const rt = new Runtime({ cpus: 2, strategy: 'in-order' });
    const wq = new WaitQueue(rt, 'wq');
    const seen: string[] = [];
    rt.spawn('waker', 0, function* (task): KernelGen {
      const later = new WaitEntry(task, false, (e) => {
        seen.push('later');
        e.queue?.remove(e);
        return 1;
      });
      const first = new WaitEntry(task, true, (e) => {
        seen.push('first');
        e.queue?.remove(e);
        wq.add(later);
        return 1;
      });
      wq.add(first);
      expect(wq.wakeUp(1)).toBe(1);
      expect(seen).toEqual(['first']);
      expect(wq.entries).toEqual([later]);
      expect(wq.wakeUp(1)).toBe(1);
      expect(seen).toEqual(['first', 'later']);
      expect(wq.wakeUp(1)).toBe(0);
      const stop = new WaitEntry(task, true, () => -1);
      wq.add(stop);
      expect(wq.wakeUp(1)).toBe(0);
      const none = new WaitEntry(task, false, () => 0);
      wq.remove(stop);
      wq.add(none);
      expect(wq.wakeUpAll()).toBe(0);
      yield;
    });
    expect(rt.run().status).toBe('completed');
  });

  test('a completion banks a complete() that comes before the wait', () => {
    const rt = new Runtime({ cpus: 2, strategy: 'in-order' });
    const c = new Completion(rt, 'io');
    const log: string[] = [];
    rt.spawn('completer', 0, function* (): KernelGen {
      c.complete();
      log.push('completed');
      yield;
    });
    rt.spawn('waiter', 1, function* (): KernelGen {
      yield* c.wait();
      log.push('passed');
      expect(c.tryWait()).toBe(false);
    });
    expect(rt.run().status).toBe('completed');
    expect(log).toEqual(['completed', 'passed']);
  });

  test('complete_all lets every present and future waiter through', () => {
    const rt = new Runtime({ cpus: 3, strategy: 'in-order' });
    const c = new Completion(rt, 'done');
    let passed = 0;
    for (let i = 0; i < 2; i++) {
      rt.spawn(`w${i}`, i, function* (): KernelGen {
        yield* c.wait();
        passed++;
      });
    }
    rt.spawn('all', 2, function* (): KernelGen {
      c.completeAll();
      yield;
      expect(c.tryWait()).toBe(true);
    });
    expect(rt.run().status).toBe('completed');
    expect(passed).toBe(2);
  });
});

describe('fatal signals', () => {
  test('a killable sleep ends on a fatal signal; an uninterruptible one does not', () => {
    const rt = new Runtime({ cpus: 3, strategy: 'in-order' });
    const never = new Completion(rt, 'never');
    const wq = new WaitQueue(rt, 'killable');
    const outcome: string[] = [];
    const killable = rt.spawn('killable', 0, function* (task): KernelGen {
      const entry = new WaitEntry(task, true);
      wq.addTail(entry);
      rt.blockCurrent('folio_lock_killable', never, true);
      yield;
      wq.remove(entry);
      outcome.push(`killable woke, signal=${task.fatalSignalPending}`);
    });
    const stubborn = rt.spawn('stubborn', 1, function* (): KernelGen {
      yield* never.wait();
      outcome.push('stubborn woke');
    });
    rt.spawn('killer', 2, function* (): KernelGen {
      rt.sendFatalSignal(killable);
      rt.sendFatalSignal(stubborn);
    });
    const result = rt.run();
    expect(outcome).toEqual(['killable woke, signal=true']);
    expect(wq.length).toBe(0);
    expect(result.status).toBe('deadlock');
    expect(result.deadlock!.blocked.map((e) => e.task.name)).toEqual(['stubborn']);
  });
});

test('a killable sleep with a fatal signal already pending does not sleep', () => {
  const rt = new Runtime();
  const never = new Completion(rt, 'never');
  let sawSignal = false;
  rt.spawn('doomed', 0, function* (task): KernelGen {
    rt.sendFatalSignal(task);
    rt.blockCurrent('folio_lock_killable', never, true);
    yield;
    sawSignal = task.fatalSignalPending;
  });
  expect(rt.run().status).toBe('completed');
  expect(sawSignal).toBe(true);
  expect(rt.taskById(1)?.name).toBe('doomed');
  expect(rt.taskById(2)).toBeUndefined();
});
