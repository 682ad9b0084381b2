import { type KernelGen, Mutex, Runtime, type Task } from '@mmsim/runtime';
import {
  type ExplorationTarget,
  endInvariant,
  type InstanceOptions,
  stepInvariant,
} from '../src/index.js';

/** Counts what the targets did, so a test can tell that nothing ran. */
export const counters = { instances: 0, taskSteps: 0 };

/**
 * Two tasks on two CPUs take two mutexes with a yield in between: in opposite orders
 * (AB-BA, which deadlocks under some interleavings) or in the same order (never).
 */
export function abba(order: 'opposite' | 'same' = 'opposite'): ExplorationTarget {
  return {
    name: `ab-ba-${order}`,
    instantiate(options: InstanceOptions) {
      counters.instances++;
      const rt = new Runtime({ cpus: 2, ...options.runtime });
      const a = new Mutex(rt, 'mutex A');
      const b = new Mutex(rt, 'mutex B');
      const take = (first: Mutex, second: Mutex) =>
        function* (): KernelGen {
          counters.taskSteps++;
          yield* first.lock('lock_first');
          yield;
          yield* second.lock('lock_second');
          yield;
          second.unlock();
          first.unlock();
        };
      rt.spawn('ab', 0, take(a, b));
      rt.spawn('ba', 1, order === 'opposite' ? take(b, a) : take(a, b));
      return { rt, invariants: [] };
    },
  };
}

export const COUNTER_INVARIANT = 'counter-equals-increments';

/**
 * Two incrementers read a shared counter, yield, and write it back plus one (a lost
 * update when they interleave), with some unrelated work around; a third task only does
 * unrelated work. The invariant: the counter equals the increments done so far.
 */
export function lostUpdate(): ExplorationTarget {
  return {
    name: 'lost-update',
    instantiate(options: InstanceOptions) {
      counters.instances++;
      const rt = new Runtime({ cpus: 3, ...options.runtime });
      const read = rt.trace.define<{ value: number }>('inc_read');
      const write = rt.trace.define<{ value: number }>('inc_write');
      const state = { counter: 0, increments: 0 };
      const incrementer = function* (): KernelGen {
        for (let i = 0; i < 2; i++) {
          yield; // unrelated work
          const seen = state.counter;
          if (read.enabled) read.emit({ value: seen });
          yield; // another CPU may interleave between the read and the write
          state.counter = seen + 1;
          state.increments++;
          if (write.enabled) write.emit({ value: seen + 1 });
        }
      };
      rt.spawn('inc', 0, incrementer);
      rt.spawn('inc', 1, incrementer);
      rt.spawn('noise', 2, function* (): KernelGen {
        for (let i = 0; i < 4; i++) yield;
      });
      const invariant = stepInvariant(COUNTER_INVARIANT, () =>
        state.counter === state.increments
          ? null
          : `counter is ${state.counter} after ${state.increments} increments`,
      );
      return { rt, invariants: [invariant] };
    },
  };
}

/** A task that throws when it sees another task's transient state. */
export function transient(): ExplorationTarget {
  return {
    name: 'transient',
    instantiate(options: InstanceOptions) {
      counters.instances++;
      const rt = new Runtime({ cpus: 2, ...options.runtime });
      const state = { busy: false };
      rt.spawn('setter', 0, function* (): KernelGen {
        state.busy = true;
        yield;
        state.busy = false;
      });
      rt.spawn('checker', 1, function* (): KernelGen {
        yield;
        if (state.busy) throw new Error('saw the transient state');
      });
      return { rt, invariants: [] };
    },
  };
}

/** A busy-wait: the waiter yields until a flag is set, which keeps it runnable forever under "keep running". */
export function busyWait(): ExplorationTarget {
  return {
    name: 'busy-wait',
    instantiate(options: InstanceOptions) {
      const rt = new Runtime({ cpus: 2, ...options.runtime });
      const state = { flag: false };
      rt.spawn('waiter', 0, function* (): KernelGen {
        while (!state.flag) yield;
      });
      rt.spawn('setter', 1, function* (): KernelGen {
        yield;
        state.flag = true;
      });
      return { rt, invariants: [] };
    },
  };
}

/** `tasks` tasks on their own CPUs, each yielding `steps` times: only interleavings differ. */
export function independent(tasks: number, steps: number): ExplorationTarget {
  return {
    name: `independent-${tasks}x${steps}`,
    instantiate(options: InstanceOptions) {
      const rt = new Runtime({ cpus: tasks, ...options.runtime });
      for (let i = 0; i < tasks; i++) {
        rt.spawn(`t${i}`, i, function* (): KernelGen {
          for (let s = 0; s < steps; s++) yield;
        });
      }
      return { rt, invariants: [] };
    },
  };
}

/**
 * A task that lists a lock as held without being its holder (a broken custom lock), and
 * ends with it listed.
 */
export function brokenLock(): ExplorationTarget {
  return {
    name: 'broken-lock',
    instantiate(options: InstanceOptions) {
      const rt = new Runtime({ cpus: 1, ...options.runtime });
      const bogus = { name: 'bogus lock', holders: (): readonly Task[] => [] };
      rt.spawn('holder', 0, function* (task): KernelGen {
        task.hold(bogus);
        yield;
      });
      return { rt, invariants: [endInvariant('never-fails', () => null)] };
    },
  };
}

/** A task whose allocation may fail at the fault site `alloc_fail`; failing is a crash. */
export function faulty(): ExplorationTarget {
  return {
    name: 'faulty',
    instantiate(options: InstanceOptions) {
      const rt = new Runtime({ cpus: 1, ...options.runtime });
      const site = rt.faults.register('alloc_fail', 'the allocation fails');
      rt.spawn('allocator', 0, function* (): KernelGen {
        for (let i = 0; i < 3; i++) {
          yield;
          if (site.fire()) throw new Error(`allocation ${i + 1} failed`);
        }
      });
      return { rt, invariants: [] };
    },
  };
}
