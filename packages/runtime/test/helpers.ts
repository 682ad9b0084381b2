import { type KernelGen, Mutex, Runtime, type RuntimeConfig } from '../src/index.js';

/** Two tasks that each take both mutexes, in opposite orders, with a yield in between. */
export function abba(config: RuntimeConfig) {
  const rt = new Runtime({ cpus: 2, ...config });
  const a = new Mutex(rt, 'mutex A');
  const b = new Mutex(rt, 'mutex B');
  const take = (first: Mutex, second: Mutex) =>
    function* (): KernelGen {
      yield* first.lock();
      yield;
      yield* second.lock('lock_second');
      second.unlock();
      first.unlock();
    };
  rt.spawn('ab', 0, take(a, b));
  rt.spawn('ba', 1, take(b, a));
  return rt.run();
}

/** Tasks that each append their id to a shared log `steps` times, yielding between. */
export function interleaving(config: RuntimeConfig, tasks = 3, steps = 3) {
  const rt = new Runtime({ cpus: tasks, ...config });
  const log: number[] = [];
  for (let i = 0; i < tasks; i++) {
    rt.spawn(`t${i}`, i, function* (task): KernelGen {
      for (let s = 0; s < steps; s++) {
        log.push(task.id);
        yield;
      }
    });
  }
  const result = rt.run();
  return { result, log };
}
