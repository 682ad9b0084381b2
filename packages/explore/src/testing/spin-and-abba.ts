import { type KernelGen, Mutex, Runtime } from '@mmsim/runtime';
import type { ExplorationTarget, InstanceOptions } from '../target.js';

/**
 * A target whose random schedules meet step-limit runs, deadlocks and clean runs, each
 * depending on the schedule only: a waiter yields until a setter has run (so a schedule
 * that keeps running the waiter passes a small step limit), beside two tasks taking two
 * mutexes in opposite orders (a deadlock under some interleavings). For tests of how an
 * explorer reports step-limit runs apart from findings.
 */
export function spinAndAbba(): ExplorationTarget {
  return {
    name: 'spin-and-ab-ba',
    instantiate(options: InstanceOptions) {
      const rt = new Runtime({ cpus: 4, ...options.runtime });
      const state = { flag: false };
      rt.spawn('waiter', 0, function* (): KernelGen {
        while (!state.flag) yield;
      });
      rt.spawn('setter', 1, function* (): KernelGen {
        for (let i = 0; i < 3; i++) yield;
        state.flag = true;
      });
      const a = new Mutex(rt, 'mutex A');
      const b = new Mutex(rt, 'mutex B');
      const take = (first: Mutex, second: Mutex) =>
        function* (): KernelGen {
          yield* first.lock('lock_first');
          yield;
          yield* second.lock('lock_second');
          second.unlock();
          first.unlock();
        };
      rt.spawn('ab', 2, take(a, b));
      rt.spawn('ba', 3, take(b, a));
      return { rt, invariants: [] };
    },
  };
}
