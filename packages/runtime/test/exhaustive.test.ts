import { expect, test } from 'vitest';
import { exploreExhaustively, type KernelGen, Mutex, Runtime } from '../src/index.js';

test('every interleaving of two 2-step tasks is run exactly once', () => {
  const orders = new Set<string>();
  let runs = 0;
  const result = exploreExhaustively((strategy) => {
    const rt = new Runtime({ cpus: 2, strategy });
    const log: string[] = [];
    for (const name of ['a', 'b']) {
      rt.spawn(name, name === 'a' ? 0 : 1, function* (): KernelGen {
        log.push(`${name}1`);
        yield;
        log.push(`${name}2`);
      });
    }
    rt.run();
    runs++;
    orders.add(log.join(' '));
  });
  expect(result.complete).toBe(true);
  expect(result.schedules).toBe(runs);
  // The interleavings of a1<a2 and b1<b2: C(4,2) = 6, each exactly once.
  expect(orders.size).toBe(6);
  expect(runs).toBe(6);
});

test('exhaustive search finds the AB-BA deadlock and the schedules that avoid it', () => {
  let deadlocks = 0;
  let completed = 0;
  const result = exploreExhaustively((strategy) => {
    const rt = new Runtime({ cpus: 2, strategy });
    const a = new Mutex(rt, 'A');
    const b = new Mutex(rt, 'B');
    const both = (x: Mutex, y: Mutex) =>
      function* (): KernelGen {
        yield* x.lock();
        yield;
        yield* y.lock();
        y.unlock();
        x.unlock();
      };
    rt.spawn('ab', 0, both(a, b));
    rt.spawn('ba', 1, both(b, a));
    const r = rt.run();
    if (r.status === 'deadlock') deadlocks++;
    else completed++;
  });
  expect(result.complete).toBe(true);
  expect(deadlocks).toBeGreaterThan(0);
  expect(completed).toBeGreaterThan(0);
});

test('the schedule bound stops the search and says so', () => {
  const result = exploreExhaustively(
    (strategy) => {
      const rt = new Runtime({ cpus: 3, strategy });
      for (let t = 0; t < 3; t++) {
        rt.spawn(`t${t}`, t, function* (): KernelGen {
          for (let i = 0; i < 4; i++) yield;
        });
      }
      rt.run();
    },
    { maxSchedules: 10 },
  );
  expect(result).toEqual({ schedules: 10, complete: false });
});
